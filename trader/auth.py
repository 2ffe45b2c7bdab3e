"""allauth hooks: where sign-up, login and two-factor authentication differ from allauth's defaults."""

from __future__ import annotations

from allauth.mfa.adapter import DefaultMFAAdapter

from accounts.fields import SecretTextField

# One field instance only for its Fernet (FERNET_KEYS, HKDF-derived, MultiFernet when rotating): TOTP seeds and
# recovery-code seeds are encrypted exactly like exchange keys, never under SECRET_KEY.
_CIPHER = SecretTextField()


class MFAAdapter(DefaultMFAAdapter):
    """allauth stores the TOTP seed as given unless the adapter encrypts it; a database dump must not be enough to
    generate someone's codes."""

    def encrypt(self, text: str) -> str:
        return _CIPHER.fernet.encrypt(text.encode()).decode()

    def decrypt(self, encrypted_text: str) -> str:
        return _CIPHER.fernet.decrypt(encrypted_text.encode()).decode()
