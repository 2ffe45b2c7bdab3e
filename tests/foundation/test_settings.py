from __future__ import annotations

from django.conf import settings


def test_django_q_uses_the_orm_broker_with_retry_well_above_timeout() -> None:
    q = settings.Q_CLUSTER
    assert q["orm"] == "default"
    assert q["retry"] >= 2 * q["timeout"]


def test_fernet_keys_are_not_the_secret_key() -> None:
    assert settings.FERNET_KEYS
    assert settings.SECRET_KEY not in settings.FERNET_KEYS


def test_custom_user_model_is_in_use() -> None:
    assert settings.AUTH_USER_MODEL == "accounts.User"
