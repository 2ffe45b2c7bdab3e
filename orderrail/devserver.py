"""`make run`: the fake Kraken, the django-q2 worker and the web server, in the foreground, on SQLite.

Ctrl-C stops all three. Prints where everything is and a ready curl command that sends a valid alert.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from typing import IO

PORT = int(os.environ.get("PORT", "8000"))
FAKE_PORT = int(os.environ.get("FAKE_PORT", "8765"))
# ORDERRAIL_TRANSPORT=uws: the demo account trades over the (fake) Kraken Unified WebSocket on UWS_PORT.
TRANSPORT = os.environ.get("ORDERRAIL_TRANSPORT", "rest")
UWS_PORT = int(os.environ.get("UWS_PORT", str(FAKE_PORT + 1)))


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
        "PYTHONUNBUFFERED": "1",
    }
    manage = [sys.executable, "manage.py"]
    procs: list[subprocess.Popen[str]] = []

    def stop_all(*_: object) -> None:
        # Once stopping, further signals must not interrupt the stop itself.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the whole group: qcluster's worker processes too
                proc.wait()

    def terminate(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (a supervisor, `timeout`) stops the three children like Ctrl-C does

    signal.signal(signal.SIGTERM, terminate)
    try:
        fake = subprocess.Popen(
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
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        procs.append(fake)
        line = fake.stdout.readline() if fake.stdout else ""
        if "listening" not in line:
            print(f"fake kraken did not start: {line!r}", file=sys.stderr)
            stop_all()
            return 1
        print(line.strip())
        # Keep draining its output, so a chatty fake can never block on a full pipe.
        threading.Thread(target=_relay, args=(fake.stdout,), daemon=True).start()
        subprocess.run([*manage, "seed_demo"], env=env, check=True)
        # Own process groups: Ctrl-C reaches us once, and we stop each child with its whole family.
        procs.append(subprocess.Popen([*manage, "qcluster"], env=env, start_new_session=True))
        procs.append(
            subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{PORT}"], env=env, start_new_session=True)
        )
        time.sleep(2)
        _print_next_steps(demo)
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
        print("a process exited; stopping the others", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstopping web server, worker and fake kraken…")
    finally:
        stop_all()
    return 0


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

Ctrl-C stops everything.
"""  # type: ignore[attr-defined]
    )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderrail.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    sys.exit(main())
