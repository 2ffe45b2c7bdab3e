"""Requests and replies of the fake's Kraken API, and Kraken's reply envelopes (reference §5).

* rejections of an order are HTTP 200 ``result: success`` with the word in ``sendStatus.status``;
* a missing argument is the classic ``{"result":"error","error":"requiredArgumentMissing"}`` (HTTP 200);
* a value of the wrong shape is the structured HTTP 400 ``{"status":"BAD_REQUEST", "errors":[{"code":11,
  "message":"Argument invalid: <name>"}]}``;
* an unknown market on an order is the classic ``invalidArgument`` (Kraken documents no sendStatus for it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from exchanges.fake.wire import dumps, iso


@dataclass
class Request:
    method: str
    path: str  # as it arrived, without the query string
    query: str  # raw, without "?"
    body: bytes
    headers: dict[str, str]  # lower-cased names
    params: dict[str, list[str]]  # query and form body merged, repeated keys kept
    path_args: dict[str, str] = field(default_factory=dict)

    def one(self, name: str) -> str | None:
        values = self.params.get(name)
        if not values or values[0] == "":
            return None
        return values[0]

    def many(self, name: str) -> list[str]:
        # Repeated keys (orderIds=a&orderIds=b) are the documented form; comma-joined is what kraken-cli sends.
        return [part for value in self.params.get(name, []) for part in value.split(",") if part]

    @property
    def post_data(self) -> bytes:
        return self.query.encode("latin-1") + self.body


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status=status, body=dumps(obj).encode(), headers=headers or {})


class ApiError(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def success(now: datetime, **fields: Any) -> Reply:
    return Reply.json({"result": "success", **fields, "serverTime": iso(now)})


def classic_error(code: str, now: datetime, status: int = 200) -> Reply:
    return Reply.json({"result": "error", "serverTime": iso(now), "error": code}, status=status)


def bad_request(name: str, now: datetime) -> Reply:
    body = {
        "status": "BAD_REQUEST",
        "result": "error",
        "errors": [{"code": 11, "message": f"Argument invalid: {name}"}],
        "serverTime": iso(now),
    }
    return Reply.json(body, status=400)


def structured_error(status: int, label: str, code: int, message: str, now: datetime) -> Reply:
    body = {"status": label, "result": "error", "errors": [{"code": code, "message": message}], "serverTime": iso(now)}
    return Reply.json(body, status=status)


UNAUTHORIZED = {"reason": "You are not authorized to access this endpoint.", "status": "unauthorized"}
