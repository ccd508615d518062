"""Dataclass <-> JSON document conversion for the store.

Domain resources are frozen dataclasses whose fields are built from a small set
of types: str, int, float, bool, datetime, Enum subclasses, other dataclasses,
``tuple[X, ...]``, ``dict[str, X]``, ``X | None`` and ``Any`` (kept as given).
``to_doc`` writes plain JSON values; ``from_doc`` reads them back using the
field annotations, analysed once per class.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Hashable
from datetime import datetime
from functools import cache
from typing import Any, cast

Reader = Callable[[Any], Any]


def to_doc(value: Any) -> Any:
    """A JSON-compatible copy of a domain value."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_doc(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, tuple | list):
        return [to_doc(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_doc(v) for k, v in value.items()}
    raise TypeError(f"cannot store a {type(value).__name__}")


def from_doc(cls: type[Any], doc: Any) -> Any:
    return _reader(cast(Hashable, cls))(doc)
    return _reader(cls)(doc)


@cache
def _reader(tp: Any) -> Reader:
    if tp is Any:
        return _thaw
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = _reader(args[0]) if len(args) == 1 else _thaw
        return lambda v: None if v is None else inner(v)
    if origin is tuple:
        item = _reader(typing.get_args(tp)[0])
        return lambda v: tuple(item(x) for x in v)
    if origin is dict:
        val = _reader(typing.get_args(tp)[1])
        return lambda v: {k: val(x) for k, x in v.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp
    if tp is datetime:
        return datetime.fromisoformat
    if tp in (str, int, bool):
        return lambda v: v
    if tp is float:
        return float
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = [(f.name, _reader(hints[f.name])) for f in dataclasses.fields(tp) if f.init]

        def read(v: Any) -> Any:
            return tp(**{name: r(v[name]) for name, r in fields if name in v})

        return read
    raise TypeError(f"unsupported field type {tp!r}")


def _thaw(v: Any) -> Any:
    return v
