"""JSON log lines that carry the alert they concern, in the web process and in the worker.

`bound_alert(alert_id)` sets the alert for everything logged inside it (a contextvar, so each thread of a threaded
server and each task of a worker has its own); `AlertIdFilter` copies it onto every record; `JsonFormatter` writes
one JSON object per line. No Django import at module level: gunicorn's own logging uses this module too, before
Django is set up.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_alert_id: ContextVar[int | None] = ContextVar("orderrail_alert_id", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=` and goes into the JSON as is.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


@contextmanager
def bound_alert(alert_id: int | None) -> Iterator[None]:
    token = _alert_id.set(alert_id)
    try:
        yield
    finally:
        _alert_id.reset(token)


def bind_alert(alert_id: int | None) -> None:
    """Set the alert for the rest of the current context (a request, a task); `bound_alert` where a block suffices."""
    _alert_id.set(alert_id)


def current_alert() -> int | None:
    return _alert_id.get()


class AlertIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "alert_id", None) is None:
            record.alert_id = _alert_id.get()
        record.alert_label = f"[alert {record.alert_id}] " if record.alert_id is not None else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO-8601), level, logger, message, process, alert_id, the `extra=`
    fields, and the exception's traceback text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": os.getpid(),
            "alert_id": getattr(record, "alert_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry and key != "alert_label":
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
