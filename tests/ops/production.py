"""The environment of a production process, for tests that start one (`manage.py check`, gunicorn)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.stack import ROOT

# 64 characters, many distinct: what `check --deploy` (security.W009) wants of a real key.
PRODUCTION_SECRET_KEY = "prod-test-Zq8vT3wNkR1xVb6yHc0mPjL5sD2fG9hQaE4uY7iO0pA3sD6fG9hJ2kL5"
PRODUCTION_FERNET_KEY = "prod-test-fernet-key-V3q8ZfT3wNkR1xVb6yHc0mPj"


def production_env(**extra: str) -> dict[str, str]:
    """DEBUG off and not a test run (no ORDERRAIL_TESTING): the settings a deployment gets."""
    env = {k: v for k, v in os.environ.items() if k not in ("ORDERRAIL_TESTING", "EMAIL_OFF", "EMAIL_URL")}
    env.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": PRODUCTION_SECRET_KEY,
            "FERNET_KEYS": PRODUCTION_FERNET_KEY,
            "ALLOWED_HOSTS": "orderrail.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://orderrail.example.com",
            "EMAIL_URL": "smtp+tls://mailer:password@smtp.example.com:587",
            "SECURE_HSTS_PRELOAD": "1",
            "KRAKEN_FUTURES_URL": "https://futures.kraken.com",
            # Billing is on by default: production names its Stripe key and the $30/month price (billing.checks).
            "STRIPE_LIVE_MODE": "1",
            "STRIPE_LIVE_SECRET_KEY": "rk_live_prodTestRestrictedKey0123456789abcdef",
            "STRIPE_PRICE_ID": "price_prodTest30Monthly",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def manage(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
