"""RegisterTaskDefinition's validation, as ECS applies it, and what ECS computes.

``check_registration`` runs the checks in the order a reader would: the family
name, the container list (``task_definition_containers``), the task size
(``task_definition_sizes``), container sizes against the task size, then the
rules of every launch type the definition requires. It returns the normalized
definition together with ``compatibilities``: the launch types the definition
can run on whether or not it asked for them (EC2 always; EXTERNAL unless it
uses awsvpc; FARGATE when it meets Fargate's rules).

A definition with no ``requiresCompatibilities`` is checked as EC2, as ECS
does. Errors are ClientException, as ECS raises them for RegisterTaskDefinition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portside.domain.ecs.task_definition_containers import (
    MAX_CONTAINERS,
    check_containers,
    container_memory,
    gpu_count,
    network,
    normalize_container,
)
from portside.domain.ecs.task_definition_sizes import (
    check_ec2_task_cpu,
    check_fargate_size,
    parse_task_cpu,
    parse_task_memory,
)
from portside.domain.errors import ClientException

_FAMILY = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_FAMILY = 255
MAX_REQUEST_BYTES = 65536
EPHEMERAL_STORAGE_GIB = (21, 200)


@dataclass(frozen=True, slots=True)
class Checked:
    """A task definition's normalized parts, ready to be stored."""

    container_definitions: tuple[dict[str, Any], ...]
    cpu: str | None
    memory: str | None
    requires_compatibilities: tuple[str, ...]
    compatibilities: tuple[str, ...]


def check_family(family: str) -> None:
    if not family:
        raise ClientException("Family can not be blank.")
    if len(family) > MAX_FAMILY:
        raise ClientException(f"Family can have up to {MAX_FAMILY} characters.")
    if not _FAMILY.match(family):
        raise ClientException("Family contains invalid characters.")


def check_request_size(size: int) -> None:
    """ECS limits a task definition to 64 KiB of JSON."""
    if size > MAX_REQUEST_BYTES:
        raise ClientException(
            f"Actual length: '{size}'. Max allowed length is '{MAX_REQUEST_BYTES}' bytes."
        )


def check_registration(
    *,
    family: str,
    container_definitions: Sequence[Mapping[str, Any]],
    network_mode: str | None = None,
    requires_compatibilities: Sequence[str] | None = None,
    cpu: str | None = None,
    memory: str | None = None,
    pid_mode: str | None = None,
    ipc_mode: str | None = None,
    volumes: Sequence[Mapping[str, Any]] | None = None,
    ephemeral_storage: Mapping[str, Any] | None = None,
) -> Checked:
    check_family(family)
    if not container_definitions:
        raise ClientException("Container list cannot be empty.")
    if len(container_definitions) > MAX_CONTAINERS:
        raise ClientException("Too many containers.")
    containers = tuple(normalize_container(c, network_mode) for c in container_definitions)
    check_containers(containers)
    task_cpu = parse_task_cpu(cpu) if cpu is not None else None
    task_memory = parse_task_memory(memory) if memory is not None else None
    _check_against_task(containers, task_cpu, task_memory)
    required = tuple(dict.fromkeys(requires_compatibilities or ()))
    launch = _Launch(containers, network(network_mode), task_cpu, task_memory, pid_mode,
                     ipc_mode, tuple(volumes or ()), ephemeral_storage)
    for kind in required or ("EC2",):
        launch.require(kind)
    return Checked(
        container_definitions=containers,
        cpu=None if task_cpu is None else str(task_cpu),
        memory=None if task_memory is None else str(task_memory),
        requires_compatibilities=required,
        compatibilities=launch.compatibilities(required),
    )


