"""Small builders for scheduler tests: instances and requests with readable defaults."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from portside.scheduler.model import (
    Constraint,
    InstanceState,
    Strategy,
    TaskRequest,
)

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def inst(
    n: int,
    *,
    cpu: int = 4096,
    memory: int = 8192,
    zone: str | None = None,
    kind: str = "m5.xlarge",
    attributes: dict[str, str] | None = None,
    **kw: Any,
) -> InstanceState:
    """Instance number ``n`` (its ARN ends in ``n``), zone ``ZONES[n % 3]`` unless given."""
    attrs = {"ecs.availability-zone": zone or ZONES[n % 3], "ecs.instance-type": kind}
    attrs.update(attributes or {})
    kw.setdefault("registered_at", datetime(2024, 1, 1, tzinfo=UTC))
    return InstanceState(
        arn=f"arn:aws:ecs:us-east-1:000000000000:container-instance/c/{n}",
        ec2_instance_id=f"i-{n:017x}",
        attributes=attrs,
        cpu=cpu,
        memory=memory,
        registered_cpu=kw.pop("registered_cpu", cpu),
        registered_memory=kw.pop("registered_memory", memory),
        **kw,
    )


def req(
    cpu: int = 0,
    memory: int = 0,
    *,
    strategies: tuple[tuple[str, str | None], ...] = (),
    constraints: tuple[tuple[str, str | None], ...] = (),
    group: str = "family:web",
    **kw: Any,
) -> TaskRequest:
    return TaskRequest(
        cpu=cpu,
        memory=memory,
        group=group,
        strategies=tuple(Strategy.of(t, f) for t, f in strategies),
        constraints=tuple(Constraint.of(t, e) for t, e in constraints),
        **kw,
    )


def number(arn: str | None) -> int:
    """The instance number at the end of an ARN made by :func:`inst`."""
    assert arn is not None
    return int(arn.rsplit("/", 1)[1])
