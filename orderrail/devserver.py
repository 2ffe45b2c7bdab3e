"""`make run`: the fake Kraken, the django-q2 worker and the web server, in the foreground, on SQLite.

Prints where everything is and a ready curl command that sends a valid alert. Stopping:

* Ctrl-C (SIGINT), SIGTERM or SIGHUP to this launcher - or to `make run`, whose recipe `exec`s it so that make's
  signal reaches it - stops all three children, each with its whole process group: the web server and the worker
  first (the worker finishes the task in hand: `manage.py worker`, orderrail/cluster.py), the fake exchange last;
  then it exits. A child still running after ``STOP_TIMEOUT`` seconds is killed, and that is reported.
* The handlers only set a flag; the launcher acts on it in its own loop, so a signal can never interrupt it half-way
  through starting a child (a child started but not yet recorded would outlive it, holding its port).

The fake keeps its exchange in ``$ORDERRAIL_DATA_DIR/fake-kraken.json`` (default ``.data/``, git-ignored): a
restart with a position open finds the same position, so the demo route's books still agree with the exchange.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("PORT", "8000"))
FAKE_PORT = int(os.environ.get("FAKE_PORT", "8765"))
# ORDERRAIL_TRANSPORT=uws: the demo account trades over the (fake) Kraken Unified WebSocket on UWS_PORT.
TRANSPORT = os.environ.get("ORDERRAIL_TRANSPORT", "rest")
UWS_PORT = int(os.environ.get("UWS_PORT", str(FAKE_PORT + 1)))
DATA_DIR = Path(os.environ.get("ORDERRAIL_DATA_DIR") or ROOT / ".data")
FAKE_STATE_FILE = DATA_DIR / "fake-kraken.json"
# A child gets this long after SIGTERM before it is killed; the worker needs its grace (below) plus a margin.
STOP_TIMEOUT = 10.0
# The worker's grace under make run: short, so Ctrl-C is done within ~3 s even with an alert in flight.
WORKER_GRACE = os.environ.get("WORKER_STOP_GRACE_SECONDS", "2")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Launcher:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: dict[str, subprocess.Popen[str]] = {}
        self.stopping = threading.Event()
        self.signal_name = ""

    def on_signal(self, signum: int, frame: Any) -> None:
        self.signal_name = self.signal_name or signal.Signals(signum).name
        self.stopping.set()

    def start(self, name: str, args: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        # Its own session and process group: a terminal's Ctrl-C reaches only this launcher, which then stops each
        # child together with everything it forked (the worker's sentinel, pusher, monitor and workers).
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, text=True, start_new_session=True, **kwargs)
        self.children[name] = proc
        return proc

    def wait(self, proc: subprocess.Popen[str]) -> int | None:
        """Wait for a short-lived child (seed_demo) unless a stop is asked for meanwhile."""
        while proc.poll() is None and not self.stopping.wait(0.1):
            pass
        return proc.poll()

    def stop_all(self) -> bool:
        """Stop the children, the exchange last: the web server and the worker first (together), so that the task
        the worker finishes still reaches a live exchange, then the fake. Each gets SIGTERM to its group and is
        killed if still running ``STOP_TIMEOUT`` seconds after the stop began. True if none had to be killed."""
        begun = time.monotonic()
        last = [name for name in self.children if name == "fake kraken"]
        clean = True
        for phase in ([name for name in self.children if name not in last], last):
            for name in phase:
                if self.children[name].poll() is None:
                    _signal_group(self.children[name], signal.SIGTERM)
            for name in phase:
                proc = self.children[name]
                try:
                    code = proc.wait(timeout=max(0.1, STOP_TIMEOUT - (time.monotonic() - begun)))
                    print(f"  {name} stopped (exit {code}) after {time.monotonic() - begun:.1f} s")
                except subprocess.TimeoutExpired:
                    clean = False
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait()
                    print(f"  {name} did not stop within {STOP_TIMEOUT:.0f} s: SIGKILLed", file=sys.stderr)
                # Whatever the child left in its group (a grandchild that outlived it) goes with it.
                _signal_group(proc, signal.SIGKILL)
        return clean


def main() -> int:
    from routing.management.commands import seed_demo as demo

    env = {
        **os.environ,
        "DEBUG": "1",
        "KRAKEN_FUTURES_URL": f"http://127.0.0.1:{FAKE_PORT}",
        "KRAKEN_SPOT_URL": f"http://127.0.0.1:{FAKE_PORT}",
        "KRAKEN_UWS_PRIVATE_URL": f"ws://127.0.0.1:{UWS_PORT}/v2/private",
        "KRAKEN_UWS_PUBLIC_URL": f"ws://127.0.0.1:{UWS_PORT}/v2/public",
        "ORDERRAIL_TRANSPORT": TRANSPORT,
        "WORKER_STOP_GRACE_SECONDS": WORKER_GRACE,
        "PYTHONUNBUFFERED": "1",
    }
    manage = [sys.executable, "manage.py"]
    launcher = Launcher(env)
    for signum in STOP_SIGNALS:
        signal.signal(signum, launcher.on_signal)
    status = 0
    try:
        fake = launcher.start(
            "fake kraken",
            [
                *manage,
                "fake_kraken",
                "--port",
                str(FAKE_PORT),
                "--key",
                demo.DEMO_API_KEY,
                "--secret",
                demo.DEMO_API_SECRET,
                "--walk",
                "--uws-port",
                str(UWS_PORT),
                "--spot-key",
                demo.DEMO_WS_API_KEY,
                "--spot-secret",
                demo.DEMO_WS_API_SECRET,
                "--state-file",
                str(FAKE_STATE_FILE),
            ],
            stdout=subprocess.PIPE,
        )
        line = fake.stdout.readline() if fake.stdout else ""
        if "listening" not in line:
            print(f"fake kraken did not start: {line!r}", file=sys.stderr)
            return 1
        print(line.strip(), f"(its state: {FAKE_STATE_FILE})")
        # Keep draining its output, so a chatty fake can never block on a full pipe.
        threading.Thread(target=_relay, args=(fake.stdout,), daemon=True).start()
        if launcher.stopping.is_set():
            return 0
        seeded = launcher.wait(launcher.start("seed_demo", [*manage, "seed_demo"]))
        launcher.children.pop("seed_demo")
        if launcher.stopping.is_set():
            return 0
        if seeded != 0:
            print(f"seed_demo failed (exit {seeded})", file=sys.stderr)
            return 1
        launcher.start("engine", [*manage, "engine"])
        launcher.start("worker", [*manage, "worker"])
        launcher.start("web server", [*manage, "runserver", "--noreload", f"127.0.0.1:{PORT}"])
        if not launcher.stopping.wait(2):
            _print_next_steps(demo)
        while not launcher.stopping.wait(0.2):
            exited = [name for name, proc in launcher.children.items() if proc.poll() is not None]
            if exited:
                print(f"{', '.join(exited)} exited; stopping the others", file=sys.stderr)
                status = 1
                break
    finally:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)  # once stopping, nothing may interrupt the stop
        if launcher.signal_name:
            print(f"\n{launcher.signal_name}: stopping web server, engine, worker and fake kraken…")
        if not launcher.stop_all():
            status = status or 1
    return status


def _signal_group(proc: subprocess.Popen[str], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already empty
        os.killpg(proc.pid, signum)  # the child leads its own group (start_new_session)


def _relay(stream: IO[str] | None) -> None:
    for text in stream or ():
        sys.stdout.write(text)


def _print_next_steps(demo: object) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    url = f"http://127.0.0.1:{PORT}/hooks/{demo.DEMO_ROUTE_TOKEN}"  # type: ignore[attr-defined]
    secret = demo.DEMO_ROUTE_SECRET  # type: ignore[attr-defined]
    body = (
        f'{{"secret":"{secret}","action":"buy","position":"0.1","market_position":"long",'
        f'"symbol":"XBTUSD","price":"60000","time":"{now}"}}'
    )
    print(
        f"""