def _check_against_task(
    containers: Sequence[Mapping[str, Any]], task_cpu: int | None, task_memory: int | None
) -> None:
    if task_memory is not None:
        for c in containers:
            if c.get("memory") is not None and c["memory"] > task_memory:
                raise ClientException(
                    f"The 'memory' setting for container '{c['name']}' is greater than for "
                    "the task."
                )
        reserved = sum(container_memory(c) or 0 for c in containers)
        if reserved > task_memory:
            raise ClientException(
                "The sum of all container 'memoryReservation' values cannot be greater than "
                "the value of the task 'memory'."
            )
    if task_cpu is not None and sum(c["cpu"] for c in containers) > task_cpu:
        raise ClientException(
            "The sum of all container 'cpu' values cannot be greater than the value of the "
            "task 'cpu'."
        )


@dataclass(frozen=True, slots=True)
class _Launch:
    """The launch-type rules for one definition: ``require`` raises, ``fits`` answers."""

    containers: tuple[Mapping[str, Any], ...]
    network: str
    cpu: int | None
    memory: int | None
    pid_mode: str | None
    ipc_mode: str | None
    volumes: tuple[Mapping[str, Any], ...]
    ephemeral_storage: Mapping[str, Any] | None

    def require(self, kind: str) -> None:
        if kind in ("EC2", "EXTERNAL", "MANAGED_INSTANCES"):
            self._require_instance_memory()
            if self.cpu is not None:
                check_ec2_task_cpu(self.cpu)
        if kind == "EXTERNAL" and self.network == "awsvpc":
            raise ClientException(
                "Task definitions that require EXTERNAL compatibility do not support "
                "networkMode 'awsvpc'. Use bridge, host or none."
            )
        if kind == "FARGATE":
            self._require_fargate()

    def _require_instance_memory(self) -> None:
        if self.memory is not None:
            return
        for c in self.containers:
            if container_memory(c) is None:
                raise ClientException(
                    f"Invalid setting for container '{c['name']}'. At least one of 'memory' "
                    "or 'memoryReservation' must be specified."
                )

    def _require_fargate(self) -> None:
        if self.network != "awsvpc":
            raise ClientException("Fargate only supports network mode \u2018awsvpc\u2019.")
        cpu, memory = self.cpu, self.memory
        if cpu is None:
            raise ClientException("Fargate requires that 'cpu' be defined at the task level.")
        if memory is None:
            raise ClientException("Fargate requires that 'memory' be defined at the task level.")
        check_fargate_size(cpu, memory)
        if self.ipc_mode is not None:
            raise ClientException("Tasks using the Fargate launch type do not support ipcMode.")
        if self.pid_mode not in (None, "task"):
            raise ClientException(
                f"Tasks using the Fargate launch type do not support pidMode "
                f"'{self.pid_mode}'. The supported value for pidMode is 'task'."
            )
        if any(gpu_count(c) for c in self.containers):
            raise ClientException(
                "Tasks using the Fargate launch type do not support GPU resource requirements."
            )
        for v in self.volumes:
            if (v.get("host") or {}).get("source_path") or v.get("docker_volume_configuration"):
                raise ClientException(
                    f"Tasks using the Fargate launch type do not support host or Docker "
                    f"volumes (volume '{v.get('name')}')."
                )
        size = (self.ephemeral_storage or {}).get("size_in_gi_b")
        lo, hi = EPHEMERAL_STORAGE_GIB
        if size is not None and not lo <= size <= hi:
            raise ClientException(
                f"The ephemeral storage size must be between {lo} and {hi} GiB."
            )

    def fits(self, kind: str) -> bool:
        try:
            self.require(kind)
        except ClientException:
            return False
        return True

    def compatibilities(self, required: Sequence[str]) -> tuple[str, ...]:
        """ECS's order: EXTERNAL, EC2, FARGATE, then MANAGED_INSTANCES if required."""
        out = [k for k in ("EXTERNAL", "EC2", "FARGATE") if self.fits(k)]
        if "MANAGED_INSTANCES" in required:
            out.append("MANAGED_INSTANCES")
        return tuple(out)
