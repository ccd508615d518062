"""Auto Scaling on the live control plane: keep each group's instances as decided.

Managed scaling (controllers/capacity.py) writes a group's desired capacity
and marks the instances it lets go; this module plays EC2 and Auto Scaling
around it, as sim/fleet.py does on the simulator's clock, through the group's
launcher (runtime/launchers/). A pass, for every group whose launcher runs
live (``local``, ``command``):

1. **Registration.** A live instance without a container instance is bound to
   the one that registered as it (``ec2InstanceId`` or the attribute
   ``portside.instance-id``): the instance becomes InService and the container
   instance the capacity provider's, so tasks of that provider go there.
2. **Crashes.** An instance that has not registered within
   :data:`BOOT_TIMEOUT` is lost (terminated, and replaced). An agent that exited on its own is started again (as an ECS
   instance's init restarts its agent) up to :data:`MAX_RESTARTS` times; one
   whose container instance was deregistered, or that keeps exiting, is lost:
   the instance is Terminated and the group launches a replacement. After a
   control plane restart, the launcher starts the agents of live instances
   again (they adopt their tasks).
3. **Termination.** An instance let go (Terminating:Proceed) first has its
   remaining tasks stopped (daemon tasks; managed draining already moved the
   others), for at most :data:`TERMINATE_GRACE`; then the launcher stops it,
   its container instance is deregistered and the instance is Terminated.
4. **Tidying.** Instances Terminated over an hour ago are forgotten; a group
   being deleted with ForceDelete is removed once its last instance is gone.
5. **Launching** to the desired capacity (``capacity_group.plan_launches``: zone
   balance, Spot share). The instance is written (Pending) before the launcher
   is asked, so a crash in between leaves a record, not a stray machine.

Launchers block, so they run in worker threads; every write re-reads what it
changes afterwards. A launcher's failure is a scaling activity with its cause
on the provider's ScalingState (``portside capacity`` shows it), and that
group's launches or that instance's termination are tried again a period
later.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from portside.aws.arn import parse_arn
from portside.controllers.capacity import METRIC, trim
from portside.controllers.capacity_group import plan_launches
from portside.controllers.capacity_model import (
    IN_SERVICE,
    PENDING,
    TERMINATED,
    TERMINATING,
    GroupInstance,
    InstanceGroup,
    ScalingActivity,
    ScalingState,
)
from portside.domain.autoscaling.groups import DELETING
from portside.domain.ecs.capacity_provider import CapacityProvider
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import INACTIVE, ContainerInstance
from portside.domain.ecs.task import Task
from portside.domain.ecs.tasks import request_stop
from portside.runtime.launchers.base import (
    INSTANCE_ATTRIBUTE,
    Launcher,
    LaunchError,
    LaunchRequest,
)
from portside.store.store import Delete, Store

log = logging.getLogger("portside.capacity")

TERMINATE_GRACE = timedelta(seconds=60)
"""How long an instance let go waits for its remaining tasks to stop."""
TERMINATED_RETENTION = timedelta(hours=1)
"""How long a Terminated instance stays describable (Auto Scaling shows them about an hour)."""
BOOT_TIMEOUT = timedelta(minutes=10)
"""A launched instance whose agent has not registered by then is lost (and replaced)."""
MAX_RESTARTS = 5
"""Times a crashed agent is started again before its instance counts as lost."""
DEREGISTERED_EXIT = 5
"""``portside agent``'s exit code when its container instance was deregistered."""


@dataclasses.dataclass(frozen=True, slots=True)
class Placement:
    """Where a group's instances join: its provider, that provider's cluster, the region."""

    provider: CapacityProvider | None
    cluster: str
    region: str


