"""FERNET_KEYS rotation with `manage.py reencrypt_secrets` (DESIGN reliability table row 17): rows written under K1;
deploy [K2, K1] - everything still decrypts; re-encrypt; deploy [K2] - 100 % decrypt. Each "deploy" is a process of
its own with that FERNET_KEYS, on the test database."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from accounts.models import ExchangeAccount
from routing.models import Route
from tests.routing.conftest import CANARY_ROUTE_SECRET, TRADER_SECRET
from tests.stack import ROOT, database_url, stack_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

K1 = "rotation-test-key-one-4f8a2c"
K2 = "rotation-test-key-two-9d1e7b"

READ_ALL = f"""
from accounts.models import CredentialsUnreadable, ExchangeAccount
from routing.models import Route
def secret(account):
    try:
        return account.credentials()[1]
    except CredentialsUnreadable:
        return None
keys = [secret(a) for a in ExchangeAccount.objects.order_by("pk")]
secrets = [r.sealed_secret() for r in Route.objects.order_by("pk")]
print("READ", sum(k == {TRADER_SECRET!r} for k in keys), len(keys),
      sum(s == {CANARY_ROUTE_SECRET!r} for s in secrets), len(secrets))
"""


def deployed(keys: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = stack_env(database_url(), "http://127.0.0.1:9", FERNET_KEYS=keys)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def read_all(keys: str) -> list[int]:
    out = deployed(keys, "shell", "-c", READ_ALL)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("READ")), None)
    assert line, out.stdout + out.stderr
    return [int(n) for n in line.split()[1:]]


def test_rotating_fernet_keys_loses_nothing(trader):
    # Written under K1 by a K1 deployment (this process's settings are not K1; the rows must be).
    created = deployed(
        K1,
        "shell",
        "-c",
        f"""
from accounts.models import ExchangeAccount, User
from routing.models import Route
owner = User.objects.get(pk={trader.pk})
for i in range(3):
    account = ExchangeAccount(owner=owner, label=f"k1-{{i}}")
    account.set_credentials(f"key-{{i}}", {TRADER_SECRET!r})
    account.save()
    route = Route(owner=owner, name=f"r{{i}}", exchange_account=account, symbol=f"PF_X{{i}}USD", sizing_mode="target")
    route.set_secret({CANARY_ROUTE_SECRET!r})
    route.save()
""",
    )
    assert created.returncode == 0, created.stderr
    assert read_all(K1) == [3, 3, 3, 3]
    assert read_all(K2) == [0, 3, 0, 3]  # the new key alone opens nothing yet (unreadable, never a crash)

    # Deploy [K2, K1]: everything still reads; --check says what is still under the old key.
    assert read_all(f"{K2},{K1}") == [3, 3, 3, 3]
    # (Every encrypted column of the 6 rows: the accounts' key pairs, of both credential kinds, and the routes'.)
    check = deployed(f"{K2},{K1}", "reencrypt_secrets", "--check")
    stale = int(re.match(r"(\d+) need re-encryption, 0 already", check.stdout).group(1))
    assert check.returncode != 0 and stale >= 9, check.stdout

    rotated = deployed(f"{K2},{K1}", "reencrypt_secrets")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert rotated.stdout.startswith(f"{stale} re-encrypted, 0 already")
    again = deployed(f"{K2},{K1}", "reencrypt_secrets", "--check")
    assert again.returncode == 0 and f"0 need re-encryption, {stale} already under the newest key" in again.stdout

    # Deploy [K2] alone: 100 % readable.
    assert read_all(K2) == [3, 3, 3, 3]
    assert deployed(K2, "reencrypt_secrets", "--check").returncode == 0


def test_a_value_no_key_opens_is_reported_and_left_as_it_was(trader):
    account = ExchangeAccount(owner=trader, label="lost")
    account.set_credentials("key", TRADER_SECRET)
    account.save()
    raw_before = ExchangeAccount.objects.filter(pk=account.pk).values_list("api_secret", flat=True)
    result = deployed("some-other-key-entirely", "reencrypt_secrets")
    assert result.returncode != 0 and "unreadable: accounts.ExchangeAccount.api_key" in result.stderr
    assert list(ExchangeAccount.objects.filter(pk=account.pk).values_list("api_secret", flat=True)) == list(raw_before)
    assert Route.objects.count() == 0


def test_rotating_secret_key_loses_no_stored_key(trader):
    """Row 18 of the reliability table: exchange keys are under FERNET_KEYS, never SECRET_KEY."""
    account = ExchangeAccount(owner=trader, label="kept")
    account.set_credentials("key", TRADER_SECRET)
    account.save()
    env = stack_env(database_url(), "http://127.0.0.1:9", SECRET_KEY="a-completely-different-secret-key-" + "x" * 30)
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", READ_ALL],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "READ 1 1 0 0" in out.stdout, out.stdout + out.stderr
