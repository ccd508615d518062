"""What the placement engine reads and returns.

The engine reads a snapshot of container instances (:class:`InstanceState`,
what each has *left*) and a batch of :class:`TaskRequest`; it returns a
:class:`~portside.scheduler.engine.PlacementResult`. All of it is plain,
immutable data: the engine never sees the store or the clock.

ECS's failure reasons (API failure reasons, Developer Guide) are the
constants below; a rejected instance carries exactly one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from portside.domain.ecs.model import PortReservation, Reservation
from portside.domain.errors import InvalidParameterException
from portside.scheduler.query import Query, parse

# Rejection reasons, in the order the filters run.
STATUS = "STATUS"  # not ACTIVE (DRAINING, REGISTERING, …): never receives tasks, not a failure
LAUNCH_TYPE = "LAUNCH_TYPE"  # EXTERNAL task vs EC2 instance or the reverse: not a candidate
AGENT = "AGENT"
ATTRIBUTE = "ATTRIBUTE"
CPU = "RESOURCE:CPU"
MEMORY = "RESOURCE:MEMORY"
PORTS = "RESOURCE:PORTS"
GPU = "RESOURCE:GPU"
ENI = "RESOURCE:ENI"
DISTINCT_INSTANCE = "DistinctInstance placement constraint unsatisfied."
MEMBER_OF = "MemberOf placement constraint unsatisfied."
MISSING = "MISSING"

NOT_CANDIDATES = frozenset({STATUS, LAUNCH_TYPE})
"""Reasons that mean "not part of this placement at all": ECS lists no failure for them."""

DYNAMIC_PORTS = range(49153, 65536)
"""Host ports handed out for ``hostPort: 0`` (the agent's default dynamic range on Linux)."""

_EMPTY: Mapping[str, str] = MappingProxyType({})
_NO_GROUPS: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True, eq=False)
class InstanceState:
    """One container instance as the scheduler sees it: what is *left* on it now."""

    arn: str
    ec2_instance_id: str | None = None
    attributes: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    registered_at: datetime | None = None
    status: str = "ACTIVE"
    agent_connected: bool = True
    agent_version: str | None = None
    external: bool = False
    cpu: int = 0
    memory: int = 0
    registered_cpu: int = 0
    registered_memory: int = 0
    ports: frozenset[int] = frozenset()
    """TCP host ports taken (reserved ones and those of placed tasks)."""
    ports_udp: frozenset[int] = frozenset()
    gpus: tuple[str, ...] = ()
    """Free GPU ids."""
    eni_slots: int | None = None
    """awsvpc tasks that still fit, or None for no limit."""
    running_tasks_count: int = 0
    pending_tasks_count: int = 0
    groups: Mapping[str, int] = field(default_factory=lambda: _NO_GROUPS)
    """Task group -> number of tasks of that group on the instance not meant to stop."""

    @property
    def instance_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Constraint:
    """``distinctInstance``, or ``memberOf`` with a parsed cluster query expression."""

    type: str
    expression: str | None = None
    query: Query | None = field(default=None, compare=False, repr=False)

    @staticmethod
    def of(type: str, expression: str | None = None) -> Constraint:
        """A validated constraint (InvalidParameterException when it is not one)."""
        if type == "distinctInstance":
            if expression:
                raise InvalidParameterException(
                    "The distinctInstance placement constraint does not take an expression."
                )
            return Constraint(type)
        if type == "memberOf":
            if not expression:
                raise InvalidParameterException(
                    "The memberOf placement constraint requires an expression."
                )
            return Constraint(type, expression, parse(expression))
        raise InvalidParameterException(f"Unknown placement constraint type {type!r}.")


@dataclass(frozen=True, slots=True)
class Strategy:
    """``binpack`` (cpu | memory), ``spread`` (instanceId | host | attribute:NAME), ``random``."""

    type: str
    field: str | None = None

    @staticmethod
    def of(type: str, field: str | None = None) -> Strategy:
        if type == "binpack":
            if (field or "").lower() not in ("cpu", "memory"):
                raise InvalidParameterException(
                    f"Invalid field {field!r} for the binpack placement strategy: use cpu or memory."
                )
            return Strategy(type, field.lower() if field else None)
        if type == "spread":
            if not field:
                raise InvalidParameterException(
                    "The spread placement strategy needs a field: instanceId, host or "
                    "attribute:NAME."
                )
            if field.lower() in ("instanceid", "host"):
                return Strategy(type, "instanceId")
            if not field.startswith("attribute:") or len(field) == len("attribute:"):
                raise InvalidParameterException(
                    f"Invalid field {field!r} for the spread placement strategy: use "
                    "instanceId, host or attribute:NAME."
                )
            return Strategy(type, field)
        if type == "random":
            return Strategy(type)
        raise InvalidParameterException(f"Unknown placement strategy type {type!r}.")

    @property
    def label(self) -> str:
        return f"{self.type}({self.field})" if self.field else self.type


MAX_STRATEGIES = 5
MAX_CONSTRAINTS = 10

RUN_TASK_DEFAULT: tuple[Strategy, ...] = (Strategy("random"),)
"""ECS places standalone tasks randomly when no strategy is given."""

SERVICE_DEFAULT: tuple[Strategy, ...] = (
    Strategy("spread", "attribute:ecs.availability-zone"),
    Strategy("spread", "instanceId"),
)
"""ECS spreads a service's tasks over Availability Zones, then over instances in each zone."""


@dataclass(frozen=True, slots=True)
class RequiredAttribute:
    """A task definition's ``requiresAttributes`` entry: the instance must have it."""

    name: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """What one task needs. Identical requests share the engine's per-request work.

    ``ports`` are *host* ports (bridge: the fixed ``hostPort`` values; host: the
    container ports; awsvpc: none, the task has its own address) and
    ``dynamic_ports`` the count of ``hostPort: 0`` mappings. ``strategies``
    empty means ECS's default for the group (:func:`effective_strategies`).
    """

    cpu: int = 0
    memory: int = 0
    ports: tuple[PortReservation, ...] = ()
    dynamic_ports: int = 0
    dynamic_ports_udp: int = 0
    gpus: int = 0
    network_mode: str = "bridge"
    launch_type: str = "EC2"  # EC2 | EXTERNAL
    group: str | None = None
    required_attributes: tuple[RequiredAttribute, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    strategies: tuple[Strategy, ...] = ()

    @property
    def eni(self) -> bool:
        return self.network_mode == "awsvpc"

    def effective_strategies(self) -> tuple[Strategy, ...]:
        return effective_strategies(self.strategies, self.group)


def effective_strategies(
    strategies: tuple[Strategy, ...], group: str | None
) -> tuple[Strategy, ...]:
    """The strategies ECS applies: the given ones, else its default for a service or a task."""
    if strategies:
        return strategies
    if group and group.startswith("service:"):
        return SERVICE_DEFAULT
    return RUN_TASK_DEFAULT


@dataclass(frozen=True, slots=True)
class Placement:
    """Task ``task_index`` of the batch goes to ``instance_arn`` and holds ``reservation``."""

    task_index: int
    instance_arn: str
    reservation: Reservation


@dataclass(frozen=True, slots=True)
class PlacementFailure:
    """One entry of a RunTask-style ``failures`` list: an instance and why it did not fit."""

    arn: str | None
    reason: str
    detail: str | None = None
