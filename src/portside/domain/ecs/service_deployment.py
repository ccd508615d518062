"""A service's deployment history: service deployments and service revisions.

ECS (since October 2024) keeps a read-only record of every service deployment
and of the service revision (the configuration) each one deployed, beside the
``deployments`` list of DescribeServices, which forgets a deployment once its
tasks are gone. Here each service deployment and each revision is a resource of
its own, under its service, so a service's history is read without loading
every other service's, and a commit of the service does not rewrite its history.

Identity follows the service's own deployments: a revision's id is the number in
its ``ecs-svc/NNN`` deployment id (as in ECS), and a service deployment's id is
derived from that deployment id, so a controller pass that records the same
deployment twice writes the same resource.

Statuses (Developer Guide, "View service history using Amazon ECS service
deployments"): PENDING, then IN_PROGRESS, STOP_REQUESTED, ROLLBACK_REQUESTED
or ROLLBACK_IN_PROGRESS while ongoing, and one of SUCCESSFUL, STOPPED,
ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED once finished.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from portside.domain.ecs.model import StrategyItem
from portside.domain.ecs.service import DeploymentConfiguration

ONGOING = frozenset({"PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED",
                     "ROLLBACK_IN_PROGRESS"})  # fmt: skip
FINISHED = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})


@dataclass(frozen=True, slots=True)
class RevisionSummary:
    """A ``ServiceRevisionSummary``: one revision's task counts within a deployment."""

    arn: str
    requested_task_count: int = 0
    running_task_count: int = 0
    pending_task_count: int = 0


@dataclass(frozen=True, slots=True)
class Rollback:
    reason: str
    started_at: datetime
    service_revision_arn: str


@dataclass(frozen=True, slots=True)
class CircuitBreakerState:
    """A ``ServiceDeploymentCircuitBreaker``: TRIGGERED, MONITORING, MONITORING_COMPLETE, DISABLED."""

    status: str = "DISABLED"
    failure_count: int = 0
    threshold: int = 0


@dataclass(frozen=True, slots=True)
class ServiceDeployment:
    KIND: ClassVar[str] = "service_deployment"

    service_deployment_arn: str
    service_arn: str
    cluster_arn: str
    deployment_id: str
    """The ``ecs-svc/…`` id of the deployment in DescribeServices."""
    created_at: datetime
    updated_at: datetime
    status: str = "PENDING"
    status_reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    target_service_revision: RevisionSummary | None = None
    source_service_revisions: tuple[RevisionSummary, ...] = ()
    source_deployment_ids: tuple[str, ...] = ()
    deployment_configuration: DeploymentConfiguration | None = None
    rollback: Rollback | None = None
    deployment_circuit_breaker: CircuitBreakerState | None = None

    @property
    def key(self) -> str:
        return self.service_deployment_arn

    @property
    def parent(self) -> str | None:
        return self.service_arn

    @property
    def target_service_revision_arn(self) -> str | None:
        """``ServiceDeploymentBrief.targetServiceRevisionArn``."""
        t = self.target_service_revision
        return t.arn if t is not None else None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True, slots=True)
class ServiceRevision:
    KIND: ClassVar[str] = "service_revision"

    service_revision_arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    created_at: datetime
    launch_type: str | None = None
    capacity_provider_strategy: tuple[StrategyItem, ...] = ()
    platform_version: str | None = None
    platform_family: str | None = None
    load_balancers: tuple[Any, ...] = ()
    service_registries: tuple[Any, ...] = ()
    network_configuration: Any = None
    container_images: tuple[Any, ...] = ()
    guard_duty_enabled: bool = False
    service_connect_configuration: Any = None

    @property
    def key(self) -> str:
        return self.service_revision_arn

    @property
    def parent(self) -> str | None:
        return self.service_arn


def _under(service_arn: str, kind: str, ident: str) -> str:
    """``…:service/CLUSTER/NAME`` -> ``…:KIND/CLUSTER/NAME/IDENT``."""
    head, _, path = service_arn.partition(":service/")
    return f"{head}:{kind}/{path}/{ident}"


def revision_arn(service_arn: str, deployment_id: str) -> str:
    """``service-revision/CLUSTER/SERVICE/ID``, ID the number of ``ecs-svc/ID``."""
    return _under(service_arn, "service-revision", deployment_id.rsplit("/", 1)[-1])


def deployment_arn(service_arn: str, deployment_id: str) -> str:
    """``service-deployment/CLUSTER/SERVICE/ID``, ID derived from the deployment's id."""
    digest = hashlib.sha256(f"service-deployment/{deployment_id}".encode()).digest()
    ident = base64.urlsafe_b64encode(digest[:15]).decode()
    return _under(service_arn, "service-deployment", ident)
