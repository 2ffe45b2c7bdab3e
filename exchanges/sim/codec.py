"""Turn the engine's dataclasses into JSON-safe dicts and back, driven by their type hints.

Paper trading persists the engine's state, so the state must survive a round trip exactly: Decimals become strings
(never floats), datetimes ISO strings, enums their values. Decoding reads the annotations, so a new field needs no
codec change as long as its type is one of the handful below.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


def encode(value: Any) -> Any:
    # Enum first: a StrEnum is also a str, and we want its plain value.
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, bool | int | float | str):
        return value  # floats only ever come from the fake's own settings, never from engine state
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(encode(k)): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [encode(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(tp: Any, raw: Any) -> Any:
    if tp is Any:
        return raw
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if raw is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return decode(inner[0], raw)
    if origin is list:
        return [decode(args[0], v) for v in raw]
    if origin is tuple:
        return tuple(decode(args[0], v) for v in raw)
    if origin is frozenset:
        return frozenset(decode(args[0], v) for v in raw)
    if origin is dict:
        return {decode(args[0], k): decode(args[1], v) for k, v in raw.items()}
    if tp is Decimal:
        return Decimal(raw)
    if tp is datetime:
        return datetime.fromisoformat(raw)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(raw)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_dict(tp, raw)
    return raw


def from_dict(cls: type[T], raw: dict[str, Any]) -> T:
    hints = _hints(cls)
    kwargs = {f.name: decode(hints[f.name], raw[f.name]) for f in dataclasses.fields(cls) if f.name in raw}  # type: ignore[arg-type]
    return cls(**kwargs)
