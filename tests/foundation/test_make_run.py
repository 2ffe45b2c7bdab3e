"""`make run`, for real: the Makefile, the launcher (orderrail/devserver.py), the fake Kraken, the worker and the web
server, on free ports and a SQLite file of this test's own (never db.sqlite3), the fake's state in a temporary data
directory. Stopped the ways a person stops it: Ctrl-C in the terminal (SIGINT to the foreground process group:
make and the launcher) and `kill -TERM <pid of make>`; restarted with a position open.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from orderrail.cluster import descendants
from routing.management.commands import seed_demo as demo
from tests import stack

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SYMBOL = "PF_XBTUSD"


@dataclass
class Run:
    make: subprocess.Popen[bytes]
    out: Path
    env: dict[str, str]
    ports: tuple[int, int, int]

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    @property
    def fake(self) -> str:
        return f"http://127.0.0.1:{self.ports[1]}"

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def family(self) -> list[int]:
        """make and everything below it: the launcher, its children, the worker's processes."""
        return [self.make.pid, *descendants(self.make.pid)]

    def position(self) -> Decimal:
        rows = requests.get(f"{self.fake}/_fake/positions", params={"key": demo.DEMO_API_KEY}, timeout=5).json()
        return sum((Decimal(r["size"]) for r in rows["positions"] if r["symbol"] == SYMBOL), Decimal(0))

    def alert(self, position: str) -> None:
        body = {
            "secret": demo.DEMO_ROUTE_SECRET,
            "action": "buy" if Decimal(position) > 0 else "sell",
            "position": position,
            "market_position": "long" if Decimal(position) > 0 else "flat",
            "symbol": "XBTUSD",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        response = requests.post(f"{self.web}/hooks/{demo.DEMO_ROUTE_TOKEN}", json=body, timeout=10)
        assert response.status_code == 202, response.text

    def manage(self, *args: str) -> str:
        """A management command against this run's database and fake, as a person would run one beside it."""
        env = {**self.env, "DEBUG": "1", "KRAKEN_FUTURES_URL": self.fake}  # as make run sets for its children
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ORDERRAIL_TESTING", "DJANGO_SETTINGS_MODULE")}
    return {
        **env,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "ORDERRAIL_DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def make_run(env: dict[str, str], out: Path) -> Iterator[Run]:
    ports = (stack.free_port(), stack.free_port(), stack.free_port())
    run_env = {**env, "PORT": str(ports[0]), "FAKE_PORT": str(ports[1]), "UWS_PORT": str(ports[2])}
    with open(out, "wb") as log:
        # Its own session, like a terminal's foreground job: make leads the process group a Ctrl-C goes to.
        make = subprocess.Popen(
            ["make", "run"], cwd=ROOT, env=run_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    run = Run(make, out, run_env, ports)
    try:
        deadline = time.monotonic() + 120
        while "OrderRail is running." not in run.output():
            assert make.poll() is None and time.monotonic() < deadline, run.output()[-3000:]
            time.sleep(0.2)
        stack.wait_http(run.web + "/hooks/not-a-route")
        yield run
    finally:
        left = stack.alive(run.family())
        if left:  # a failed test must not leave a stack running
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        make.wait(timeout=10)


def wait_until(condition: Any, what: str, run: Run, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s\n{run.output()[-3000:]}"
        time.sleep(0.1)


def stop(run: Run, send: Any) -> float:
    """Send the signal; the seconds until make has exited and every process it started is gone."""
    family = run.family()
    assert len(family) >= 5, family  # make, the launcher, the fake, the worker (and its own children), runserver
    sent = time.monotonic()
    send()
    while run.make.poll() is None or stack.alive(family):
        assert time.monotonic() - sent < 15, f"still running: {stack.alive(family)}\n{run.output()[-3000:]}"
        time.sleep(0.02)
    return time.monotonic() - sent


def test_make_run_survives_ctrl_c_sigterm_and_a_restart_with_a_position_open(
    workspace: dict[str, str], tmp_path: Path
) -> None:
    # 1. Start, go long 0.1 through the webhook.
    with make_run(workspace, tmp_path / "run-1.log") as run:
        run.alert("0.1")
        wait_until(lambda: run.position() == Decimal("0.1"), "the demo alert filled on the fake", run)
        first_ports = run.ports
        # 2. Ctrl-C: the terminal sends SIGINT to the foreground process group (make and the launcher).
        took = stop(run, lambda: os.killpg(run.make.pid, signal.SIGINT))
    print(f"Ctrl-C: make and every process it started gone in {took:.2f} s")
    text = run.output()
    assert took < 3.0, text[-3000:]
    assert "worker stopped (exit 0)" in text and "SIGKILLed" not in text, text[-3000:]
    assert "0 worker(s) killed" in text  # the worker's own account: nothing was cut off
    assert all(stack.port_free(port) for port in first_ports)

    # 3. Restart with the position open: the fake comes back from its state file, the books still agree.
    with make_run(workspace, tmp_path / "run-2.log") as run:
        assert run.position() == Decimal("0.1")
        reconciled = run.manage("reconcile")
        state = json.loads(
            run.manage(
                "shell",
                "-c",
                "import json; from routing.models import Route, RouteState; from audit.models import Attention; "
                "from accounts.models import ExchangeAccount, User; "
                "print(json.dumps({'frozen': [s.frozen_reason for s in RouteState.objects.all()], "
                "'attention': [a.kind for a in Attention.objects.all()], 'routes': Route.objects.count(), "
                "'accounts': ExchangeAccount.objects.count(), 'users': User.objects.count()}))",
            )
            .strip()
            .splitlines()[-1]
        )
        assert state == {"frozen": [""], "attention": [], "routes": 1, "accounts": 1, "users": 1}, reconciled
        # The demo route still trades: flat again.
        run.alert("0")
        wait_until(lambda: run.position() == 0, "the closing alert filled", run)
        # 4. `kill -TERM <pid of make>`: make passes it to the launcher (the recipe execs it), which stops all.
        took = stop(run, lambda: os.kill(run.make.pid, signal.SIGTERM))
    print(f"kill -TERM <make>: every process gone in {took:.2f} s")
    assert took < 5.0
    assert "worker stopped (exit 0)" in run.output() and "SIGKILLed" not in run.output()
    assert all(stack.port_free(port) for port in run.ports)


def test_sigterm_to_the_launcher_itself_stops_everything(workspace: dict[str, str], tmp_path: Path) -> None:
    with make_run(workspace, tmp_path / "run.log") as run:
        launcher = [pid for pid in descendants(run.make.pid) if "orderrail.devserver" in _cmdline(pid)]
        assert len(launcher) == 1
        took = stop(run, lambda: os.kill(launcher[0], signal.SIGTERM))
    print(f"kill -TERM <launcher>: every process gone in {took:.2f} s")
    assert took < 5.0
    assert all(stack.port_free(port) for port in run.ports)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
