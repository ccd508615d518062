"""Validation of placement constraints and strategies as requests give them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portside.domain.errors import InvalidParameterException

MAX_CONSTRAINTS = 10
MAX_STRATEGIES = 5


def check_placement(
    constraints: Sequence[Mapping[str, Any]] | None,
    strategies: Sequence[Mapping[str, Any]] | None,
) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    """Validated copies; a memberOf expression that does not parse says where it broke."""
    from portside.scheduler.query import parse

    out_c: list[dict[str, Any]] = []
    for c in constraints or ():
        kind = c.get("type")
        expr = c.get("expression")
        if kind == "distinctInstance":
            if expr:
                raise InvalidParameterException(
                    "The distinctInstance constraint does not take an expression."
                )
        elif kind == "memberOf":
            if not expr:
                raise InvalidParameterException("The memberOf constraint requires an expression.")
            parse(expr)
        else:
            raise InvalidParameterException(f"Unknown placement constraint type {kind!r}.")
        out_c.append(dict(c))
    if len(out_c) > MAX_CONSTRAINTS:
        raise InvalidParameterException(
            f"A task can have at most {MAX_CONSTRAINTS} placement constraints."
        )
    out_s: list[dict[str, Any]] = []
    for s in strategies or ():
        kind, field = s.get("type"), s.get("field")
        if kind == "binpack":
            if (field or "").lower() not in ("cpu", "memory"):
                raise InvalidParameterException("binpack takes the field cpu or memory.")
        elif kind == "spread":
            if not field:
                raise InvalidParameterException(
                    "spread needs a field: instanceId, host, or attribute:NAME."
                )
        elif kind == "random":
            if field:
                raise InvalidParameterException("random takes no field.")
        else:
            raise InvalidParameterException(f"Unknown placement strategy type {kind!r}.")
        out_s.append(dict(s))
    if len(out_s) > MAX_STRATEGIES:
        raise InvalidParameterException(
            f"A task can have at most {MAX_STRATEGIES} placement strategies."
        )
    return tuple(out_c), tuple(out_s)
