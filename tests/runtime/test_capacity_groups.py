"""The group keeper (runtime/capacity_groups.py) on a real store and a stepped clock.

The launcher here is a small in-process one that records what it was asked and
fails when told to, as the ``simulated`` launcher stands in for EC2 in the
simulator: these tests are about what the keeper does with launches, crashes,
boot timeouts, failed terminations and deleted groups, one pass at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from portside.controllers.capacity_model import (
    IN_SERVICE,
    PENDING,
    TERMINATED,
    TERMINATING,
    GroupInstance,
    InstanceGroup,
    InstanceSpec,
    ScalingState,
)
from portside.domain.autoscaling.groups import DELETING
from portside.domain.ecs.capacity_provider import (
    ENABLED,
    AutoScalingGroupProvider,
    CapacityProvider,
    ManagedScaling,
)
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.kinds import KINDS
from portside.runtime.capacity_groups import BOOT_TIMEOUT, MAX_RESTARTS, Groups
from portside.runtime.launchers import Exited, LaunchError, LaunchRequest
from portside.store.store import Store, sqlite_url

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ACCOUNT, REGION = "000000000000", "us-east-1"
GROUP = f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:1:autoScalingGroupName/g"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod"
PROVIDER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:capacity-provider/cp"
SPEC = InstanceSpec("t3.small", cpu=2048, memory=1996, eni_slots=2)


class Recording:
    """A launcher that records every call; ``fail`` makes the next calls raise."""

    def __init__(self) -> None:
        self.launched: list[str] = []
        self.terminated: list[str] = []
        self.crashed: dict[str, int] = {}
        self.fail: str | None = None

    def launch(self, req: LaunchRequest) -> None:
        if self.fail:
            raise LaunchError(self.fail)
        self.launched.append(req.instance.instance_id)
        self.crashed.pop(req.instance.instance_id, None)

    def terminate(self, req: LaunchRequest) -> None:
        if self.fail:
            raise LaunchError(self.fail)
        self.terminated.append(req.instance.instance_id)

    def tracks(self, instance_id: str) -> bool:
        return instance_id in self.launched

    def exited(self, instance_id: str) -> Exited | None:
        code = self.crashed.get(instance_id)
        return None if code is None else Exited(code, f"exited with code {code}")

    def close(self) -> None:
        pass


@dataclasses.dataclass
class Rig:
    store: Store
    launcher: Recording
    groups: Groups
    now: list[datetime]

    def settle(self, after: timedelta = timedelta(0)) -> None:
        self.now[0] += after
        asyncio.run(self.groups.settle())

    def instances(self) -> list[GroupInstance]:
        return sorted(self.store.children(GroupInstance.KIND, GROUP).values(),
                      key=lambda i: (i.launched_at, i.instance_id))

    def live(self) -> list[GroupInstance]:
        return [i for i in self.instances() if i.live]

    def activities(self) -> list[Any]:
        state = self.store.get(ScalingState.KIND, PROVIDER)
        return list(state.activities) if isinstance(state, ScalingState) else []

    def register(self, i: GroupInstance) -> ContainerInstance:
        ci = ContainerInstance(container_instance_arn=f"{CLUSTER}/ci-{i.instance_id}".replace(
            "cluster/prod", "container-instance/prod"), cluster_arn=CLUSTER, registered_at=self.now[0],
            ec2_instance_id=i.instance_id)  # fmt: skip
        self.store.commit([ci])
        return ci


@pytest.fixture
def rig(tmp_path: Path) -> Any:
    store = Store(sqlite_url(tmp_path), KINDS)
    store.commit([
        Cluster(CLUSTER, "prod", T0, capacity_providers=("cp",)),
        CapacityProvider(PROVIDER, "cp", T0, auto_scaling_group_provider=AutoScalingGroupProvider(
            GROUP, ManagedScaling(status=ENABLED))),
        InstanceGroup(GROUP, "g", T0, (SPEC,), ("us-east-1a", "us-east-1b"), max_size=4,
                      desired_capacity=2, launcher="test"),
    ])  # fmt: skip
    now = [T0]
    launcher = Recording()
    groups = Groups(store, {"test": launcher}, "http://127.0.0.1:4600", lambda: now[0],
                    retry_after=timedelta(minutes=1))
    yield Rig(store, launcher, groups, now)
    store.close()


def test_launches_to_desired_and_binds_registrations(rig: Rig) -> None:
    rig.settle()
    live = rig.live()
    assert sorted(i.availability_zone for i in live) == ["us-east-1a", "us-east-1b"]  # balance
    assert all(i.lifecycle_state == PENDING for i in live)
    assert sorted(rig.launcher.launched) == sorted(i.instance_id for i in live)
    assert [a.action for a in rig.activities()] == ["launch", "launch"]

    ci = rig.register(live[0])
    rig.settle()
    bound = rig.store.get(GroupInstance.KIND, live[0].instance_id)
    assert bound.lifecycle_state == IN_SERVICE
    assert bound.container_instance_arn == ci.container_instance_arn
    assert rig.store.get(ContainerInstance.KIND, ci.container_instance_arn).capacity_provider_name == "cp"
    assert len(rig.launcher.launched) == 2  # nothing more to launch


def test_a_crashing_agent_is_restarted_then_replaced(rig: Rig) -> None:
    rig.settle()
    victim = rig.live()[0]
    rig.register(victim)
    for _ in range(MAX_RESTARTS):
        rig.launcher.crashed[victim.instance_id] = 1
        rig.settle()
        assert rig.store.get(GroupInstance.KIND, victim.instance_id).live
    assert rig.launcher.launched.count(victim.instance_id) == 1 + MAX_RESTARTS
    rig.launcher.crashed[victim.instance_id] = 1
    rig.settle()
    gone = rig.store.get(GroupInstance.KIND, victim.instance_id)
    assert gone.lifecycle_state == TERMINATED and "exited with code 1" in (gone.status_reason or "")
    ci = rig.store.get(ContainerInstance.KIND, gone.container_instance_arn)
    assert ci.status == "INACTIVE"
    assert len(rig.live()) == 2  # replaced
    assert "instance-lost" in [a.action for a in rig.activities()]


def test_an_instance_that_never_registers_is_replaced(rig: Rig) -> None:
    rig.settle()
    first = {i.instance_id for i in rig.live()}
    rig.settle(BOOT_TIMEOUT + timedelta(seconds=1))
    assert not first & {i.instance_id for i in rig.live()}
    assert len(rig.live()) == 2
    assert set(rig.launcher.terminated) == first
    lost = [a for a in rig.activities() if a.action == "instance-lost"]
    assert len(lost) == 2 and "did not register as a container instance within 10 minutes" in lost[0].cause


def test_failed_launches_and_terminations_are_activities_retried_a_period_later(rig: Rig) -> None:
    rig.launcher.fail = "the pool is empty"
    rig.settle()
    assert rig.live() == [] and [i.lifecycle_state for i in rig.instances()] == [TERMINATED]
    failed = rig.activities()[0]
    assert failed.action == "launch-failed" and failed.cause == "the pool is empty"
    rig.settle(timedelta(seconds=30))
    assert len(rig.instances()) == 1  # not before the period is over
    rig.launcher.fail = None
    rig.settle(timedelta(seconds=31))
    assert len(rig.live()) == 2

    # Let one go: the first termination fails, the next (a period later) works.
    i = rig.live()[0]
    rig.register(i)
    rig.settle()
    rig.store.commit([dataclasses.replace(rig.store.get(GroupInstance.KIND, i.instance_id),
                                          lifecycle_state=TERMINATING, status_reason="Scale-in.")])
    rig.store.commit([dataclasses.replace(rig.store.get(InstanceGroup.KIND, GROUP), desired_capacity=1)])
    rig.launcher.fail = "ssh: connection refused"
    rig.settle()
    assert rig.activities()[0].action == "terminate-failed"
    assert rig.store.get(GroupInstance.KIND, i.instance_id).lifecycle_state == TERMINATING
    rig.launcher.fail = None
    rig.settle(timedelta(seconds=10))
    assert rig.launcher.terminated == []
    rig.settle(timedelta(minutes=1))
    assert rig.launcher.terminated == [i.instance_id]
    gone = rig.store.get(GroupInstance.KIND, i.instance_id)
    assert gone.lifecycle_state == TERMINATED and gone.status_reason == "Scale-in."
    assert rig.store.get(ContainerInstance.KIND, gone.container_instance_arn).status == "INACTIVE"


def test_a_group_being_deleted_goes_with_its_last_instance(rig: Rig) -> None:
    rig.settle()
    group = rig.store.get(InstanceGroup.KIND, GROUP)
    rig.store.commit([
        dataclasses.replace(group, status=DELETING, desired_capacity=0, max_size=0),
        *(dataclasses.replace(i, lifecycle_state=TERMINATING) for i in rig.live()),
    ])  # fmt: skip
    rig.settle()
    assert rig.store.get(InstanceGroup.KIND, GROUP) is None
    assert rig.instances() == []
    assert len(rig.launcher.terminated) == 2