class Groups:
    def __init__(self, store: Store, launchers: dict[str, Launcher], endpoint: str,
                 clock: Callable[[], datetime], retry_after: timedelta):  # fmt: skip
        self.store = store
        self.launchers = launchers
        self.endpoint = endpoint
        self.clock = clock
        self.retry_after = retry_after
        self.restarts: dict[str, int] = {}
        self.stopping_since: dict[str, datetime] = {}
        self.not_before: dict[str, datetime] = {}
        """Group ARN or instance id -> when a failed launch or termination is tried again."""
        self.problems: dict[str, str] = {}

    async def settle(self) -> None:
        """One pass over every live-launched group (see the module docstring)."""
        self.bind()
        for group in list(self.store.all(InstanceGroup.KIND).values()):
            launcher = self.launchers.get(group.launcher)
            if launcher is None:
                continue
            try:
                await self._group(group, launcher)
            except Exception:
                log.exception("group %s: a pass failed", group.auto_scaling_group_name)

    # -- 1. registration -------------------------------------------------------

    def bind(self) -> int:
        """Bind newly registered container instances to their group instances."""
        waiting = {
            i.instance_id: i for i in self.store.all(GroupInstance.KIND).values()
            if i.live and i.container_instance_arn is None
        }  # fmt: skip
        if not waiting:
            return 0
        changes: list[Any] = []
        for ci in self.store.all(ContainerInstance.KIND).values():
            if not ci.registered:
                continue
            gi = waiting.pop(_instance_id_of(ci, waiting), None)
            if gi is None:
                continue
            changes.append(dataclasses.replace(
                gi, lifecycle_state=IN_SERVICE, container_instance_arn=ci.container_instance_arn,
                status_reason=None,
            ))  # fmt: skip
            group = self.store.get(InstanceGroup.KIND, gi.auto_scaling_group_arn)
            where = self.placement(group) if isinstance(group, InstanceGroup) else None
            if where and where.provider and ci.capacity_provider_name != where.provider.name:
                changes.append(dataclasses.replace(
                    ci, capacity_provider_name=where.provider.name, version=ci.version + 1))
        if changes:
            self.store.commit(changes)
        return len(changes)

    # -- one group ---------------------------------------------------------------

    async def _group(self, group: InstanceGroup, launcher: Launcher) -> None:
        where = self.placement(group)
        now = self.clock()
        for i in self._members(group):
            if i.live:
                await self._check(group, launcher, where, i)
            elif i.lifecycle_state == TERMINATING and self.not_before.get(i.instance_id, now) <= now:
                await self._terminate(group, launcher, where, i)
        if self._tidy(group):
            return
        await self._launch(group, launcher, where)

    def _tidy(self, group: InstanceGroup) -> bool:
        """Forget instances Terminated over :data:`TERMINATED_RETENTION` ago; remove a group
        being deleted (ForceDelete) once its last instance is gone. True if the group went."""
        members = self._members(group)
        cutoff = self.clock() - TERMINATED_RETENTION
        old = [Delete(GroupInstance.KIND, i.instance_id) for i in members
               if i.lifecycle_state == TERMINATED and (i.terminated_at or i.launched_at) < cutoff]
        if group.status == DELETING and all(i.lifecycle_state == TERMINATED for i in members):
            self.store.commit([*(Delete(GroupInstance.KIND, i.instance_id) for i in members),
                               Delete(InstanceGroup.KIND, group.auto_scaling_group_arn)])
            self.note(group, "group-deleted", f"The group {group.auto_scaling_group_name} has "
                                              "no instance left and was deleted.")
            return True
        if old:
            self.store.commit(old)
        return False

    async def _check(self, group: InstanceGroup, launcher: Launcher, where: Placement,
                     i: GroupInstance) -> None:  # fmt: skip
        if i.lifecycle_state == PENDING and self.clock() - i.launched_at > BOOT_TIMEOUT:
            why = (f"Instance {i.instance_id} did not register as a container instance within "
                   f"{BOOT_TIMEOUT.total_seconds() / 60:.0f} minutes.")
            with contextlib.suppress(LaunchError):
                await self._call(launcher.terminate, self._request(group, where, i))
            self._gone(i, why)
            self.note(group, "instance-lost", why + " The group replaces it.")
            return
        exited = launcher.exited(i.instance_id)
        if exited is None:
            if launcher.tracks(i.instance_id):
                return
            try:  # the control plane restarted: start it again (it adopts its tasks)
                await self._call(launcher.launch, self._request(group, where, i))
            except LaunchError as exc:
                n = self.restarts[i.instance_id] = self.restarts.get(i.instance_id, 0) + 1
                if n > MAX_RESTARTS:
                    self._gone(i, str(exc))
                    self.note(group, "instance-lost", f"{exc} The group replaces it.")
            return
        ci = self._container(i)
        n = self.restarts.get(i.instance_id, 0)
        if exited.code == DEREGISTERED_EXIT or (ci is not None and not ci.registered) or (
            n >= MAX_RESTARTS
        ):
            why = f"Instance {i.instance_id} was lost: {exited.detail}."
            self._gone(i, why)
            self.note(group, "instance-lost", why + " The group replaces it.")
            return
        self.restarts[i.instance_id] = n + 1
        log.warning("instance %s: %s; starting it again", i.instance_id, exited.detail)
        try:
            await self._call(launcher.launch, self._request(group, where, i))
        except LaunchError as exc:
            log.warning("instance %s: %s", i.instance_id, exc)

    async def _terminate(self, group: InstanceGroup, launcher: Launcher, where: Placement,
                         i: GroupInstance) -> None:  # fmt: skip
        now = self.clock()
        left = self._tasks_on(i)
        since = self.stopping_since.setdefault(i.instance_id, now)
        if left and now - since < TERMINATE_GRACE:
            asked = [request_stop(t, now, f"Host EC2 (instance {i.instance_id}) is terminating.",
                                  "TerminationNotice")
                     for t in left if t.desired_status != "STOPPED"]  # fmt: skip
            if asked:
                self.store.commit(asked)
            return
        try:
            await self._call(launcher.terminate, self._request(group, where, i))
        except LaunchError as exc:
            self.not_before[i.instance_id] = self.clock() + self.retry_after
            self.note(group, "terminate-failed", str(exc))
            return
        self.stopping_since.pop(i.instance_id, None)
        self.restarts.pop(i.instance_id, None)
        self._gone(i, i.status_reason or "Terminated by scale-in.")
        self.note(group, "terminated", f"{i.instance_id} ({i.availability_zone}) was stopped: "
                                       f"{i.status_reason or 'terminated'}")  # fmt: skip

    async def _launch(self, group: InstanceGroup, launcher: Launcher, where: Placement) -> None:
        now = self.clock()
        arn = group.auto_scaling_group_arn
        if self.not_before.get(arn, now) > now:
            return
        launches, problem = plan_launches(group, self._members(group))
        if problem and self.problems.get(arn) != problem:
            self.note(group, "launch-failed", problem)
        self.problems[arn] = problem or ""
        for launch in launches:
            gi = GroupInstance(
                instance_id="i-" + secrets.token_hex(9)[:17], auto_scaling_group_arn=arn,
                availability_zone=launch.availability_zone, instance_type=launch.spec.name,
                launched_at=self.clock(), lifecycle_state=PENDING, market=launch.market,
                protected_from_scale_in=group.new_instances_protected_from_scale_in,
            )  # fmt: skip
            self.store.commit([gi])
            try:
                await self._call(launcher.launch, self._request(group, where, gi))
            except LaunchError as exc:
                self._gone(gi, str(exc))
                self.not_before[arn] = self.clock() + self.retry_after
                self.note(group, "launch-failed", str(exc))
                return
            self.note(group, "launch", f"Launched {gi.instance_id} ({gi.instance_type}, "
                                       f"{gi.availability_zone}) toward the desired capacity "
                                       f"{group.desired_capacity}.")  # fmt: skip

    # -- helpers -------------------------------------------------------------------

    async def _call(self, fn: Callable[[LaunchRequest], None], req: LaunchRequest) -> None:
        await asyncio.to_thread(fn, req)

    def placement(self, group: InstanceGroup) -> Placement:
        provider = provider_of(self.store, group)
        cluster = cluster_of(self.store, provider)
        arn = parse_arn(group.auto_scaling_group_arn)
        region = arn.region if arn else "us-east-1"
        return Placement(provider, cluster.cluster_name if cluster else "default", region)

    def _request(self, group: InstanceGroup, where: Placement, i: GroupInstance) -> LaunchRequest:
        spec = next((s for s in group.instance_types if s.name == i.instance_type),
                    group.instance_types[0])  # fmt: skip
        return LaunchRequest(group, i, spec, where.cluster, self.endpoint, where.region)

    def _members(self, group: InstanceGroup) -> list[GroupInstance]:
        return list(self.store.children(GroupInstance.KIND, group.auto_scaling_group_arn).values())

    def _container(self, i: GroupInstance) -> ContainerInstance | None:
        found = self.store.get(ContainerInstance.KIND, i.container_instance_arn or "")
        return found if isinstance(found, ContainerInstance) else None

    def _tasks_on(self, i: GroupInstance) -> list[Task]:
        ci = self._container(i)
        if ci is None:
            return []
        return [t for t in self.store.children(Task.KIND, ci.cluster_arn).values()
                if t.container_instance_arn == ci.container_instance_arn
                and t.last_status != "STOPPED"]  # fmt: skip

    def _gone(self, i: GroupInstance, reason: str) -> None:
        """Terminated: the instance, its container instance deregistered, its tasks stopped."""
        now = self.clock()
        current = self.store.get(GroupInstance.KIND, i.instance_id)
        gi = current if isinstance(current, GroupInstance) else i
        changes: list[Any] = [dataclasses.replace(
            gi, lifecycle_state=TERMINATED, terminated_at=now, status_reason=reason)]
        ci = self._container(gi)
        if ci is not None and ci.status != INACTIVE:
            changes.append(dataclasses.replace(
                ci, status=INACTIVE, agent_connected=False, version=ci.version + 1))
        for t in self._tasks_on(gi):
            changes.append(_stopped(t, now, f"Host EC2 (instance {gi.instance_id}) terminated."))
        self.store.commit(changes)

    def note(self, group: InstanceGroup, action: str, cause: str) -> None:
        """A launcher's step, as a scaling activity of the group's provider (not a decision:
        DescribeCapacityProviders' lastAction skips it, ``portside capacity`` lists it apart)."""
        log.info("group %s: %s: %s", group.auto_scaling_group_name, action, cause)
        provider = provider_of(self.store, group)
        if provider is None:
            return
        now = self.clock()
        old = self.store.get(ScalingState.KIND, provider.capacity_provider_arn)
        state = old if isinstance(old, ScalingState) else ScalingState(
            provider.capacity_provider_arn, now)  # fmt: skip
        asg = provider.auto_scaling_group_provider
        target = asg.managed_scaling.target_capacity if asg else 100
        current = self.store.get(InstanceGroup.KIND, group.auto_scaling_group_arn)
        size = current.desired_capacity if isinstance(current, InstanceGroup) else 0
        activity = ScalingActivity(now, action, size, size, METRIC, state.reservation or 0.0,
                                   target, cause)  # fmt: skip
        activities = trim((activity, *state.activities))  # keeps the decisions it follows
        self.store.commit([dataclasses.replace(state, activities=activities)])


