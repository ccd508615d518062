"""Service Connect proxy policies ECS has no fields for, set as service tags.

ECS's proxy is Envoy with fixed outlier detection and retries; portside makes
them settable per client-server service, in a way every ECS tool can already
send: tags on the service whose traffic they govern (the called service, as an
Envoy cluster belongs to its destination). Absent tags keep Envoy's defaults.

=================================== ============== ==========================
tag                                 value          default (Envoy's)
=================================== ============== ==========================
``portside:outlier.enabled``        true / false   true
``portside:outlier.consecutive5xx`` 1-1000         5
``portside:outlier.baseEjectionSeconds`` 0.001-86400  30
``portside:outlier.maxEjectionSeconds``  0.001-86400  300
``portside:outlier.maxEjectionPercent``  0-100        10
``portside:outlier.intervalSeconds``     0.001-86400  10
``portside:retry.maxRetries``       0-10           2
``portside:retry.baseIntervalSeconds``   0.001-60     0.025
``portside:retry.maxIntervalSeconds``    0.001-60     0.25
``portside:loadBalancing``          round_robin / least_request  round_robin
=================================== ============== ==========================

:func:`check_policy_tags` rejects a bad value with InvalidParameterException
when the tag is set (CreateService, TagResource); :func:`policies` turns a
service's tags into the ``outlier`` / ``retry`` / ``loadBalancing`` entries of
its upstream in the proxies' configuration (runtime/service_connect_payload.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from portside.domain.errors import InvalidParameterException

PREFIX = "portside:"
BALANCING = ("round_robin", "least_request")

# group, name -> (type, low, high)
_NUMBERS: dict[tuple[str, str], tuple[type, float, float]] = {
    ("outlier", "consecutive5xx"): (int, 1, 1000),
    ("outlier", "baseEjectionSeconds"): (float, 0.001, 86400),
    ("outlier", "maxEjectionSeconds"): (float, 0.001, 86400),
    ("outlier", "maxEjectionPercent"): (float, 0, 100),
    ("outlier", "intervalSeconds"): (float, 0.001, 86400),
    ("retry", "maxRetries"): (int, 0, 10),
    ("retry", "baseIntervalSeconds"): (float, 0.001, 60),
    ("retry", "maxIntervalSeconds"): (float, 0.001, 60),
}


def _value(key: str, raw: str) -> tuple[str, str, Any] | None:
    """(group, name, typed value) of one ``portside:`` policy tag; None for other tags."""
    if not key.startswith(PREFIX):
        return None
    rest = key[len(PREFIX):]
    if rest == "loadBalancing":
        if raw not in BALANCING:
            raise InvalidParameterException(
                f"Tag {key}: {raw!r} is not one of {', '.join(BALANCING)}."
            )
        return "", "loadBalancing", raw
    group, _, name = rest.partition(".")
    if (group, name) == ("outlier", "enabled"):
        if raw not in ("true", "false"):
            raise InvalidParameterException(f"Tag {key}: expected true or false, not {raw!r}.")
        return group, name, raw == "true"
    spec = _NUMBERS.get((group, name))
    if spec is None:
        if group in ("outlier", "retry"):
            known = sorted([n for g, n in _NUMBERS if g == group]
                           + (["enabled"] if group == "outlier" else []))
            raise InvalidParameterException(
                f"Unknown Service Connect policy tag {key}; known: "
                + ", ".join(f"{PREFIX}{group}.{n}" for n in known) + "."
            )
        return None  # another portside: tag, not a proxy policy
    kind, low, high = spec
    try:
        value: Any = kind(raw)
    except ValueError:
        raise InvalidParameterException(
            f"Tag {key}: expected {'an integer' if kind is int else 'a number'}, not {raw!r}."
        ) from None
    if not low <= value <= high:
        raise InvalidParameterException(f"Tag {key}: {raw} is not between {low:g} and {high:g}.")
    return group, name, value


def check_policy_tags(tags: Iterable[Any]) -> None:
    """Raise InvalidParameterException for a ``portside:`` policy tag with a bad value."""
    for tag in tags:
        _value(tag.key, tag.value)


def policies(tags: Iterable[Any]) -> dict[str, Any]:
    """``{"outlier": {...}, "retry": {...}, "loadBalancing": ...}`` from a service's tags."""
    out: dict[str, Any] = {}
    for tag in tags:
        try:
            found = _value(tag.key, tag.value)
        except InvalidParameterException:
            continue  # checked when set; an old bad value keeps the default
        if found is None:
            continue
        group, name, value = found
        if group:
            out.setdefault(group, {})[name] = value
        else:
            out[name] = value
    return out
