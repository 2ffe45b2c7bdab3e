"""gunicorn for OrderRail in production: `gunicorn -c gunicorn.conf.py orderrail.wsgi`.

The shape (issue 10, hole 3): TradingView gives us 3 s and never re-sends a request that timed out, so nothing a
hostile or merely slow client does may hold the webhook up.

- **Threads, not sync workers** (`gthread`): a sync worker is one request at a time, so a handful of clients sending
  their body a byte a second took all four workers (a valid alert waited 14 s). With threads, each slow client holds
  one thread of WORKERS x THREADS.
- **Two pools** (`GUNICORN_POOL`): the webhook pool serves `/hooks/` only; the web pool serves pages, the admin and
  logins. Password hashing is CPU-heavy by design (32 concurrent admin logins pushed the webhook to 6 s on one pool):
  the web pool runs at a lower CPU priority (nice 10) and has threads of its own, so a login flood queues behind
  itself, not in front of alerts. The proxy in front routes `location /hooks/` to the webhook pool. One pool
  (`GUNICORN_POOL=all`) is fine for a small install.
- **A buffering proxy in front** (nginx; see README "Production"): it reads whole request bodies before passing them
  on (`proxy_request_buffering on`, the default), caps them (`client_max_body_size 16k`) and times slow clients out
  (`client_body_timeout 5s`), so slow clients never reach gunicorn at all. Without it, at most WORKERS x THREADS - 1
  slow clients can be open before an alert waits.
- **Fail fast on the database**: the web's statement timeout is 1.5 s (settings: DB_STATEMENT_TIMEOUT_MS), so a frozen
  database answers 503 (TradingView re-sends on 5xx) instead of hanging past 3 s.

Environment: GUNICORN_BIND (127.0.0.1:8000), GUNICORN_POOL (webhook | web | all), WEB_WORKERS (2), WEB_THREADS (8),
WEB_NICE (10, web pool only).
"""

from __future__ import annotations

import os

pool = os.environ.get("GUNICORN_POOL", "all")
if pool not in ("webhook", "web", "all"):
    raise ValueError(f"GUNICORN_POOL must be webhook, web or all, not {pool!r}")

bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
wsgi_app = "orderrail.wsgi:application"
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "8"))
# A worker that stops answering its heartbeat for this long is replaced (a stuck request, a frozen dependency).
timeout = 30
graceful_timeout = 20
keepalive = 5
backlog = 2048
# Requests are small: TradingView's bodies are under 16 KiB, its headers short.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# Replace workers now and then (memory), staggered so never all at once.
max_requests = 20000
max_requests_jitter = 2000
proc_name = f"orderrail-{pool}"

# The web process's statement timeout; read by orderrail/settings.py when each worker loads the app.
# 1.5 s: a webhook query takes about a millisecond; the rest of TradingView's 3 s is margin for a loaded host.
os.environ.setdefault("DB_STATEMENT_TIMEOUT_MS", "1500")

# gunicorn's own lines in the same JSON shape as the app's (ops.logs); the proxy keeps the access log.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "ops.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
if os.environ.get("LOG_FORMAT") == "plain":
    logconfig_dict = {}


def post_fork(server, worker):  # type: ignore[no-untyped-def]  # gunicorn's hook signature
    if pool == "web":
        os.nice(int(os.environ.get("WEB_NICE", "10")))