def provider_of(store: Any, group: InstanceGroup) -> CapacityProvider | None:
    """The ACTIVE capacity provider backed by ``group`` (named by ARN or by name)."""
    names = {group.auto_scaling_group_arn, group.auto_scaling_group_name}
    for p in store.all(CapacityProvider.KIND).values():
        asg = p.auto_scaling_group_provider
        if p.active and asg is not None and (
            asg.auto_scaling_group_arn in names
            or asg.auto_scaling_group_arn.split("autoScalingGroupName/", 1)[-1] in names
        ):
            return p  # type: ignore[no-any-return]
    return None


def cluster_of(store: Any, provider: CapacityProvider | None) -> Cluster | None:
    """The ACTIVE cluster that names ``provider`` (a provider belongs to one cluster)."""
    if provider is None:
        return None
    for c in store.all(Cluster.KIND).values():
        if c.active and provider.name in c.capacity_providers:
            arn = parse_arn(c.cluster_arn)
            pa = parse_arn(provider.capacity_provider_arn)
            if arn and pa and (arn.account, arn.region) == (pa.account, pa.region):
                return c  # type: ignore[no-any-return]
    return None


def _instance_id_of(ci: ContainerInstance, waiting: dict[str, GroupInstance]) -> str:
    if ci.ec2_instance_id in waiting:
        return ci.ec2_instance_id or ""
    for a in ci.attributes:
        if a.name == INSTANCE_ATTRIBUTE and a.value:
            return a.value
    return ""


def _stopped(t: Task, now: datetime, reason: str) -> Task:
    return dataclasses.replace(
        t, last_status="STOPPED", desired_status="STOPPED", stopped_at=now,
        execution_stopped_at=now, stopping_at=t.stopping_at or now,
        stopped_reason=t.stopped_reason or reason, stop_code=t.stop_code or "TerminationNotice",
        containers=tuple(dataclasses.replace(c, last_status="STOPPED") for c in t.containers),
        version=t.version + 1,
    )  # fmt: skip
