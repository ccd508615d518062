"""Managed scaling: one Auto Scaling group capacity provider's decision, every minute.

    decide(snapshot, provider_arn, now) -> CapacityDecision
    decide_all(snapshot, now) -> list[CapacityDecision]

As ECS documents managed scaling (the "managed scaling behavior" guide and
"Deep Dive on Amazon ECS Cluster Auto Scaling"); the arithmetic is in
capacity_math.py, the group's own rules in capacity_group.py. A pass:

1. **Measure.** N counts the group's in-service instances past
   ``instanceWarmupPeriod``; M the live instances holding a non-daemon task,
   plus, when work waits for the provider, the fresh instances a binpack of it
   needs, bounded by the scaling steps (a group of several instance types or
   zones: exactly ``minimumScalingStepSize``, as ECS documents). Work no
   instance type can hold stays waiting, is left out, and is explained.
   CapacityProviderReservation = M / N x 100.
2. **Above target: scale out** to ``ceil(M x 100 / targetCapacity)`` live
   instances, by a step within the step sizes and the group's MaxSize. The
   instances already launching or warming count toward it (the Auto Scaling
   warm-up rule), so one burst is not ordered twice; instances chosen for a
   scale-in and still draining are taken back first (a scale-out cancels a
   scale-in).
3. **Below target for 15 consecutive minutes** (and nothing warming or
   waiting): **scale in** to the same figure, never below MinSize. The group's
   termination policy picks the instances among those not protected from
   scale-in; with managed termination protection, ECS protects every instance
   that holds a non-daemon task, so only empty ones go. With managed draining
   the instance is set DRAINING first (its service tasks move elsewhere) and
   let go once no non-daemon task is left on it; without, at once.

Every step is a :class:`ScalingActivity` naming the metric, its value, the
target and the cause; the decision carries the new state and nothing is
written while deciding. The provider's activity list also holds the
launchers' steps (runtime/capacity_groups.py: launch, terminated, …);
:data:`DECISIONS` tells the two apart and :func:`trim` caps the list so that a
burst of launches never pushes out the decision that explains them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from portside.controllers.capacity_group import termination_order
from portside.controllers.capacity_math import (
    binpack,
    clamp_step,
    desired_capacity,
    fit,
    reservation,
)
from portside.controllers.capacity_model import (
    IN_SERVICE,
    MAX_ACTIVITIES,
    TERMINATING,
    TERMINATING_WAIT,
    GroupInstance,
    InstanceGroup,
    ScalingActivity,
    ScalingState,
)
from portside.controllers.capacity_work import Demand, Workload, workload
from portside.controllers.snapshot import Snapshot
from portside.domain.ecs.capacity_provider import ENABLED, CapacityProvider
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import ContainerInstance
from portside.scheduler.model import TaskRequest

METRIC = "CapacityProviderReservation"
PERIOD = timedelta(minutes=1)
SCALE_IN_AFTER = timedelta(minutes=15)
"""The low alarm's 15 one-minute datapoints."""
DECISIONS = frozenset({"scale-out", "scale-in", "cancel-scale-in", "terminate"})
"""Managed scaling's own actions; any other activity is a launcher's step."""


def is_decision(a: ScalingActivity) -> bool:
    return a.action in DECISIONS


def split(
    activities: Iterable[ScalingActivity],
) -> tuple[list[ScalingActivity], list[ScalingActivity]]:
    """(decisions, launcher steps), each in the order given (newest first when stored)."""
    decisions: list[ScalingActivity] = []
    steps: list[ScalingActivity] = []
    for a in activities:
        (decisions if is_decision(a) else steps).append(a)
    return decisions, steps


