"""Shape-driven conversion between AWS wire values and portside's snake_case values.

Requests arrive in the service's wire names (``clusterName``); the domain speaks
snake_case (``cluster_name``). One walk over botocore's shape for the operation
does three things at once: it checks the value against the model (types,
required members, unknown members, enums, length and range), it renames
structure members, and it decodes timestamps. Responses walk the output shape
the other way: a member is read from a mapping key or an attribute with the
snake_case name, so domain dataclasses serialize directly and fields the model
does not know stay private. A mapping may carry :data:`EXTRA_MEMBERS`, wire-named
members added after the model's (portside's own extensions, such as
``portsideScaling`` on a capacity provider): SDKs parse by the model and drop
them; raw HTTP clients see them.

Per-structure member tables are computed once per shape and cached.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from botocore import xform_name
from botocore.model import ListShape, MapShape, Shape, StructureShape

from portside.aws.errors import SerializationException, ValidationError

TimestampEncoder = Callable[[datetime], Any]
EXTRA_MEMBERS = "_extra_members"
"""A mapping key for wire-named members beyond the model's (no model member is named so)."""


@cache
def snake(name: str) -> str:
    """The snake_case form of a wire member name (botocore's own rule)."""
    return str(xform_name(name))


@cache
def _members(shape: StructureShape) -> tuple[tuple[str, str, Shape], ...]:
    return tuple((wire, snake(wire), sub) for wire, sub in shape.members.items())


@cache
def _by_wire(shape: StructureShape) -> dict[str, tuple[str, Shape]]:
    return {wire: (snake(wire), sub) for wire, sub in shape.members.items()}


def _where(path: str) -> str:
    return path or "input"


def _check_length(shape: Shape, size: int, path: str, what: str) -> None:
    meta = shape.metadata
    lo = meta.get("min")
    hi = meta.get("max")
    if lo is not None and size < lo:
        raise ValidationError(f"{_where(path)} {what} must be at least {lo}, got {size}")
    if hi is not None and size > hi:
        raise ValidationError(f"{_where(path)} {what} must be at most {hi}, got {size}")


def decode_input(shape: Shape | None, value: Any, path: str = "") -> Any:
    """Validate a decoded request body against ``shape`` and rename it to snake_case."""
    if shape is None:
        if value not in (None, {}):
            raise ValidationError("this operation takes no parameters")
        return {}
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            raise SerializationException(f"{_where(path)}: expected an object")
        table = _by_wire(shape)
        out: dict[str, Any] = {}
        for key, item in value.items():
            entry = table.get(key)
            if entry is None:
                raise ValidationError(f"Unknown parameter {key!r} in {_where(path)}")
            if item is None:
                continue
            name, sub = entry
            out[name] = decode_input(sub, item, f"{path}.{key}" if path else key)
        for req in shape.required_members:
            if req not in value or value[req] is None:
                where = f" in {path}" if path else ""
                raise ValidationError(f"Missing required parameter {req!r}{where}")
        return out
    if kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            raise SerializationException(f"{_where(path)}: expected a list")
        _check_length(shape, len(value), path, "length")
        return [decode_input(shape.member, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "map":
        assert isinstance(shape, MapShape)
        if not isinstance(value, dict):
            raise SerializationException(f"{_where(path)}: expected an object")
        return {
            decode_input(shape.key, k, f"{path} key"): decode_input(shape.value, v, f"{path}.{k}")
            for k, v in value.items()
        }
    if kind == "string":
        if not isinstance(value, str):
            raise SerializationException(f"{_where(path)}: expected a string")
        _check_length(shape, len(value), path, "length")
        allowed = shape.enum
        if allowed and value not in allowed:
            raise ValidationError(
                f"{_where(path)}: {value!r} is not one of {', '.join(allowed)}"
            )
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise SerializationException(f"{_where(path)}: expected an integer")
        _check_length(shape, value, path, "value")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise SerializationException(f"{_where(path)}: expected a boolean")
        return value
    if kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SerializationException(f"{_where(path)}: expected a number")
        return float(value)
    if kind == "timestamp":
        return _decode_timestamp(value, path)
    if kind == "blob":
        if isinstance(value, bytes | bytearray):
            return bytes(value)
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                raise SerializationException(f"{_where(path)}: expected base64") from None
        raise SerializationException(f"{_where(path)}: expected a blob")
    return value


def _decode_timestamp(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise SerializationException(f"{_where(path)}: expected a timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise SerializationException(f"{_where(path)}: expected a timestamp")


def epoch_seconds(value: datetime) -> float:
    """awsJson timestamps: seconds since the epoch."""
    return value.timestamp()


def _get(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def encode_output(shape: Shape | None, value: Any, timestamps: TimestampEncoder) -> Any:
    """Serialize a snake_case value (mapping or dataclass) to wire names for ``shape``."""
    if shape is None or value is None:
        return {} if shape is None else None
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        out: dict[str, Any] = {}
        for wire, name, sub in _members(shape):
            item = _get(value, name)
            if item is None:
                continue
            encoded = encode_output(sub, item, timestamps)
            if encoded is not None:
                out[wire] = encoded
        if isinstance(value, Mapping) and value.get(EXTRA_MEMBERS):
            out.update(value[EXTRA_MEMBERS])
        return out
    if kind == "list":
        assert isinstance(shape, ListShape)
        return [encode_output(shape.member, v, timestamps) for v in value]
    if kind == "map":
        assert isinstance(shape, MapShape)
        return {str(k): encode_output(shape.value, v, timestamps) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    if kind == "timestamp":
        if isinstance(value, datetime):
            return timestamps(value)
        return value
    if kind == "blob" and isinstance(value, bytes | bytearray):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        raise TypeError(f"dataclass {type(value).__name__} where {shape.name} expects a scalar")
    return value
