"""Identifiers in Cloud Map's shapes: ``ns-…``, ``srv-…``, operation IDs, hosted zone IDs."""

from __future__ import annotations

import secrets
import string

_LOWER = string.ascii_lowercase + string.digits
_UPPER = string.ascii_uppercase + string.digits


def _random(alphabet: str, size: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(size))


def namespace_id() -> str:
    return f"ns-{_random(_LOWER, 16)}"


def service_id() -> str:
    return f"srv-{_random(_LOWER, 16)}"


def operation_id() -> str:
    return f"{_random(_LOWER, 32)}-{_random(_LOWER, 8)}"


def hosted_zone_id() -> str:
    return f"Z{_random(_UPPER, 20)}"
