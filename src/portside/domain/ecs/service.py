"""The Service resource and its deployments.

Fields are the snake_case names of ECS's Service and Deployment shapes;
``client_token`` is portside's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from portside.domain.ecs.model import StrategyItem
from portside.domain.ecs.tags import Tag

MAX_EVENTS = 100


@dataclass(frozen=True, slots=True)
class DeploymentConfiguration:
    maximum_percent: int = 200
    minimum_healthy_percent: int = 100
    deployment_circuit_breaker: Any = None
    alarms: Any = None


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition: str
    desired_count: int
    created_at: datetime
    updated_at: datetime
    pending_count: int = 0
    running_count: int = 0
    failed_tasks: int = 0
    launch_type: str | None = None
    capacity_provider_strategy: tuple[StrategyItem, ...] = ()
    platform_version: str | None = None
    network_configuration: Any = None
    rollout_state: str = "IN_PROGRESS"  # IN_PROGRESS | COMPLETED | FAILED
    rollout_state_reason: str | None = None
    service_connect_configuration: Any = None
    service_connect_resources: tuple[Any, ...] = ()
    stop_requested: bool = False
    """StopServiceDeployment asked to roll this deployment back (the controller does it)."""


@dataclass(frozen=True, slots=True)
class ServiceEvent:
    id: str
    created_at: datetime
    message: str


@dataclass(frozen=True, slots=True)
class Service:
    KIND: ClassVar[str] = "service"

    service_arn: str
    service_name: str
    cluster_arn: str
    created_at: datetime
    task_definition: str
    status: str = "ACTIVE"  # ACTIVE | DRAINING | INACTIVE
    desired_count: int = 0
    running_count: int = 0
    pending_count: int = 0
    launch_type: str | None = None
    capacity_provider_strategy: tuple[StrategyItem, ...] = ()
    platform_version: str | None = None
    platform_family: str | None = None
    load_balancers: tuple[Any, ...] = ()
    service_registries: tuple[Any, ...] = ()
    deployment_configuration: DeploymentConfiguration = field(default_factory=DeploymentConfiguration)
    deployments: tuple[Deployment, ...] = ()
    events: tuple[ServiceEvent, ...] = ()
    role_arn: str | None = None
    placement_constraints: tuple[Any, ...] = ()
    placement_strategy: tuple[Any, ...] = ()
    network_configuration: Any = None
    health_check_grace_period_seconds: int | None = None
    scheduling_strategy: str = "REPLICA"  # REPLICA | DAEMON
    deployment_controller: Any = None
    tags: tuple[Tag, ...] = ()
    created_by: str | None = None
    enable_ecs_managed_tags: bool = False
    propagate_tags: str | None = None
    enable_execute_command: bool = False
    service_connect_configuration: Any = None
    availability_zone_rebalancing: str | None = None
    client_token: str | None = None

    @property
    def key(self) -> str:
        return self.service_arn

    @property
    def parent(self) -> str | None:
        return self.cluster_arn

    @property
    def group(self) -> str:
        return f"service:{self.service_name}"

    @property
    def primary(self) -> Deployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)
