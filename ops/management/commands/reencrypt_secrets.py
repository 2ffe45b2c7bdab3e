"""Re-encrypt every stored secret under the newest Fernet key (the first of FERNET_KEYS).

Rotation (README "Rotating FERNET_KEYS"): put the new key first, keep the old ones after it, deploy; run this
command; run it again with `--check` - it must report every value readable by the newest key alone; then drop the
old keys and deploy again.

What it covers: every field encrypted under FERNET_KEYS (accounts.fields.SecretTextField and any other
django-fernet-fields field: exchange API keys, route secrets' sealed copies) and the TOTP / recovery-code seeds
allauth.mfa keeps (trader.auth.MFAAdapter). It works on the ciphertext as stored (`MultiFernet.rotate`), so a
value no configured key opens is reported and left exactly as it was - never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from fernet_fields import hkdf
from fernet_fields.fields import EncryptedField

# allauth.mfa Authenticator.data keys whose values MFAAdapter.encrypt wrote.
MFA_ENCRYPTED_KEYS = ("secret", "seed")


@dataclass
class Tally:
    rotated: int = 0
    already_newest: int = 0
    unreadable: list[str] = field(default_factory=list)


def fernets() -> tuple[Fernet, MultiFernet]:
    """(the newest key alone, all keys) - derived exactly as django-fernet-fields derives them."""
    keys = [
        hkdf.derive_fernet_key(k) if getattr(settings, "FERNET_USE_HKDF", True) else k for k in settings.FERNET_KEYS
    ]
    return Fernet(keys[0]), MultiFernet([Fernet(k) for k in keys])


def encrypted_columns() -> list[tuple[str, str, str, str]]:
    """(label, table, primary-key column, column) of every encrypted model field."""
    found = []
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if isinstance(f, EncryptedField):
                found.append((f"{model._meta.label}.{f.name}", model._meta.db_table, model._meta.pk.column, f.column))
    return found


def rotate_token(token: bytes, newest: Fernet, every: MultiFernet, tally: Tally, where: str, *, check: bool) -> bytes:
    try:
        newest.decrypt(token)
        tally.already_newest += 1
        return token
    except InvalidToken:
        pass
    try:
        rotated = every.rotate(token)
    except InvalidToken:
        tally.unreadable.append(where)
        return token
    tally.rotated += 1  # re-encrypted, or (with --check) in need of it
    return rotated


class Command(BaseCommand):
    help = "Re-encrypt stored secrets under the first of FERNET_KEYS; --check only reports."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--check", action="store_true", help="change nothing; fail unless all use the newest key")

    def handle(self, *args: object, **options: object) -> None:
        check = bool(options["check"])
        newest, every = fernets()
        tally = Tally()
        with transaction.atomic():
            for column in encrypted_columns():
                self._column(column, newest, every, tally, check=check)
            self._mfa(newest, every, tally, check=check)
        verb = "need re-encryption" if check else "re-encrypted"
        self.stdout.write(
            f"{tally.rotated} {verb}, {tally.already_newest} already under the newest key, "
            f"{len(tally.unreadable)} unreadable with FERNET_KEYS"
        )
        for where in tally.unreadable[:20]:
            self.stderr.write(f"unreadable: {where}")
        if tally.unreadable or (check and tally.rotated):
            raise CommandError("some stored secrets are not readable by the newest key alone")

    def _column(self, where, newest, every, tally, *, check):  # type: ignore[no-untyped-def]
        label, table, pk, column = where
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {quote(pk)}, {quote(column)} FROM {quote(table)} WHERE {quote(column)} IS NOT NULL")  # noqa: S608
            rows = cursor.fetchall()
        for key, value in rows:
            token = bytes(value)
            rotated = rotate_token(token, newest, every, tally, f"{label} pk={key}", check=check)
            if rotated != token and not check:
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE {quote(pk)} = %s",  # noqa: S608
                        [connection.Database.Binary(rotated), key],
                    )

    def _mfa(self, newest, every, tally, *, check):  # type: ignore[no-untyped-def]
        if not apps.is_installed("allauth.mfa") or "MFAAdapter" not in getattr(settings, "MFA_ADAPTER", ""):
            return
        from allauth.mfa.models import Authenticator

        for authenticator in Authenticator.objects.all():
            data = dict(authenticator.data)
            changed = False
            for name in MFA_ENCRYPTED_KEYS:
                if isinstance(data.get(name), str):
                    token = data[name].encode()
                    where = f"mfa.Authenticator.data[{name}] pk={authenticator.pk}"
                    rotated = rotate_token(token, newest, every, tally, where, check=check)
                    if rotated != token and not check:
                        data[name], changed = rotated.decode(), True
            if changed:
                Authenticator.objects.filter(pk=authenticator.pk).update(data=data)
