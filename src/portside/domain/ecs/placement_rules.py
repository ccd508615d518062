"""Validation of placement constraints and strategies as requests give them.

The scheduler's own constructors (``Constraint.of``, ``Strategy.of``) decide
what is valid, so a request is refused with the same words the engine would
use; the request's values are kept as given for the resource's description.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portside.domain.errors import InvalidParameterException
from portside.scheduler.model import MAX_CONSTRAINTS, MAX_STRATEGIES, Constraint, Strategy


def check_placement(
    constraints: Sequence[Mapping[str, Any]] | None,
    strategies: Sequence[Mapping[str, Any]] | None,
) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    """Validated copies; a memberOf expression that does not parse says where it broke."""
    out_c = tuple(dict(c) for c in constraints or ())
    out_s = tuple(dict(s) for s in strategies or ())
    if len(out_c) > MAX_CONSTRAINTS:
        raise InvalidParameterException(
            f"A task can have at most {MAX_CONSTRAINTS} placement constraints."
        )
    if len(out_s) > MAX_STRATEGIES:
        raise InvalidParameterException(
            f"A task can have at most {MAX_STRATEGIES} placement strategies."
        )
    for c in out_c:
        Constraint.of(str(c.get("type")), c.get("expression"))
    for s in out_s:
        Strategy.of(str(s.get("type")), s.get("field"))
    return out_c, out_s
