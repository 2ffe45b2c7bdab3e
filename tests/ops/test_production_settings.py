"""Issue 10 holes 2 and 6: production refuses to start without real e-mail (or says loudly that it is off), and
`manage.py check --deploy --fail-level WARNING` passes with production settings. Each runs `manage.py` in a
process of its own with the environment a deployment has (no ORDERRAIL_TESTING)."""

from __future__ import annotations

import pytest

from tests.ops.production import manage, production_env

pytestmark = pytest.mark.slow


def test_check_deploy_passes_with_production_settings():
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_names_what_an_operator_left_out():
    # HSTS preload is an explicit choice, so it is an environment variable - and the check says when it is missing.
    env = production_env()
    del env["SECURE_HSTS_PRELOAD"]
    result = manage(["check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode != 0 and "security.W021" in result.stderr


@pytest.mark.parametrize(
    "email", [{}, {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}], ids=["unset", "console"]
)
def test_production_refuses_to_start_without_a_real_email_configuration(email):
    env = production_env(**email)
    del env["EMAIL_URL"]
    result = manage(["check"], env)
    assert result.returncode != 0
    assert "E-mail is not configured" in result.stderr


def test_email_off_is_allowed_when_asked_for_and_said_loudly():
    env = production_env(EMAIL_OFF="1")
    del env["EMAIL_URL"]
    result = manage(["check"], env)
    assert result.returncode == 0, result.stderr
    assert "E-MAIL IS OFF" in result.stderr
    shell = manage(["shell", "-c", "from django.conf import settings; print(settings.EMAIL_BACKEND)"], env)
    assert shell.stdout.splitlines()[-1] == "django.core.mail.backends.dummy.EmailBackend"


def test_email_url_configures_smtp():
    shell = manage(
        ["shell", "-c", "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_USE_TLS)"],
        production_env(),
    )
    assert shell.stdout.splitlines()[-1].split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        "True",
    ]
