"""Simulated EC2 instances: the ``simulated`` launcher, and the agent running on each.

The fleet plays the parts AWS plays around ECS:

- **Auto Scaling**: each group is launched to its desired capacity
  (``capacity_group.plan_launches``: zone balance, Spot share); an instance
  registers as a container instance of the provider's cluster after
  ``instanceBoot``; instances the scaling decision let go (Terminating:Proceed)
  are terminated. An instance lost otherwise (Spot, an outage) leaves the
  desired capacity as it was, so the group launches a replacement.
- **The ECS agent**: a placed task reaches RUNNING after ``taskStart`` (and
  HEALTHY, when its definition has a health check); a task asked to stop is
  STOPPED after ``taskStop``; the tasks of a terminated instance stop with it.
- **EC2 events**: a Spot interruption notice sets the instance DRAINING (the
  agent's ``ECS_ENABLE_SPOT_INSTANCE_DRAINING``) two minutes before it goes; an
  Availability Zone outage takes the zone's instances and refuses launches
  there until it ends. FARGATE_SPOT tasks get their own interruptions, and
  Fargate tasks are billed per task (sim/fargate.py).

Every instance is billed per second from launch to termination; the ledger
keeps them all for the cost figures.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portside.controllers import retention
from portside.controllers.capacity_group import Launch, plan_launches
from portside.controllers.capacity_model import (
    IN_SERVICE,
    PENDING,
    SPOT,
    TERMINATED,
    TERMINATING,
    GroupInstance,
    InstanceGroup,
)
from portside.controllers.task_state import PENDING_STATES, has_health_check
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import (
    RESERVED_PORTS,
    Attribute,
    ContainerInstance,
    Resource,
    VersionInfo,
)
from portside.domain.ecs.container_instances import DEFAULT_CAPABILITIES
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import TaskDefinition
from portside.sim.clock import FakeClock
from portside.sim.fargate import Ledger as FargateLedger
from portside.sim.fargate import spot_interruption as fargate_spot_interruption
from portside.sim.world import World
from portside.store.store import Delete

AGENT_VERSION = "1.90.0"
Note = Callable[[str, str], None]
"""(kind, message): something worth a line in the timeline's events."""


@dataclass(slots=True)
class Billed:
    instance_id: str
    group: str
    instance_type: str
    market: str
    availability_zone: str
    price_per_hour: float
    launched_at: datetime
    terminated_at: datetime | None = None

    def cost(self, until: datetime) -> float:
        end = min(self.terminated_at or until, until)
        seconds = max((end - self.launched_at).total_seconds(), 60.0)
        return self.price_per_hour * seconds / 3600.0


