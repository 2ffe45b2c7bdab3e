"""The real stack as separate processes: the fake Kraken, gunicorn, the engine (`manage.py engine`) and the
django-q2 worker (`manage.py worker`).

Used by the end-to-end tests (against the test database) and by bench/ (against a database of its own)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

# The suite's and the bench's processes run with DEBUG off, like production, so they need explicit keys: nothing in
# the settings relaxes a secret check for tests. These values exist only here.
TEST_ENVIRONMENT = {
    # Test conveniences that are not about secrets (plain-text logs, no SSL redirect, e-mail to a test backend);
    # SECRET_KEY and FERNET_KEYS are never relaxed by it, hence the explicit test keys below.
    "ORDERRAIL_TESTING": "1",
    "SECRET_KEY": "test-only-secret-key-" + "x" * 40,
    "FERNET_KEYS": "test-only-fernet-key-1",
    "KRAKEN_FUTURES_URL": "http://127.0.0.1:9",  # nothing listens there: tests point the settings at a fake
}


def use_test_environment() -> None:
    for name, value in TEST_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    """The URL of the database this process is connected to (the test database inside pytest)."""
    s = connection.settings_dict
    if s["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def stack_env(db_url: str, kraken_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "KRAKEN_FUTURES_URL": kraken_url,
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
        "BILLING_ENABLED": os.environ.get("BILLING_ENABLED", "1"),
        **extra,
    }


class Processes:
    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self, name: str, args: list[str], env: dict[str, str], log: Path | None = None
    ) -> subprocess.Popen[bytes]:
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        # The whole group, even when its leader has already exited: what it started may still be running.
        proc = self.procs.pop(name)
        _signal_group(proc.pid, sig)
        proc.wait(timeout=20)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
        for name in list(self.procs):
            proc = self.procs.pop(name)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
            _signal_group(proc.pid, signal.SIGKILL)  # whatever is left of the group
            proc.wait(timeout=20)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is empty
        os.killpg(pgid, sig)


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout} s")


def start_web(
    procs: Processes,
    env: dict[str, str],
    *,
    workers: int = 2,
    threads: int = 1,
    worker_class: str | None = None,
    log: Path | None = None,
) -> str:
    """gunicorn on a free port. The sync worker (the default for one thread) closes every connection after one
    request; gthread keeps connections alive (``--keep-alive``), even with a single thread."""
    port = free_port()
    procs.start(
        "web",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "orderrail.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            worker_class or ("gthread" if threads > 1 else "sync"),
            "--keep-alive",
            "30",
            "--backlog",
            "2048",
        ],
        env,
        log,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/hooks/not-a-route")
    return url


def start_worker(procs: Processes, env: dict[str, str], log: Path | None = None) -> None:
    """`manage.py engine`: decides alerts and reconciles accounts (routing/engine.py); SIGTERM stops it cleanly."""
    procs.start("worker", [sys.executable, "manage.py", "engine"], env, log)


def start_django_q(procs: Processes, env: dict[str, str], log: Path | None = None) -> None:
    """`manage.py worker`: the django-q2 cluster for the other periodic jobs, stopped cleanly by SIGTERM to its
    group (orderrail/cluster.py)."""
    procs.start("django_q", [sys.executable, "manage.py", "worker"], env, log)


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group, from /proc."""
    return [pid for pid, (state, _ppid, group) in _processes().items() if group == pgid and state != "Z"]


def alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie has exited; its parent has just not reaped it yet)."""
    running = _processes()
    return [pid for pid in pids if pid in running and running[pid][0] != "Z"]


def port_free(port: int) -> bool:
    """Nothing listens on it: a server could bind it now (connections in TIME_WAIT do not count, as for servers)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _processes() -> dict[int, tuple[str, int, int]]:
    """pid -> (state, parent pid, process group), from /proc."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        found[int(entry.name)] = (fields[0], int(fields[1]), int(fields[2]))
    return found


@contextmanager
def running() -> Iterator[Processes]:
    procs = Processes()
    try:
        yield procs
    finally:
        procs.stop_all()


# -- helpers for the crash-recovery tests (tests/routing/test_crash_recovery.py) ---------------------------------


def start_fake(
    procs: Processes,
    key: str,
    secret: str,
    *,
    collateral: str = "100000",
    log: Path | None = None,
    uws: tuple[int, str, str] | None = None,
) -> str:
    """The fake Kraken as its own process (`manage.py fake_kraken`), with one account; returns its base URL.

    ``uws=(port, kraken_key, kraken_secret)`` also serves the Unified WebSocket there, with the account's Kraken key."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "manage.py", "fake_kraken", "--port", str(port), "--key", key, "--secret", secret]
    if uws is not None:
        args += ["--uws-port", str(uws[0]), "--spot-key", uws[1], "--spot-secret", uws[2]]
    procs.start("fake", [*args, "--collateral", collateral], stack_env(database_url(), url), log)
    wait_http(url + "/_fake/health")
    return url


def uws_env(kraken_url: str, uws_port: int) -> dict[str, str]:
    """The settings that point a stack at the fake's Unified WebSocket (accounts with transport ``uws``)."""
    return {
        "KRAKEN_SPOT_URL": kraken_url,
        "KRAKEN_UWS_PRIVATE_URL": f"ws://127.0.0.1:{uws_port}/v2/private",
        "KRAKEN_UWS_PUBLIC_URL": f"ws://127.0.0.1:{uws_port}/v2/public",
    }


def fake_calls(kraken_url: str, endpoint: str) -> int:
    """Requests that reached `endpoint` on the fake, whatever became of them."""
    return requests.get(f"{kraken_url}/_fake/calls", params={"endpoint": endpoint}, timeout=5).json()["calls"]


def fake_positions(kraken_url: str, key: str) -> dict[str, str]:
    """The fake's open positions of one key, symbol → signed size (as the string the fake sends)."""
    rows = requests.get(f"{kraken_url}/_fake/positions", params={"key": key}, timeout=5).json()["positions"]
    return {row["symbol"]: row["size"] for row in rows}


def fake_orders(kraken_url: str) -> dict[str, dict]:
    """Every order the fake has ever accepted, keyed by client order id (the engine's own record)."""
    orders = requests.get(f"{kraken_url}/_fake/state", timeout=10).json()["engine"]["orders"]
    return {o["client_order_id"]: o for o in orders.values() if o.get("client_order_id")}


def log_tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path.name}: no log)"
    text = path.read_text(errors="replace").splitlines()
    return f"--- {path.name} (last {min(lines, len(text))} of {len(text)} lines) ---\n" + "\n".join(text[-lines:])
