from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from fernet_fields import EncryptedTextField

# What an undecryptable value reads as. Loading a row must never crash because FERNET_KEYS lost the key its secret
# was written under: the row stays usable (admin, listings) and only `credentials()` refuses.
UNREADABLE = "\x00unreadable\x00"


class SecretTextField(EncryptedTextField):
    """Text encrypted under FERNET_KEYS (django-fernet-fields), reading as UNREADABLE when no key opens it."""

    def from_db_value(self, value: Any, expression: Any, connection: Any, *args: Any) -> Any:
        try:
            return super().from_db_value(value, expression, connection, *args)
        except InvalidToken:
            return UNREADABLE
