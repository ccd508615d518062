"""Hand-built worlds for managed scaling decisions: a cluster, a provider, its group, tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from portside.controllers.capacity_model import (
    IN_SERVICE,
    GroupInstance,
    InstanceGroup,
    InstanceSpec,
)
from portside.controllers.snapshot import MemorySnapshot
from portside.domain.ecs.capacity_provider import (
    AutoScalingGroupProvider,
    CapacityProvider,
    ManagedScaling,
)
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import Attribute, ContainerInstance, Resource
from portside.domain.ecs.model import Reservation, StrategyItem
from portside.domain.ecs.service import Deployment, Service
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import TaskDefinition

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PREFIX = "arn:aws:ecs:us-east-1:000000000000"
CLUSTER = f"{PREFIX}:cluster/c1"
CP = f"{PREFIX}:capacity-provider/cp"
ASG = ("arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1234:"
       "autoScalingGroupName/asg")  # fmt: skip
M5_LARGE = InstanceSpec("m5.large", cpu=2048, memory=7985, eni_slots=2, price_per_hour=0.096)
TD = f"{PREFIX}:task-definition/web:1"


def provider(target: int = 100, *, protection: bool = True, draining: bool = True,
             warmup: int = 300, min_step: int = 1, max_step: int = 10000) -> CapacityProvider:
    return CapacityProvider(
        capacity_provider_arn=CP, name="cp", created_at=NOW - timedelta(days=1),
        auto_scaling_group_provider=AutoScalingGroupProvider(
            auto_scaling_group_arn="asg",
            managed_scaling=ManagedScaling("ENABLED", target, min_step, max_step, warmup),
            managed_termination_protection="ENABLED" if protection else "DISABLED",
            managed_draining="ENABLED" if draining else "DISABLED",
        ),
    )


def group(desired: int, *, zones: tuple[str, ...] = ("us-east-1a",), max_size: int = 100,
          min_size: int = 0, types: tuple[InstanceSpec, ...] = (M5_LARGE,)) -> InstanceGroup:
    return InstanceGroup(ASG, "asg", NOW - timedelta(days=1), types, zones, min_size, max_size,
                         desired)  # fmt: skip


def cluster() -> Cluster:
    return Cluster(CLUSTER, "c1", NOW - timedelta(days=1), capacity_providers=("cp",),
                   default_capacity_provider_strategy=(StrategyItem("cp", 1),))  # fmt: skip


def ci_arn(n: int) -> str:
    return f"{PREFIX}:container-instance/c1/{n:032x}"


def instance(n: int, *, age: timedelta = timedelta(hours=1), zone: str = "us-east-1a",
             status: str = "ACTIVE", state: str = IN_SERVICE,
             protected: bool = False) -> tuple[GroupInstance, ContainerInstance]:
    gi = GroupInstance(f"i-{n:017x}", ASG, zone, "m5.large", NOW - age, state, protected,
                       container_instance_arn=ci_arn(n))  # fmt: skip
    ci = ContainerInstance(
        container_instance_arn=ci_arn(n), cluster_arn=CLUSTER, registered_at=NOW - age,
        ec2_instance_id=gi.instance_id, capacity_provider_name="cp", status=status,
        registered_resources=(Resource("CPU", "INTEGER", integer_value=2048),
                              Resource("MEMORY", "INTEGER", integer_value=7985)),
        attributes=(Attribute("ecs.availability-zone", zone),),
    )  # fmt: skip
    return gi, ci


def taskdef(cpu: int = 1024, memory: int = 2048) -> TaskDefinition:
    return TaskDefinition(TD, "web", 1, NOW - timedelta(days=1), container_definitions=(
        {"name": "app", "image": "app", "cpu": cpu, "memory": memory, "essential": True},
    ), network_mode="bridge")  # fmt: skip


def service(desired: int, *, name: str = "web", daemon: bool = False) -> Service:
    dep = Deployment("ecs-svc/1", "PRIMARY", TD, desired, NOW - timedelta(hours=2),
                     NOW - timedelta(hours=2), capacity_provider_strategy=(StrategyItem("cp", 1),))
    return Service(
        f"{PREFIX}:service/c1/{name}", name, CLUSTER, NOW - timedelta(hours=2), TD,
        desired_count=desired, capacity_provider_strategy=(StrategyItem("cp", 1),),
        deployments=(dep,), scheduling_strategy="DAEMON" if daemon else "REPLICA",
    )  # fmt: skip


_serial = iter(range(1, 10**6))


def task(on: int | None, *, svc: Service | None = None, status: str = "RUNNING",
         cpu: int = 1024, memory: int = 2048) -> Task:
    n = next(_serial)
    return Task(
        f"{PREFIX}:task/c1/{n:032x}", CLUSTER, TD, NOW - timedelta(hours=1), last_status=status,
        capacity_provider_name="cp", container_instance_arn=ci_arn(on) if on is not None else None,
        group=svc.group if svc else "family:web", started_by="ecs-svc/1" if svc else None,
        service_arn=svc.service_arn if svc else None, reserved=Reservation(cpu=cpu, memory=memory),
    )  # fmt: skip


def world(*things: Any, prov: CapacityProvider | None = None) -> MemorySnapshot:
    flat: list[Any] = []
    for t in things:
        flat.extend(t if isinstance(t, tuple) else (t,))
    return MemorySnapshot([cluster(), prov or provider(), taskdef(), *flat])
