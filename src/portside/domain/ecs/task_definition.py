"""The TaskDefinition resource and its per-family revision counter.

Fields are the snake_case names of ECS's TaskDefinition shape, so a revision
serializes directly. Nested request structures (container definitions,
volumes, constraints, …) are kept as the snake_case dicts the request gave,
after normalization by ``task_definition_rules``; ``tags`` is served only by
DescribeTaskDefinition's ``include=["TAGS"]``, next to the definition.

A revision's status moves ACTIVE → INACTIVE (DeregisterTaskDefinition) →
DELETE_IN_PROGRESS (DeleteTaskDefinitions); revisions are never reused. The
family record holds the last revision handed out, so numbering survives
deregistration and deletion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from portside.domain.ecs.tags import Tag

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    KIND: ClassVar[str] = "task_definition"

    task_definition_arn: str
    family: str
    revision: int
    registered_at: datetime
    container_definitions: tuple[dict[str, Any], ...] = ()
    status: str = ACTIVE
    network_mode: str | None = None
    requires_compatibilities: tuple[str, ...] = ()
    compatibilities: tuple[str, ...] = ()
    cpu: str | None = None  # CPU units, e.g. "1024"
    memory: str | None = None  # MiB, e.g. "2048"
    task_role_arn: str | None = None
    execution_role_arn: str | None = None
    volumes: tuple[dict[str, Any], ...] = ()
    placement_constraints: tuple[dict[str, Any], ...] = ()
    requires_attributes: tuple[dict[str, Any], ...] = ()
    runtime_platform: dict[str, Any] | None = None
    inference_accelerators: tuple[dict[str, Any], ...] = ()
    pid_mode: str | None = None
    ipc_mode: str | None = None
    proxy_configuration: dict[str, Any] | None = None
    ephemeral_storage: dict[str, Any] | None = None
    enable_fault_injection: bool | None = None
    trusted_execution_configuration: dict[str, Any] | None = None
    deregistered_at: datetime | None = None
    delete_requested_at: datetime | None = None
    registered_by: str | None = None
    tags: tuple[Tag, ...] = ()

    @property
    def key(self) -> str:
        return self.task_definition_arn

    @property
    def parent(self) -> str | None:
        return None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def container(self, name: str) -> dict[str, Any] | None:
        """The container definition called ``name``, if any."""
        for c in self.container_definitions:
            if c.get("name") == name:
                return c
        return None


@dataclass(frozen=True, slots=True)
class TaskDefinitionFamily:
    """The revision counter of one family (in one account and region).

    ``key`` is the family's ARN prefix, ``arn:…:task-definition/NAME``.
    """

    KIND: ClassVar[str] = "task_definition_family"

    family_arn: str
    family: str
    last_revision: int = 0

    @property
    def key(self) -> str:
        return self.family_arn

    @property
    def parent(self) -> str | None:
        return None
