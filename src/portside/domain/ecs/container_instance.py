"""The ContainerInstance resource: a host registered into a cluster.

Fields are the snake_case names of ECS's ContainerInstance shape, so an
instance serializes directly, plus portside's own ``cluster_arn`` and
``last_heartbeat_at``. What an instance has left is not stored: it is its
``registered_resources`` minus the reservations of the tasks placed on it that
are not yet STOPPED (``Task.holds_resources``), computed when describing it
and when the scheduler takes its snapshot (:func:`usage`, :func:`remaining`).

Registered resources, as the ECS agent reports them:

    CPU        INTEGER    CPU units (1024 per vCPU)
    MEMORY     INTEGER    MiB
    PORTS      STRINGSET  TCP host ports already taken (22, 2375, 2376, 51678, 51679 always)
    PORTS_UDP  STRINGSET  UDP host ports already taken
    GPU        STRINGSET  GPU ids (from platformDevices)
    ENI        INTEGER    portside's own, optional: awsvpc task slots (absent = unlimited)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from portside.domain.ecs.model import Reservation
from portside.domain.ecs.tags import Tag

ACTIVE = "ACTIVE"
DRAINING = "DRAINING"
INACTIVE = "INACTIVE"
REGISTERING = "REGISTERING"
DEREGISTERING = "DEREGISTERING"
REGISTRATION_FAILED = "REGISTRATION_FAILED"

RESERVED_PORTS = (22, 2375, 2376, 51678, 51679)
"""Host ports ECS always counts as taken on an instance (ssh, Docker, the agent)."""


@dataclass(frozen=True, slots=True)
class Resource:
    """One entry of ``registeredResources`` / ``remainingResources``."""

    name: str
    type: str  # INTEGER | LONG | DOUBLE | STRINGSET
    integer_value: int | None = None
    long_value: int | None = None
    double_value: float | None = None
    string_set_value: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Attribute:
    """A name (and optional value) on an instance; ``target_*`` only in attribute listings."""

    name: str
    value: str | None = None
    target_type: str | None = None
    target_id: str | None = None


@dataclass(frozen=True, slots=True)
class VersionInfo:
    agent_version: str | None = None
    agent_hash: str | None = None
    docker_version: str | None = None


@dataclass(frozen=True, slots=True)
class HealthCheckResult:
    type: str  # CONTAINER_RUNTIME | ACCELERATED_COMPUTE | DAEMON | AGENT_CONNECTIVITY
    status: str  # OK | IMPAIRED | INSUFFICIENT_DATA | INITIALIZING
    status_reason: str | None = None
    last_updated: datetime | None = None
    last_status_change: datetime | None = None


@dataclass(frozen=True, slots=True)
class HealthStatus:
    overall_status: str = "INITIALIZING"
    details: tuple[HealthCheckResult, ...] = ()


@dataclass(frozen=True, slots=True)
class ContainerInstance:
    KIND: ClassVar[str] = "container_instance"

    container_instance_arn: str
    cluster_arn: str
    registered_at: datetime
    ec2_instance_id: str | None = None
    capacity_provider_name: str | None = None
    version: int = 1
    version_info: VersionInfo | None = None
    registered_resources: tuple[Resource, ...] = ()
    status: str = ACTIVE
    status_reason: str | None = None
    agent_connected: bool = True
    agent_update_status: str | None = None
    attributes: tuple[Attribute, ...] = ()
    attachments: tuple[Any, ...] = ()
    tags: tuple[Tag, ...] = ()
    health_status: HealthStatus | None = None
    # portside's own
    last_heartbeat_at: datetime | None = None

    @property
    def key(self) -> str:
        return self.container_instance_arn

    @property
    def parent(self) -> str | None:
        return self.cluster_arn

    @property
    def instance_id(self) -> str:
        """The last part of the ARN (a 32-digit hex id)."""
        return self.container_instance_arn.rsplit("/", 1)[-1]

    @property
    def registered(self) -> bool:
        """Counted in the cluster (ACTIVE or DRAINING); INACTIVE ones are deregistered."""
        return self.status in (ACTIVE, DRAINING)

    @property
    def external(self) -> bool:
        """An ECS Anywhere instance (``mi-…``): only EXTERNAL tasks go there."""
        return (self.ec2_instance_id or "").startswith("mi-")

    def attribute(self, name: str) -> str | None:
        """The value of attribute ``name`` ('' when it is set without a value), or None."""
        for a in self.attributes:
            if a.name == name:
                return a.value if a.value is not None else ""
        return None

    def has_attribute(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    def resource(self, name: str) -> Resource | None:
        for r in self.registered_resources:
            if r.name == name:
                return r
        return None

    @property
    def cpu(self) -> int:
        return _number(self.resource("CPU"))

    @property
    def memory(self) -> int:
        return _number(self.resource("MEMORY"))

    @property
    def ports(self) -> frozenset[int]:
        """TCP host ports taken before any task runs."""
        return _port_set(self.resource("PORTS"))

    @property
    def ports_udp(self) -> frozenset[int]:
        return _port_set(self.resource("PORTS_UDP"))

    @property
    def gpus(self) -> tuple[str, ...]:
        r = self.resource("GPU")
        return tuple(r.string_set_value or ()) if r is not None else ()

    @property
    def eni_slots(self) -> int | None:
        """How many awsvpc tasks fit, or None for no limit."""
        r = self.resource("ENI")
        return _number(r) if r is not None else None


@dataclass(slots=True)
class Usage:
    """What the non-STOPPED tasks on one instance hold, and how many there are."""

    cpu: int = 0
    memory: int = 0
    ports: set[int] = field(default_factory=set)
    ports_udp: set[int] = field(default_factory=set)
    gpus: set[str] = field(default_factory=set)
    enis: int = 0
    running_tasks_count: int = 0
    pending_tasks_count: int = 0
    groups: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        reserved: Reservation,
        last_status: str,
        group: str | None,
        desired_status: str = "RUNNING",
    ) -> None:
        self.cpu += reserved.cpu
        self.memory += reserved.memory
        for p in reserved.ports:
            (self.ports_udp if p.protocol == "udp" else self.ports).add(p.port)
        self.gpus.update(reserved.gpus)
        self.enis += 1 if reserved.eni else 0
        if last_status == "RUNNING":
            self.running_tasks_count += 1
        elif last_status in ("PROVISIONING", "PENDING", "ACTIVATING"):
            self.pending_tasks_count += 1
        if group and desired_status != "STOPPED":
            # ECS's distinctInstance and spread look at tasks not meant to stop.
            self.groups[group] = self.groups.get(group, 0) + 1


def usage(tasks: Iterable[Any]) -> dict[str, Usage]:
    """Per instance ARN, what the given tasks (a cluster's ``Task`` objects) hold."""
    out: dict[str, Usage] = {}
    for t in tasks:
        if not t.holds_resources:
            continue
        u = out.get(t.container_instance_arn)
        if u is None:
            u = out[t.container_instance_arn] = Usage()
        u.add(t.reserved, t.last_status, t.group, t.desired_status)
    return out


def remaining(instance: ContainerInstance, used: Usage | None) -> tuple[Resource, ...]:
    """``remainingResources``: registered minus what placed tasks hold."""
    if used is None:
        return instance.registered_resources
    out: list[Resource] = []
    for r in instance.registered_resources:
        if r.name in ("CPU", "MEMORY", "ENI"):
            taken = {"CPU": used.cpu, "MEMORY": used.memory, "ENI": used.enis}[r.name]
            out.append(_with_number(r, _number(r) - taken))
        elif r.name in ("PORTS", "PORTS_UDP"):
            extra = used.ports if r.name == "PORTS" else used.ports_udp
            ports = sorted(_port_set(r) | extra)
            out.append(Resource(r.name, "STRINGSET", string_set_value=tuple(map(str, ports))))
        elif r.name == "GPU":
            free = tuple(g for g in r.string_set_value or () if g not in used.gpus)
            out.append(Resource(r.name, "STRINGSET", string_set_value=free))
        else:
            out.append(r)
    return tuple(out)


def _number(r: Resource | None) -> int:
    if r is None:
        return 0
    for v in (r.integer_value, r.long_value, r.double_value):
        if v is not None:
            return int(v)
    return 0


def _with_number(r: Resource, value: int) -> Resource:
    if r.type == "LONG":
        return Resource(r.name, r.type, long_value=value)
    if r.type == "DOUBLE":
        return Resource(r.name, r.type, double_value=float(value))
    return Resource(r.name, "INTEGER", integer_value=value)


def _port_set(r: Resource | None) -> frozenset[int]:
    if r is None:
        return frozenset()
    return frozenset(int(p) for p in r.string_set_value or () if p.isdigit())


def counts(used: Mapping[str, Usage], arn: str) -> tuple[int, int]:
    """(running, pending) task counts for one instance."""
    u = used.get(arn)
    return (u.running_tasks_count, u.pending_tasks_count) if u else (0, 0)