def trim(activities: Sequence[ScalingActivity]) -> tuple[ScalingActivity, ...]:
    """The newest-first list capped at :data:`MAX_ACTIVITIES`, decisions kept first.

    A scale-out of ten instances is one decision followed by ten launches; capping
    by age alone would let the launches push out the decision that explains them.
    So launcher steps get at most half of the list unless decisions leave room,
    and each kind loses its oldest entries first.
    """
    if len(activities) <= MAX_ACTIVITIES:
        return tuple(activities)
    decisions, steps = split(activities)
    keep_steps = min(len(steps), max(MAX_ACTIVITIES // 2, MAX_ACTIVITIES - len(decisions)))
    keep = {True: MAX_ACTIVITIES - keep_steps, False: keep_steps}
    out: list[ScalingActivity] = []
    for a in activities:
        kind = is_decision(a)
        if keep[kind] > 0:
            keep[kind] -= 1
            out.append(a)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Unfit:
    """Waiting work that no instance type of the group can hold."""

    requirement: TaskRequest
    count: int
    reason: str  # the scheduler's reason: RESOURCE:MEMORY, …
    detail: str
    services: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CapacityDecision:
    capacity_provider_arn: str
    reservation: float | None = None
    needed: int = 0
    running: int = 0
    warming: int = 0
    waiting: int = 0
    """Tasks waiting for this provider that an instance type can hold."""
    group: InstanceGroup | None = None
    """The group with its new desired capacity, when it changes."""
    instances: tuple[GroupInstance, ...] = ()
    """Group instances whose protection or lifecycle state changes."""
    container_instances: tuple[ContainerInstance, ...] = ()
    """Container instances set DRAINING (scale-in) or back to ACTIVE (scale-in cancelled)."""
    state: ScalingState | None = None
    activities: tuple[ScalingActivity, ...] = ()
    unfit: tuple[Unfit, ...] = ()
    wake_at: datetime | None = None

    def changes(self) -> list[object]:
        out: list[object] = []
        if self.group is not None:
            out.append(self.group)
        out.extend(self.instances)
        out.extend(self.container_instances)
        if self.state is not None:
            out.append(self.state)
        return out


def decide_all(
    snapshot: Snapshot, now: datetime, loads: dict[str, Workload] | None = None,
    scale_in_after: timedelta = SCALE_IN_AFTER,
) -> list[CapacityDecision]:
    """A decision for every ACTIVE provider with managed scaling, one task pass per cluster.

    ``loads`` (cluster ARN -> :func:`workload`) is filled in as clusters are read; a
    caller that knows no task, service or instance changed since may pass it back.
    ``scale_in_after`` is ECS's 15 minutes unless the caller shortens it (the live
    loop's ``PORTSIDE_SCALE_IN_AFTER``, for tests and demos).
    """
    loads = {} if loads is None else loads
    out: list[CapacityDecision] = []
    for provider in snapshot.all(CapacityProvider.KIND).values():
        if _managed(provider):
            out.append(_decide(snapshot, provider, now, loads, scale_in_after))
    return out


def decide(
    snapshot: Snapshot, provider_arn: str, now: datetime,
    scale_in_after: timedelta = SCALE_IN_AFTER,
) -> CapacityDecision:
    provider = snapshot.get(CapacityProvider.KIND, provider_arn)
    if not isinstance(provider, CapacityProvider) or not _managed(provider):
        return CapacityDecision(provider_arn)
    return _decide(snapshot, provider, now, {}, scale_in_after)


def _managed(p: CapacityProvider) -> bool:
    g = p.auto_scaling_group_provider
    return p.active and g is not None and g.managed_scaling.enabled


def find_group(snapshot: Snapshot, ref: str) -> InstanceGroup | None:
    """The group a provider names, by ARN or by name."""
    found = snapshot.get(InstanceGroup.KIND, ref)
    if isinstance(found, InstanceGroup):
        return found
    name = ref.split("autoScalingGroupName/", 1)[-1]
    for g in snapshot.all(InstanceGroup.KIND).values():
        if g.auto_scaling_group_name == name:
            return g  # type: ignore[no-any-return]
    return None


class _Pass:
    """One provider's pass: inputs gathered once, outputs accumulated."""

    def __init__(self, snapshot: Snapshot, provider: CapacityProvider, group: InstanceGroup,
                 now: datetime, load: Workload):  # fmt: skip
        asg = provider.auto_scaling_group_provider
        assert asg is not None
        self.snapshot, self.provider, self.group, self.now, self.load = (
            snapshot, provider, group, now, load
        )
        self.scaling = asg.managed_scaling
        self.warmup = timedelta(seconds=self.scaling.instance_warmup_period)
        self.protect = asg.managed_termination_protection == ENABLED
        self.drain = asg.managed_draining == ENABLED
        self.all = list(snapshot.children(GroupInstance.KIND, group.auto_scaling_group_arn).values())
        self.changed: dict[str, GroupInstance] = {}
        self.containers: dict[str, ContainerInstance] = {}
        self.activities: list[ScalingActivity] = []

    def current(self, i: GroupInstance) -> GroupInstance:
        return self.changed.get(i.instance_id, i)

    def set(self, i: GroupInstance, **changes: object) -> GroupInstance:
        new = dataclasses.replace(self.current(i), **changes)  # type: ignore[arg-type]
        self.changed[i.instance_id] = new
        return new

    def container(self, i: GroupInstance) -> ContainerInstance | None:
        arn = i.container_instance_arn
        if arn is None:
            return None
        if arn in self.containers:
            return self.containers[arn]
        found = self.snapshot.get(ContainerInstance.KIND, arn)
        return found if isinstance(found, ContainerInstance) else None

    def set_container(self, i: GroupInstance, status: str) -> None:
        c = self.container(i)
        if c is not None and c.status != status and c.registered:
            self.containers[c.container_instance_arn] = dataclasses.replace(
                c, status=status, version=c.version + 1
            )

    def busy(self, i: GroupInstance) -> bool:
        return i.container_instance_arn in self.load.busy

    def warm(self, i: GroupInstance) -> bool:
        if i.lifecycle_state != IN_SERVICE:
            return False
        c = self.container(i)
        if c is None or c.status != "ACTIVE":
            return False
        return self.now - i.launched_at >= self.warmup

    def record(self, action: str, before: int, after: int, value: float, cause: str) -> None:
        self.activities.append(ScalingActivity(
            self.now, action, before, after, METRIC, round(value, 1),
            self.scaling.target_capacity, cause,
        ))  # fmt: skip


def _decide(
    snapshot: Snapshot, provider: CapacityProvider, now: datetime, loads: dict[str, Workload],
    scale_in_after: timedelta = SCALE_IN_AFTER,
) -> CapacityDecision:
    asg = provider.auto_scaling_group_provider
    assert asg is not None
    group = find_group(snapshot, asg.auto_scaling_group_arn)
    if group is None:
        return CapacityDecision(provider.capacity_provider_arn, wake_at=now + PERIOD)
    load = _load(snapshot, provider, loads)
    p = _Pass(snapshot, provider, group, now, load)
    waiting = load.waiting.get(provider.name, {})
    fitting, unfit = _split(waiting, group)
    if p.protect:
        _protect(p)
    _finish_draining(p)

    live = [i for i in map(p.current, p.all) if i.live]
    warm = [i for i in live if p.warm(i)]
    warming = len(live) - len(warm)
    busy = sum(1 for i in live if p.busy(i))
    waiting_n = sum(n for _, n in fitting)
    ms = p.scaling
    extra = 0
    if waiting_n:
        if group.mixed:
            extra = ms.minimum_scaling_step_size
        else:
            extra = clamp_step(
                binpack(fitting, group.instance_types[0]),
                ms.minimum_scaling_step_size, ms.maximum_scaling_step_size,
            )  # fmt: skip
    m, n = busy + extra, len(warm)
    value = reservation(m, n)
    target = ms.target_capacity
    old = snapshot.get(ScalingState.KIND, provider.capacity_provider_arn)
    state = old if isinstance(old, ScalingState) else ScalingState(provider.capacity_provider_arn, now)
    below = state.below_target_since
    new_group = group
    if value > target:
        below = None
        new_group = _scale_out(p, live, m, n, value, waiting_n)
    elif value < target:
        below = below or now
        if now - below >= scale_in_after and not warming and not waiting_n:
            new_group, scaled = _scale_in(p, live, m, n, value, now - below)
            if scaled:
                below = now
    else:
        below = None

    activities = tuple(reversed(p.activities)) + state.activities
    new_state = dataclasses.replace(
        state, updated_at=now, reservation=round(value, 2), needed=m, running=n,
        warming=warming, below_target_since=below, activities=trim(activities),
    )  # fmt: skip
    return CapacityDecision(
        provider.capacity_provider_arn,
        reservation=value, needed=m, running=n, warming=warming, waiting=waiting_n,
        group=new_group if new_group != group else None,
        instances=tuple(p.changed.values()),
        container_instances=tuple(p.containers.values()),
        state=new_state if new_state != old else None,
        activities=tuple(p.activities),
        unfit=tuple(unfit),
        wake_at=now + PERIOD,
    )  # fmt: skip


def _load(snapshot: Snapshot, provider: CapacityProvider, loads: dict[str, Workload]) -> Workload:
    """The work of every cluster that names the provider (usually one)."""
    merged = Workload()
    for cluster in snapshot.all(Cluster.KIND).values():
        if not cluster.active or provider.name not in cluster.capacity_providers:
            continue
        load = loads.get(cluster.cluster_arn)
        if load is None:
            load = loads[cluster.cluster_arn] = workload(snapshot, cluster.cluster_arn)
        merged.busy |= load.busy
        merged.occupied |= load.occupied
        merged.service_names.update(load.service_names)
        for req, d in load.waiting.get(provider.name, {}).items():
            into = merged.waiting.setdefault(provider.name, {}).setdefault(req, Demand())
            into.count += d.count
            for s, k in d.services.items():
                into.services[s] = into.services.get(s, 0) + k
            into.tasks.extend(d.tasks)
    return merged


def _split(
    waiting: Mapping[TaskRequest, Demand], group: InstanceGroup
) -> tuple[list[tuple[TaskRequest, int]], list[Unfit]]:
    """Waiting work an instance type can hold, and the rest (explained)."""
    fitting: list[tuple[TaskRequest, int]] = []
    unfit: list[Unfit] = []
    for req, d in waiting.items():
        fits = [fit(req, spec) for spec in group.instance_types]
        if any(f.count > 0 for f in fits):
            fitting.append((req, d.count))
        elif fits:
            worst = fits[-1]
            unfit.append(Unfit(req, d.count, worst.limit or "", worst.detail,
                               tuple(d.services), tuple(d.tasks)))  # fmt: skip
    return fitting, unfit


def _protect(p: _Pass) -> None:
    """Managed termination protection: protect exactly the instances holding tasks."""
    for i in p.all:
        if i.lifecycle_state != IN_SERVICE:
            continue
        want = p.busy(i)
        if i.protected_from_scale_in != want:
            p.set(i, protected_from_scale_in=want)


def _finish_draining(p: _Pass) -> None:
    """Let go of the instances chosen for scale-in that no longer hold a non-daemon task."""
    for i in p.all:
        if i.lifecycle_state == TERMINATING_WAIT and not p.busy(i):
            p.set(i, lifecycle_state=TERMINATING, status_reason="Drained for scale-in.")
            size = p.group.desired_capacity
            p.record("terminate", size, size, 0.0,
                     f"{i.instance_id} was drained for scale-in and holds no task: terminating.")


def _scale_out(p: _Pass, live: Sequence[GroupInstance], m: int, n: int, value: float,
               waiting: int) -> InstanceGroup:  # fmt: skip
    ms, group = p.scaling, p.group
    want = desired_capacity(m, n, ms.target_capacity)
    total = max(len(live), group.desired_capacity)
    if want <= total:
        return group
    step = want - total
    why = (f"{METRIC} {value:.1f} % is above the target {ms.target_capacity} %: "
           f"M = {_count(m, 'instance')} needed, N = {n} running")  # fmt: skip
    if waiting:
        why += f", {_count(waiting, 'task')} waiting"
    reclaimed = 0
    for i in p.all:
        if reclaimed >= step:
            break
        if p.current(i).lifecycle_state == TERMINATING_WAIT:
            p.set(i, lifecycle_state=IN_SERVICE, status_reason=None)
            p.set_container(i, "ACTIVE")
            reclaimed += 1
    if reclaimed:
        kept = "is" if reclaimed == 1 else "are"
        p.record("cancel-scale-in", total, total + reclaimed, value,
                 f"{why}; {_count(reclaimed, 'instance')} being drained for scale-in {kept} "
                 "kept instead.")  # fmt: skip
    step -= reclaimed
    if step <= 0:
        return dataclasses.replace(group, desired_capacity=total + reclaimed)
    if group.mixed:
        step, how = ms.minimum_scaling_step_size, (
            f"the group has {_count(len(group.instance_types), 'instance type')} and "
            f"{_count(len(group.availability_zones), 'Availability Zone')}, so ECS steps by exactly "
            f"minimumScalingStepSize ({ms.minimum_scaling_step_size})"
        )
    else:
        clamped = clamp_step(step, ms.minimum_scaling_step_size, ms.maximum_scaling_step_size)
        how = (f"target tracking wants {want} instances: step {step}"
               + (f", bounded to {clamped} by the scaling step sizes" if clamped != step else ""))
        step = clamped
    before = total + reclaimed
    after = min(before + step, group.max_size)
    if after <= before:
        p.record("scale-out", before, before, value,
                 f"{why}; the group is at its MaxSize ({group.max_size}): nothing launched.")
        return dataclasses.replace(group, desired_capacity=before)
    capped = "" if after == before + step else f"; capped at MaxSize {group.max_size}"
    p.record("scale-out", before, after, value, f"{why}; {how}{capped}.")
    return dataclasses.replace(group, desired_capacity=after)


def _scale_in(p: _Pass, live: Sequence[GroupInstance], m: int, n: int,
              value: float, waited: timedelta) -> tuple[InstanceGroup, bool]:  # fmt: skip
    """``waited``: how long the metric has been below target (at least the scale-in delay;
    longer when warming instances or waiting tasks held the scale-in back)."""
    ms, group = p.scaling, p.group
    want = max(desired_capacity(m, n, ms.target_capacity), group.min_size)
    total = len(live)
    if want >= total:
        return group, False
    candidates = [i for i in live if i.lifecycle_state == IN_SERVICE]
    victims = termination_order(candidates, live, total - want)
    if not victims:
        return group, False
    for v in victims:
        if p.drain and p.busy(v):
            p.set(v, lifecycle_state=TERMINATING_WAIT, status_reason="Draining for scale-in.")
            p.set_container(v, "DRAINING")
        elif p.drain:
            p.set(v, lifecycle_state=TERMINATING, status_reason="Empty: terminated by scale-in.")
            p.set_container(v, "DRAINING")
        else:
            p.set(v, lifecycle_state=TERMINATING, status_reason="Terminated by scale-in.")
    after = total - len(victims)
    ids = ", ".join(v.instance_id for v in victims)
    p.record("scale-in", total, after, value, (
        f"{METRIC} {value:.1f} % has been below the target {ms.target_capacity} % for "
        f"{_span(waited)}: M = {_count(m, 'instance')} needed, N = {n} running; "
        f"target tracking wants {want}. "
        f"Removing {ids}" + (" after draining" if p.drain else "") + "."
    ))  # fmt: skip
    return dataclasses.replace(group, desired_capacity=after), True


def _span(d: timedelta) -> str:
    """``15 minutes``, ``90 seconds``: how long the metric stayed below target.

    Whole minutes from two minutes on (rounded down: a decision comes a few
    milliseconds after its minute, and "for 15 minutes" stays true), else seconds.
    """
    s = int(d.total_seconds())
    n, unit = (s // 60, "minute") if s >= 120 or (s and s % 60 == 0) else (s, "second")
    return _count(n, unit)


def _count(n: int, noun: str) -> str:
    """``1 instance``, ``2 instances``: a reason a person reads says it as they would."""
    return f"{n} {noun}" + ("" if n == 1 else "s")
