"""The Task resource and its containers.

Fields are the snake_case names of ECS's Task and Container shapes, so a task
serializes directly; ``reserved``, ``client_token``, ``service_arn`` and
``protected_until`` are portside's own and never leave the server (the last is
shown by GetTaskProtection: domain/ecs/task_protection.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from portside.domain.ecs.model import Reservation
from portside.domain.ecs.tags import Tag

# The lifecycle, in order (ECS's task lifecycle documentation).
LIFECYCLE = (
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
)


@dataclass(frozen=True, slots=True)
class Container:
    container_arn: str
    task_arn: str
    name: str
    image: str | None = None
    image_digest: str | None = None
    runtime_id: str | None = None
    last_status: str = "PENDING"
    exit_code: int | None = None
    reason: str | None = None
    network_bindings: tuple[Any, ...] = ()
    network_interfaces: tuple[Any, ...] = ()
    health_status: str = "UNKNOWN"
    cpu: str | None = None
    memory: str | None = None
    memory_reservation: str | None = None
    gpu_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Task:
    KIND: ClassVar[str] = "task"

    task_arn: str
    cluster_arn: str
    task_definition_arn: str
    created_at: datetime
    last_status: str = "PROVISIONING"
    desired_status: str = "RUNNING"
    launch_type: str | None = None
    capacity_provider_name: str | None = None
    container_instance_arn: str | None = None
    availability_zone: str | None = None
    containers: tuple[Container, ...] = ()
    cpu: str | None = None
    memory: str | None = None
    group: str | None = None
    started_by: str | None = None
    overrides: Any = None
    attachments: tuple[Any, ...] = ()
    attributes: tuple[Any, ...] = ()
    connectivity: str | None = None
    connectivity_at: datetime | None = None
    pull_started_at: datetime | None = None
    pull_stopped_at: datetime | None = None
    started_at: datetime | None = None
    stopping_at: datetime | None = None
    stopped_at: datetime | None = None
    execution_stopped_at: datetime | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    health_status: str = "UNKNOWN"
    platform_version: str | None = None
    platform_family: str | None = None
    enable_execute_command: bool = False
    version: int = 1
    tags: tuple[Tag, ...] = ()
    # portside's own
    reserved: Reservation = field(default_factory=Reservation)
    client_token: str | None = None
    service_arn: str | None = None
    protected_until: datetime | None = None
    """Scale-in protection lasts until then (UpdateTaskProtection); None: unprotected."""

    @property
    def key(self) -> str:
        return self.task_arn

    @property
    def parent(self) -> str | None:
        return self.cluster_arn

    @property
    def task_id(self) -> str:
        return self.task_arn.rsplit("/", 1)[-1]

    def protected(self, now: datetime) -> bool:
        """Scale-in protected at ``now``: protection lapses by itself, nothing clears it."""
        return self.protected_until is not None and now < self.protected_until

    @property
    def holds_resources(self) -> bool:
        """A placed task holds its reservation until it is STOPPED."""
        return self.container_instance_arn is not None and self.last_status != "STOPPED"
