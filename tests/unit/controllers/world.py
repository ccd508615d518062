"""Hand-built worlds for controller tests: a cluster, instances, task definitions, tasks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from portside.controllers.services import Decision, decide
from portside.controllers.snapshot import MemorySnapshot
from portside.controllers.task_state import Policy
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import Attribute, ContainerInstance, Resource
from portside.domain.ecs.model import Reservation
from portside.domain.ecs.service import Deployment, DeploymentConfiguration, Service, ServiceEvent
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import TaskDefinition

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
PREFIX = "arn:aws:ecs:us-east-1:000000000000"
CLUSTER = f"{PREFIX}:cluster/c1"
SVC = f"{PREFIX}:service/c1/web"
HEALTH = {"command": ["CMD-SHELL", "true"], "interval": 30, "timeout": 5, "retries": 3}


def td_arn(rev: int, family: str = "web") -> str:
    return f"{PREFIX}:task-definition/{family}:{rev}"


def taskdef(rev: int = 1, *, health: bool = False, memory: int = 512, cpu: int = 256,
            requires: tuple[dict[str, Any], ...] = ()) -> TaskDefinition:
    container: dict[str, Any] = {
        "name": "app", "image": "busybox", "cpu": cpu, "memory": memory, "essential": True,
    }
    if health:
        container["health_check"] = HEALTH
    return TaskDefinition(
        task_definition_arn=td_arn(rev), family="web", revision=rev, registered_at=NOW - 10 * HOUR,
        container_definitions=(container,), network_mode="bridge",
        compatibilities=("EC2", "EXTERNAL"), requires_attributes=requires,
    )


def instance(n: int, *, az: str = "us-east-1a", cpu: int = 2048, memory: int = 4096,
             status: str = "ACTIVE", connected: bool = True,
             heartbeat: datetime | None = None, attrs: dict[str, str] | None = None,
             ) -> ContainerInstance:
    attributes = [Attribute("ecs.availability-zone", az)]
    attributes += [Attribute(k, v) for k, v in (attrs or {}).items()]
    return ContainerInstance(
        container_instance_arn=ci_arn(n), cluster_arn=CLUSTER,
        registered_at=NOW - 10 * HOUR - timedelta(seconds=n), ec2_instance_id=f"i-{n:017x}",
        registered_resources=(
            Resource("CPU", "INTEGER", integer_value=cpu),
            Resource("MEMORY", "INTEGER", integer_value=memory),
            Resource("PORTS", "STRINGSET", string_set_value=("22",)),
        ),
        status=status, agent_connected=connected, attributes=tuple(attributes),
        last_heartbeat_at=heartbeat,
    )


def ci_arn(n: int) -> str:
    return f"{PREFIX}:container-instance/c1/{n:032x}"


def deployment(n: int, rev: int, status: str = "PRIMARY", rollout: str = "IN_PROGRESS",
               desired: int = 3, created: datetime | None = None) -> Deployment:
    return Deployment(
        id=dep_id(n), status=status, task_definition=td_arn(rev), desired_count=desired,
        created_at=created or NOW - (10 - n) * HOUR, updated_at=NOW - HOUR,
        launch_type="EC2", rollout_state=rollout,
    )


def dep_id(n: int) -> str:
    return f"ecs-svc/{n:019d}"


def service(desired: int = 3, *, deployments: tuple[Deployment, ...] | None = None,
            minimum: int = 100, maximum: int = 200, breaker: Any = None,
            events: tuple[ServiceEvent, ...] = (), **kw: Any) -> Service:
    deps = deployments or (deployment(1, 1, desired=desired),)
    primary = next(d for d in deps if d.status == "PRIMARY")
    return Service(
        service_arn=SVC, service_name="web", cluster_arn=CLUSTER, created_at=NOW - 10 * HOUR,
        task_definition=primary.task_definition, desired_count=desired, launch_type="EC2",
        deployment_configuration=DeploymentConfiguration(
            maximum_percent=maximum, minimum_healthy_percent=minimum,
            deployment_circuit_breaker=breaker,
        ),
        deployments=deps, events=events, **kw,
    )


_serial = iter(range(1, 1_000_000))


def task(dep: int = 1, rev: int = 1, inst: int | None = 1, *, status: str = "RUNNING",
         desired: str = "RUNNING", started: datetime | None = NOW - HOUR,
         health: str = "UNKNOWN", az: str = "us-east-1a", created: datetime | None = None,
         stopped_at: datetime | None = None, stop_code: str | None = None,
         reason: str | None = None, memory: int = 512) -> Task:
    n = next(_serial)
    return Task(
        task_arn=f"{PREFIX}:task/c1/{n:032x}", cluster_arn=CLUSTER,
        task_definition_arn=td_arn(rev), created_at=created or NOW - 2 * HOUR + timedelta(seconds=n),
        last_status=status, desired_status=desired, launch_type="EC2",
        container_instance_arn=ci_arn(inst) if inst is not None else None,
        availability_zone=az, group="service:web", started_by=dep_id(dep),
        started_at=started if status in ("RUNNING", "DEACTIVATING", "STOPPING") or (
            status == "STOPPED" and started is not None and stop_code != "TaskFailedToStart"
        ) else None,
        stopped_at=stopped_at, stop_code=stop_code, stopped_reason=reason,
        health_status=health, reserved=Reservation(cpu=256, memory=memory),
        service_arn=SVC,
    )


def failed(dep: int, rev: int, at: datetime, inst: int = 1) -> Task:
    """A task that stopped before it ever ran (an image that cannot start)."""
    return task(dep, rev, inst, status="STOPPED", desired="STOPPED", started=None,
                stopped_at=at, stop_code="TaskFailedToStart", reason="CannotStartContainerError")


def world(svc: Service, *things: Any, tds: tuple[TaskDefinition, ...] | None = None,
          revision: int = 7) -> MemorySnapshot:
    cluster = Cluster(cluster_arn=CLUSTER, cluster_name="c1", created_at=NOW - 20 * HOUR)
    return MemorySnapshot([cluster, svc, *(tds or (taskdef(1), taskdef(2))), *things],
                          revision=revision)


def run(snap: MemorySnapshot, now: datetime = NOW, policy: Policy | None = None) -> Decision:
    return decide(snap, SVC, now, policy)


def applied(snap: MemorySnapshot, d: Decision) -> MemorySnapshot:
    """The snapshot with a decision written into it (what the runtime's commit does)."""
    for change in d.changes():
        snap.put(change)
    snap.revision += 1
    return snap


def messages(d: Decision) -> list[str]:
    assert d.service is not None
    return [e.message for e in d.service.events]


def with_status(t: Task, **changes: Any) -> Task:
    return dataclasses.replace(t, **changes)
