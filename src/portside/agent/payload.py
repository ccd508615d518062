"""What the control plane asks this agent to run, as typed values.

A ``TaskManifest`` carries TaskPayloads in ECS's own camelCase (see
docs/agent-protocol.md); :func:`parse_task` turns one into a :class:`TaskSpec`
at the session boundary, so the rest of the agent never sees a raw dict. The
parse is lenient: ECS already validated the task definition, and a field this
agent does not use is ignored rather than refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RUNNING = "RUNNING"
STOPPED = "STOPPED"

DEFAULT_STOP_TIMEOUT = 30.0
"""Seconds between SIGTERM and SIGKILL when a container sets no stopTimeout (ECS on EC2)."""


@dataclass(frozen=True, slots=True)
class PortMapping:
    container_port: int
    host_port: int | None = None  # None or 0: a dynamic host port (bridge)
    protocol: str = "tcp"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class HealthCheckSpec:
    """A container's healthCheck, with ECS's defaults filled in (seconds)."""

    command: tuple[str, ...]
    interval: float = 30.0
    timeout: float = 5.0
    retries: int = 3
    start_period: float = 0.0

    @property
    def shell(self) -> bool:
        return bool(self.command) and self.command[0] == "CMD-SHELL"

    @property
    def argv(self) -> tuple[str, ...]:
        """The probe as an argv: ``CMD-SHELL x`` runs ``/bin/sh -c x``; ``CMD a b`` runs ``a b``."""
        if not self.command:
            return ()
        if self.command[0] == "CMD-SHELL":
            return ("/bin/sh", "-c", " ".join(self.command[1:]))
        if self.command[0] == "CMD":
            return self.command[1:]
        return self.command


@dataclass(frozen=True, slots=True)
class Dependency:
    container_name: str
    condition: str  # START | COMPLETE | SUCCESS | HEALTHY


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    name: str
    image: str = ""
    essential: bool = True
    entry_point: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    port_mappings: tuple[PortMapping, ...] = ()
    health_check: HealthCheckSpec | None = None
    depends_on: tuple[Dependency, ...] = ()
    cpu: int = 0
    memory: int | None = None  # MiB, hard limit
    memory_reservation: int | None = None  # MiB, soft limit
    stop_timeout: float | None = None
    start_timeout: float | None = None
    working_directory: str | None = None
    user: str | None = None
    hostname: str | None = None
    docker_labels: tuple[tuple[str, str], ...] = ()
    extra_hosts: tuple[tuple[str, str], ...] = ()
    ulimits: tuple[tuple[str, int, int], ...] = ()  # (name, soft, hard)
    readonly_root_filesystem: bool = False
    privileged: bool = False
    init_process_enabled: bool = False

    @property
    def effective_stop_timeout(self) -> float:
        return self.stop_timeout if self.stop_timeout is not None else DEFAULT_STOP_TIMEOUT

    @property
    def argv(self) -> tuple[str, ...]:
        """entryPoint followed by command (the process driver runs exactly this)."""
        return self.entry_point + self.command


@dataclass(frozen=True, slots=True)
class TaskSpec:
    task_arn: str
    cluster_arn: str = ""
    task_definition_arn: str = ""
    family: str = ""
    revision: int = 0
    version: int = 0
    desired_status: str = RUNNING
    network_mode: str = "bridge"
    cpu: int | None = None  # task-level CPU units
    memory: int | None = None  # task-level MiB
    containers: tuple[ContainerSpec, ...] = ()
    service_name: str | None = None
    availability_zone: str | None = None
    launch_type: str | None = None
    stop_reason: str | None = None
    stop_code: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def task_id(self) -> str:
        return self.task_arn.rsplit("/", 1)[-1]

    @property
    def cluster_name(self) -> str:
        return self.cluster_arn.rsplit("/", 1)[-1]

    @property
    def wants_stop(self) -> bool:
        return self.desired_status == STOPPED

    def container(self, name: str) -> ContainerSpec | None:
        for c in self.containers:
            if c.name == name:
                return c
        return None


class PayloadError(ValueError):
    """A TaskPayload this agent cannot understand at all (no taskArn, say)."""


def parse_task(raw: Mapping[str, Any]) -> TaskSpec:
    arn = raw.get("taskArn")
    if not isinstance(arn, str) or not arn:
        raise PayloadError("a TaskPayload needs a taskArn")
    containers = tuple(parse_container(c) for c in raw.get("containers") or () if isinstance(c, Mapping))
    return TaskSpec(
        task_arn=arn,
        cluster_arn=str(raw.get("clusterArn") or ""),
        task_definition_arn=str(raw.get("taskDefinitionArn") or ""),
        family=str(raw.get("family") or ""),
        revision=_int(raw.get("revision")) or 0,
        version=_int(raw.get("version")) or 0,
        desired_status=STOPPED if raw.get("desiredStatus") == STOPPED else RUNNING,
        network_mode=str(raw.get("networkMode") or "bridge"),
        cpu=_int(raw.get("cpu")),
        memory=_int(raw.get("memory")),
        containers=containers,
        service_name=raw.get("serviceName") or None,
        availability_zone=raw.get("availabilityZone") or None,
        launch_type=raw.get("launchType") or None,
        stop_reason=raw.get("stopReason") or None,
        stop_code=raw.get("stopCode") or None,
    )


def parse_container(raw: Mapping[str, Any]) -> ContainerSpec:
    hc = raw.get("healthCheck")
    return ContainerSpec(
        name=str(raw.get("name") or ""),
        image=str(raw.get("image") or ""),
        essential=raw.get("essential", True) is not False,
        entry_point=_strings(raw.get("entryPoint")),
        command=_strings(raw.get("command")),
        environment=tuple(
            (str(e["name"]), str(e.get("value", "")))
            for e in raw.get("environment") or ()
            if isinstance(e, Mapping) and e.get("name")
        ),
        port_mappings=tuple(
            _port_mapping(p) for p in raw.get("portMappings") or () if isinstance(p, Mapping)
        ),
        health_check=_health_check(hc) if isinstance(hc, Mapping) and hc.get("command") else None,
        depends_on=tuple(
            Dependency(str(d["containerName"]), str(d.get("condition", "START")))
            for d in raw.get("dependsOn") or ()
            if isinstance(d, Mapping) and d.get("containerName")
        ),
        cpu=_int(raw.get("cpu")) or 0,
        memory=_int(raw.get("memory")),
        memory_reservation=_int(raw.get("memoryReservation")),
        stop_timeout=_float(raw.get("stopTimeout")),
        start_timeout=_float(raw.get("startTimeout")),
        working_directory=raw.get("workingDirectory") or None,
        user=raw.get("user") or None,
        hostname=raw.get("hostname") or None,
        docker_labels=tuple(sorted((str(k), str(v)) for k, v in (raw.get("dockerLabels") or {}).items())),
        extra_hosts=tuple(
            (str(h["hostname"]), str(h["ipAddress"]))
            for h in raw.get("extraHosts") or ()
            if isinstance(h, Mapping) and h.get("hostname") and h.get("ipAddress")
        ),
        ulimits=tuple(
            (str(u["name"]), int(u.get("softLimit", 0)), int(u.get("hardLimit", 0)))
            for u in raw.get("ulimits") or ()
            if isinstance(u, Mapping) and u.get("name")
        ),
        readonly_root_filesystem=bool(raw.get("readonlyRootFilesystem")),
        privileged=bool(raw.get("privileged")),
        init_process_enabled=bool((raw.get("linuxParameters") or {}).get("initProcessEnabled")),
    )


def _port_mapping(raw: Mapping[str, Any]) -> PortMapping:
    host = _int(raw.get("hostPort"))
    return PortMapping(
        container_port=_int(raw.get("containerPort")) or 0,
        host_port=host or None,
        protocol=str(raw.get("protocol") or "tcp").lower(),
        name=raw.get("name") or None,
    )


def _health_check(raw: Mapping[str, Any]) -> HealthCheckSpec:
    return HealthCheckSpec(
        command=_strings(raw.get("command")),
        interval=_float(raw.get("interval")) or 30.0,
        timeout=_float(raw.get("timeout")) or 5.0,
        retries=_int(raw.get("retries")) or 3,
        start_period=_float(raw.get("startPeriod")) or 0.0,
    )


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