OrderRail is running.
  web server     http://127.0.0.1:{PORT}/
  admin          http://127.0.0.1:{PORT}/admin/   (log in as {demo.DEMO_EMAIL} / {demo.DEMO_PASSWORD})
  webhook        {url}
  fake Kraken    http://127.0.0.1:{FAKE_PORT}/_fake/state   (its control API; the mark price walks)
  transport      {TRANSPORT}  (ORDERRAIL_TRANSPORT=uws: Unified WebSocket, ws://127.0.0.1:{UWS_PORT}/v2/private)

Send an alert (TradingView would send this when your strategy goes long 0.1 XBT):

  curl -sS -X POST {url} -H 'Content-Type: application/json' -d '{body}'

Then open the admin: Audit → Decisions shows why it was sent (every check, the snapshot), Orders its history,
and {f"http://127.0.0.1:{FAKE_PORT}/_fake/state"} the order on the fake exchange. Send the same curl again:
it is answered as a duplicate. Change "time" to now and "position" to 0 to close.

Try it as a new trader, to a working paper route in about two minutes:
  1. Open http://127.0.0.1:{PORT}/ → "Create account" (any e-mail address, a 10+ character password).
  2. The verification e-mail is printed in this terminal (development uses the console e-mail backend): open the
     http://127.0.0.1:{PORT}/accounts/confirm-email/… link in it and press "Confirm".
  3. Dashboard → "Start with a paper account" (free, no key; fills at the fake's mark prices).
  4. "Create a route on this account": pick PF_XBTUSD, keep the defaults, "Create route". Copy the message shown
     (it holds the route's secret, shown once) and the webhook URL.
  5. Fire it as TradingView would - replace the {{{{…}}}} placeholders, e.g. position 0.01, market_position long,
     the time now, ticker only if you set a TradingView ticker - and POST it to the webhook URL with curl.
     The alert, its checks, order, fill and worst-case stop appear under Alerts within a second.
  A live route on the fake: Exchange → "Connect a Kraken Futures key" with the fake's demo key
  {demo.DEMO_API_KEY} and secret {demo.DEMO_API_SECRET}
  (the fake's own, not a real Kraken key; the demo route trades PF_XBTUSD on it, so pick PF_ETHUSD).
  Two-factor authentication is under Account.

Ctrl-C stops everything. The fake exchange is kept in {FAKE_STATE_FILE},
so the next `make run` finds the same positions and orders.
"""  # type: ignore[attr-defined]
    )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderrail.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    code = main()
    # Everything is stopped. Tearing down the interpreter's loaded modules takes about a second here and does
    # nothing of use: flush and leave, so Ctrl-C returns the prompt at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