class Fleet:
    def __init__(self, world: World, clock: FakeClock, note: Note):
        self.world = world
        self.state = world.state
        self.clock = clock
        self.note = note
        self.settings = world.scenario.settings
        self.rng = random.Random(world.scenario.seed)
        self.unavailable: set[str] = set()
        self.ledger: dict[str, Billed] = {}
        self._open: dict[str, Billed] = {}
        self._closed_cost = 0.0
        self._serial = 0
        self._problems: dict[str, str] = {}
        self.fargate = FargateLedger()

    # -- Auto Scaling --------------------------------------------------------

    def reconcile(self) -> None:
        """Terminate what was let go; launch each group to its desired capacity."""
        for group in list(self.state.all(InstanceGroup.KIND).values()):
            members = list(self.state.children(GroupInstance.KIND, group.auto_scaling_group_arn).values())
            for i in members:
                if i.lifecycle_state == TERMINATING:
                    self.terminate(i, i.status_reason or "Terminated by scale-in.", "TerminationNotice")
            members = list(self.state.children(GroupInstance.KIND, group.auto_scaling_group_arn).values())
            launches, problem = plan_launches(group, members, self.unavailable)
            name = group.auto_scaling_group_name
            if problem and self._problems.get(name) != problem:
                self.note("launch-failed", f"{name}: {problem}")
            self._problems[name] = problem or ""
            for launch in launches:
                self._launch(group, launch)

    def _launch(self, group: InstanceGroup, launch: Launch) -> None:
        self._serial += 1
        now = self.clock.now()
        iid = f"i-{self._serial:017x}"
        gi = GroupInstance(
            instance_id=iid, auto_scaling_group_arn=group.auto_scaling_group_arn,
            availability_zone=launch.availability_zone, instance_type=launch.spec.name,
            launched_at=now, lifecycle_state=PENDING, market=launch.market,
            protected_from_scale_in=group.new_instances_protected_from_scale_in,
        )  # fmt: skip
        price = launch.spec.price_per_hour
        if launch.market == SPOT:
            price *= self.settings.spot_price_factor
        billed = Billed(iid, group.auto_scaling_group_name, launch.spec.name, launch.market,
                        launch.availability_zone, price, now)  # fmt: skip
        self.ledger[iid] = self._open[iid] = billed
        self.state.commit([gi])
        self.clock.call_later(self.settings.instance_boot, lambda: self._boot(gi))

    def _boot(self, launched: GroupInstance) -> None:
        gi = self.state.get(GroupInstance.KIND, launched.instance_id)
        if not isinstance(gi, GroupInstance) or gi.lifecycle_state != PENDING:
            return
        group = self.state.get(InstanceGroup.KIND, gi.auto_scaling_group_arn)
        provider = self.world.provider_of_group(gi.auto_scaling_group_arn)
        cluster = self._cluster_of(provider.name if provider else None)
        if not isinstance(group, InstanceGroup) or cluster is None:
            self.state.commit([dataclasses.replace(gi, lifecycle_state=IN_SERVICE)])
            return
        spec = next(s for s in group.instance_types if s.name == gi.instance_type)
        now = self.clock.now()
        ci = ContainerInstance(
            container_instance_arn=self.world.scope.ecs(
                f"container-instance/{cluster.cluster_name}/"
                f"{uuid.uuid5(uuid.NAMESPACE_OID, gi.instance_id).hex}"
            ),
            cluster_arn=cluster.cluster_arn,
            registered_at=now,
            ec2_instance_id=gi.instance_id,
            capacity_provider_name=provider.name if provider else None,
            version_info=VersionInfo(agent_version=AGENT_VERSION, docker_version="25.0.8"),
            registered_resources=(
                Resource("CPU", "INTEGER", integer_value=spec.cpu),
                Resource("MEMORY", "INTEGER", integer_value=spec.memory),
                Resource("PORTS", "STRINGSET", string_set_value=tuple(map(str, RESERVED_PORTS))),
                Resource("PORTS_UDP", "STRINGSET", string_set_value=()),
                Resource("ENI", "INTEGER", integer_value=spec.eni_slots),
                # the agent reports GPUs as platformDevices ids; without them no GPU task fits
                *([Resource("GPU", "STRINGSET", string_set_value=tuple(
                    f"GPU-{gi.instance_id}-{n}" for n in range(spec.gpus)))] if spec.gpus else []),
            ),
            attributes=(
                Attribute("ecs.availability-zone", gi.availability_zone),
                Attribute("ecs.instance-type", gi.instance_type),
                Attribute("ecs.cpu-architecture", spec.architecture),
                Attribute("ecs.os-type", "linux"),
                *(Attribute(c) for c in DEFAULT_CAPABILITIES),
            ),
            last_heartbeat_at=now,
        )
        self.state.commit([ci, dataclasses.replace(
            gi, lifecycle_state=IN_SERVICE, container_instance_arn=ci.container_instance_arn)])

    def _cluster_of(self, provider: str | None) -> Cluster | None:
        clusters: list[Cluster] = [c for c in self.state.all(Cluster.KIND).values() if c.active]
        for c in clusters:
            if provider and provider in c.capacity_providers:
                return c
        return next((c for c in clusters if c.cluster_name == "default"), None)

    def terminate(self, gi: GroupInstance, reason: str, stop_code: str) -> None:
        now = self.clock.now()
        changes: list[Any] = [dataclasses.replace(
            gi, lifecycle_state=TERMINATED, terminated_at=now, status_reason=reason)]
        ci = self.state.get(ContainerInstance.KIND, gi.container_instance_arn or "")
        if isinstance(ci, ContainerInstance):
            changes.append(dataclasses.replace(
                ci, status="INACTIVE", agent_connected=False, version=ci.version + 1))
            for t in self.state.children(Task.KIND, ci.cluster_arn).values():
                if t.container_instance_arn == ci.container_instance_arn and t.last_status != "STOPPED":
                    changes.append(_stopped(t, now, f"Host EC2 (instance {gi.instance_id}) "
                                            f"terminated: {reason}", stop_code))
        billed = self._open.pop(gi.instance_id, None)
        if billed is not None:
            billed.terminated_at = now
            self._closed_cost += billed.cost(now)
        self.state.commit(changes)

    # -- EC2 events ----------------------------------------------------------

    def az_outage(self, zone: str, lasting: timedelta) -> None:
        self.unavailable.add(zone)
        lost = [i for i in self.state.all(GroupInstance.KIND).values()
                if i.availability_zone == zone and i.lifecycle_state != TERMINATED]
        for i in lost:
            self.terminate(i, f"Availability Zone {zone} outage.", "TerminationNotice")
        self.note("az-outage", f"{zone} is down for {lasting}: {len(lost)} instances lost; "
                               "no launches there until it recovers.")

        def recover() -> None:
            self.unavailable.discard(zone)
            self.note("az-recovered", f"{zone} has recovered.")

        self.clock.call_later(lasting, recover)

    def spot_interruption(self, group_name: str, count: int | None, fraction: float | None) -> None:
        group = next((g for g in self.state.all(InstanceGroup.KIND).values()
                      if g.auto_scaling_group_name == group_name), None)
        if group is None:
            self.note("spot-interruption", f"no group {group_name}: nothing interrupted.")
            return
        spot = sorted(
            (i for i in self.state.children(GroupInstance.KIND, group.auto_scaling_group_arn).values()
             if i.market == SPOT and i.live),
            key=lambda i: i.instance_id,
        )  # fmt: skip
        n = count if count is not None else round(len(spot) * float(fraction or 0))
        chosen = self.rng.sample(spot, min(n, len(spot)))
        for i in chosen:
            ci = self.state.get(ContainerInstance.KIND, i.container_instance_arn or "")
            changes: list[Any] = [dataclasses.replace(i, status_reason="Spot interruption notice.")]
            if isinstance(ci, ContainerInstance) and ci.registered:
                changes.append(dataclasses.replace(ci, status="DRAINING", version=ci.version + 1))
            self.state.commit(changes)
            self.clock.call_later(self.settings.spot_warning, _bind(self._reclaim, i))
        self.note("spot-interruption", f"{group_name}: {len(chosen)} of {len(spot)} Spot "
                                       "instances got the two-minute interruption notice.")

    def _reclaim(self, i: GroupInstance) -> None:
        current = self.state.get(GroupInstance.KIND, i.instance_id)
        if isinstance(current, GroupInstance) and current.lifecycle_state != TERMINATED:
            self.terminate(current, "Spot instance reclaimed by EC2.", "SpotInterruption")

    # -- the ECS agent -------------------------------------------------------

    def started(self, tasks: Iterable[Task]) -> None:
        arns = [t.task_arn for t in tasks]
        if arns:
            self.clock.call_later(self.settings.task_start, lambda: self._run(arns))

    def _run(self, arns: list[str]) -> None:
        now = self.clock.now()
        changes: list[Task] = []
        checked: dict[str, bool] = {}
        for arn in arns:
            t = self.state.get(Task.KIND, arn)
            if not isinstance(t, Task) or t.desired_status != "RUNNING":
                continue
            if t.container_instance_arn is None:  # waits for capacity (PROVISIONING)
                continue
            if t.last_status not in PENDING_STATES:
                continue
            if t.task_definition_arn not in checked:
                td = self.state.get(TaskDefinition.KIND, t.task_definition_arn)
                checked[t.task_definition_arn] = has_health_check(td)
            changes.append(dataclasses.replace(
                t, last_status="RUNNING", started_at=now, pull_started_at=t.created_at,
                pull_stopped_at=now, connectivity="CONNECTED", connectivity_at=now,
                health_status="HEALTHY" if checked[t.task_definition_arn] else t.health_status,
                version=t.version + 1,
            ))  # fmt: skip
        self.state.commit(changes)
        for t in changes:
            self.fargate.started(t, now)

    def stopping(self, tasks: Iterable[Task]) -> None:
        arns = [t.task_arn for t in tasks]
        if arns:
            self.clock.call_later(self.settings.task_stop, lambda: self._stop(arns))

    def _stop(self, arns: list[str]) -> None:
        now = self.clock.now()
        changes = []
        for arn in arns:
            t = self.state.get(Task.KIND, arn)
            if isinstance(t, Task) and t.last_status != "STOPPED":
                changes.append(_stopped(t, now, t.stopped_reason, t.stop_code))
                self.fargate.stopped(arn, now)
        self.state.commit(changes)

    def fargate_spot_interruption(self, count: int | None, fraction: float | None) -> None:
        """ECS's two-minute warning to FARGATE_SPOT tasks (sim/fargate.py)."""
        n, of = fargate_spot_interruption(
            self.state, self.rng, self.clock.now(), self.settings.spot_warning, count, fraction,
            self.clock.call_later, lambda arns, _reason, _code: self._stop(arns),
        )  # fmt: skip
        self.note("fargate-spot-interruption", f"{n} of {of} running FARGATE_SPOT tasks got "
                                               "the two-minute interruption warning.")

    # -- housekeeping --------------------------------------------------------

    def prune(self) -> None:
        """Forget STOPPED tasks, deleted task definitions (the live server's retention
        decision, controllers/retention.py), and terminated instances after a while."""
        now = self.clock.now()
        cutoff = now - self.settings.stopped_retention
        gone: list[Delete] = retention.decide(self.state, now, self.settings.stopped_retention).changes()
        for i in self.state.all(GroupInstance.KIND).values():
            if i.lifecycle_state == TERMINATED and (i.terminated_at or i.launched_at) < cutoff:
                gone.append(Delete(GroupInstance.KIND, i.instance_id))
                if i.container_instance_arn:
                    gone.append(Delete(ContainerInstance.KIND, i.container_instance_arn))
        if gone:
            self.state.commit(gone)

    def live_cost_rate(self) -> float:
        """USD per hour of the instances and Fargate tasks running now."""
        return sum(b.price_per_hour for b in self._open.values()) + self.fargate.live_rate()

    def cost(self, until: datetime) -> float:
        """USD spent up to ``until`` (per second, at least a minute per instance)."""
        # Billed.cost of an instance still running, inlined: this runs every tick.
        return self._closed_cost + sum(
            b.price_per_hour * max((until - b.launched_at).total_seconds(), 60.0) / 3600.0
            for b in self._open.values()
        ) + self.fargate.cost(until)


def _stopped(t: Task, now: datetime, reason: str | None, code: str | None) -> Task:
    return dataclasses.replace(
        t, last_status="STOPPED", desired_status="STOPPED", stopped_at=now,
        execution_stopped_at=now, stopping_at=t.stopping_at or now,
        stopped_reason=reason or t.stopped_reason, stop_code=code or t.stop_code,
        version=t.version + 1,
    )  # fmt: skip


def _bind(fn: Callable[[GroupInstance], None], arg: GroupInstance) -> Callable[[], None]:
    return lambda: fn(arg)
