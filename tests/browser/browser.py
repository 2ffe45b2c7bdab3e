"""A real browser against the real processes: Debian's chromium driven by Playwright, the web server, the django-q2
worker and the fake Kraken each as its own process, on the test database. Every page the journey passes is
photographed at laptop and phone width into tests/browser/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests import stack

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parent / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
STEP_TIMEOUT_MS = 15_000


@dataclass
class Stack:
    web: str
    kraken: str
    mail_dir: Path
    env: dict[str, str]
    procs: stack.Processes


@contextmanager
def running_stack(tmp: Path, key: str, secret: str, **settings: str) -> Iterator[Stack]:
    """The fake Kraken, gunicorn (static files by whitenoise, the CSP header on every page) and the worker, with
    e-mail written to files the test reads. `settings`: more environment for the processes."""
    mail_dir = tmp / "mail"
    mail_dir.mkdir()
    with stack.running() as procs:
        kraken = stack.start_fake(procs, key, secret, log=tmp / "fake.log")
        env = stack.stack_env(
            stack.database_url(),
            kraken,
            BILLING_ENABLED="0",
            Q_WORKERS="1",
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(mail_dir),
            **settings,
        )
        web = stack.start_web(procs, env, workers=2, log=tmp / "web.log")
        stack.start_worker(procs, env, log=tmp / "worker.log")
        yield Stack(web=web, kraken=kraken, mail_dir=mail_dir, env=env, procs=procs)


@dataclass
class Camera:
    """Screenshots of every page, in order, at laptop width and (for pages a trader opens on the go) phone width."""

    prefix: str
    taken: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def shot(self, page: Any, name: str, *, phone: bool = True) -> None:
        SHOTS.mkdir(exist_ok=True)
        index = len(self.taken) + 1
        path = SHOTS / f"{self.prefix}-{index:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        if phone:
            page.set_viewport_size(PHONE)
            narrow = SHOTS / f"{self.prefix}-{index:02d}-{name}-phone.png"
            page.screenshot(path=str(narrow), full_page=True)
            self.taken.append(narrow)
            page.set_viewport_size(LAPTOP)


@contextmanager
def browser(camera: Camera) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = chromium.new_context(viewport=LAPTOP)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        page = context.new_page()
        # Any script error, refused or missing resource (a stylesheet, the script, a background refresh) on any page
        # fails the journey. Pages answered 400 on purpose (a refused form) are documents, not resources.
        page.on("pageerror", lambda exc: camera.errors.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                camera.errors.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error" and not msg.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.on(
            "response",
            lambda r: (
                camera.errors.append(f"{r.status} for {r.url}")
                if r.status >= 400 and r.request.resource_type != "document"
                else None
            ),
        )
        try:
            yield context, page
        finally:
            context.close()
            chromium.close()


def totp(secret: str, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """RFC 6238, as the trader's authenticator app computes it."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((at or time.time()) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return str(code).zfill(digits)


def confirmation_link(mail_dir: Path, address: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.log")):
            text = path.read_text(errors="replace")
            if address in text:
                match = re.search(r"https?://\S+/accounts/confirm-email/\S+/", text)
                if match:
                    return match.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no confirmation e-mail to {address} in {mail_dir}")


def as_tradingview_fires_it(message: str, **values: str) -> bytes:
    """The message as TradingView sends it when the alert fires: every {{placeholder}} filled in, nothing else."""
    values.setdefault("timenow", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    filled = message
    for name, value in values.items():
        filled = filled.replace("{{" + name + "}}", value)
    assert "{{" not in filled, filled
    json.loads(filled)
    return filled.encode()


def wait_for_text(page: Any, text: str, *, timeout: float = 30.0, reload: bool = True) -> None:
    """Until the page shows `text`, reloading as a trader would (the page also refreshes itself)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in page.content():
            return
        time.sleep(0.5)
        if reload:
            page.reload()
    raise AssertionError(f"{text!r} did not appear on {page.url} within {timeout} s")
