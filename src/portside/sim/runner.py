"""Running a scenario: the real scheduler and controllers on a virtual clock.

    Runner(scenario).run() -> Result

Everything that decides is the live server's code: the service controller
(``controllers.services.decide``, which places with ``scheduler.engine``) and
managed scaling (``controllers.capacity.decide_all``). The simulator only
plays the world around them (sim/fleet.py) and applies their decisions to the
in-memory state, as the runtime applies them to the store.

The loop, as the server's reconcilers run it, level-triggered:

- after every instant (an instance booting, tasks reaching RUNNING, a scenario
  event), the services whose world changed are decided again until nothing
  changes: a task of theirs changed, the service itself, or — for all of a
  cluster's services — a container instance (capacity came or went); services
  also come back at the time their last decision asked for;
- every tick (one minute by default), managed scaling decides for every
  provider (ECS publishes CapacityProviderReservation each minute), the groups
  launch or terminate to their new desired capacity, and a timeline row is
  recorded.

The same scenario and seed give the same result: ids are numbered or seeded,
simultaneous work runs in the order it was scheduled, and every random draw
comes from the scenario's seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portside.aws.errors import AwsError
from portside.controllers import capacity
from portside.controllers import service_events as ev
from portside.controllers.capacity import CapacityDecision
from portside.controllers.capacity_model import TERMINATED, GroupInstance, InstanceGroup
from portside.controllers.capacity_work import Workload
from portside.controllers.services import decide as decide_service
from portside.controllers.task_state import PENDING_STATES, Policy
from portside.domain.ecs.capacity_provider import CapacityProvider
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.ecs.service import Service
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import TaskDefinition
from portside.sim.clock import FakeClock
from portside.sim.fargate import install_pool
from portside.sim.fleet import Fleet
from portside.sim.scenario import Event, Scenario
from portside.sim.timeline import Action, Note, Timeline
from portside.sim.world import World
from portside.store.store import Delete

Progress = Callable[[float, str], None]
MAX_PASSES = 25
PRUNE_EVERY = 5
FULL_GC_AFTER = 1_000_000
"""Collections of the middle generation before a full one, during a run (Python's is 10)."""


@dataclass
class Result:
    scenario: Scenario
    timeline: Timeline
    cost: float
    wall_seconds: float = 0.0


class Runner:
    def __init__(self, scenario: Scenario, progress: Progress | None = None,
                 policy: Policy | None = None):  # fmt: skip
        self.scenario = scenario
        self.progress = progress
        self.policy = policy or Policy()
        self.clock = FakeClock(scenario.start)
        self.world = World(scenario)
        self.state = self.world.state
        self.world.build(scenario.start)
        self.fleet = Fleet(self.world, self.clock, self._note)
        if _uses_fargate(self.state):
            zone = next(iter(scenario.subnets.values()), f"{scenario.region}a")
            install_pool(self.state, self.world.scope, scenario.start, zone)
        self.timeline = Timeline(
            groups={g.auto_scaling_group_name: g.availability_zones
                    for g in self.state.all(InstanceGroup.KIND).values()},
            providers={p.name: p.auto_scaling_group_provider.managed_scaling.target_capacity
                       for p in self.state.all(CapacityProvider.KIND).values()
                       if p.auto_scaling_group_provider is not None},
        )  # fmt: skip
        self.end = scenario.start + scenario.duration
        self.dirty: set[str] = set(self.state.all(Service.KIND))
        self.wanting: set[str] = set()
        """Services short of tasks after their last decision (or DAEMON ones): new capacity
        may let them place more."""
        self.capacity_changed = False
        self.timers: dict[str, datetime] = {}
        self.last: dict[str, CapacityDecision] = {}
        self.loads: dict[str, Workload] = {}
        """Each cluster's workload, kept while no task, service or instance changes."""
        self.task_counts: tuple[int, int, int] | None = None
        self.ticks = 0
        self.state.subscribe(self._changed)

    # -- the loop ------------------------------------------------------------

    def run(self) -> Result:
        import gc
        import time

        began = time.perf_counter()
        for e in self.scenario.events:
            self.clock.call_at(self.scenario.start + e.at, self._event_at(e))
        self.clock.call_at(self.scenario.start, self._tick)
        # A run makes millions of short-lived immutable resources and keeps a large world
        # alive: the collector's full passes walk all of it and find next to nothing (a
        # few percent of a large run). Young generations are still collected; the
        # full passes wait for the end of the run.
        thresholds = gc.get_threshold()
        gc.set_threshold(thresholds[0], thresholds[1], max(thresholds[2], FULL_GC_AFTER))
        try:
            self.clock.run(self.end, after_instant=self._settle)
        finally:
            gc.set_threshold(*thresholds)
        return Result(self.scenario, self.timeline, self.fleet.cost(self.end),
                      time.perf_counter() - began)  # fmt: skip

    def _changed(self, changes: Sequence[Any]) -> None:
        for c in changes:
            kind = getattr(c, "KIND", None) or getattr(c, "kind", None)
            if kind in _WORKLOAD_KINDS:
                self.loads.clear()
                if kind == Task.KIND or kind == Service.KIND:
                    self.task_counts = None
            if isinstance(c, Delete):
                continue
            if kind == Task.KIND:
                if c.service_arn:
                    self.dirty.add(c.service_arn)
            elif kind == Service.KIND:
                self.dirty.add(c.service_arn)
            elif kind == ContainerInstance.KIND:
                self.capacity_changed = True
                if c.status == "DRAINING":
                    # its tasks must move elsewhere: the cluster's services decide again,
                    # settled ones too (nothing else wakes them, and a drain for scale-in
                    # waits for them to move)
                    self.dirty.update(self.state.children(Service.KIND, c.cluster_arn))

    def _settle(self) -> None:
        """Decide for changed services until they converge; let groups replace lost instances."""
        self.fleet.reconcile()
        for _ in range(MAX_PASSES):
            if self.capacity_changed:
                self.capacity_changed = False
                self.dirty |= self.wanting
            if not self.dirty:
                break
            batch, self.dirty = sorted(self.dirty), set()
            for arn in batch:
                self._service(arn)

    def _service(self, arn: str) -> None:
        now = self.clock.now()
        d = decide_service(self.state, arn, now, self.policy)
        if d.wake_at is not None and (arn not in self.timers or d.wake_at < self.timers[arn]):
            self.timers[arn] = d.wake_at
            self.clock.call_at(d.wake_at, lambda: self._wake(arn, d.wake_at))
        if not d.empty:
            self.state.commit(d.changes())
            self.dirty.discard(arn)
            self.fleet.started([*d.start, *d.placed])
            self.fleet.stopping(d.stop)
        svc = self.state.get(Service.KIND, arn)
        if isinstance(svc, Service) and _unsettled(svc):
            self.wanting.add(arn)
        else:
            self.wanting.discard(arn)

    def _wake(self, arn: str, at: datetime | None) -> None:
        if self.timers.get(arn) == at:
            del self.timers[arn]
        self.dirty.add(arn)

    def _tick(self) -> None:
        now = self.clock.now()
        self._settle()
        for d in capacity.decide_all(self.state, now, self.loads):
            self._apply(d, now)
        for load in self.loads.values():
            for demands in load.waiting.values():
                for demand in demands.values():
                    self.wanting.update(demand.services)
        self.fleet.reconcile()
        self._record(now)
        self.ticks += 1
        if self.ticks % PRUNE_EVERY == 0:
            self.fleet.prune()
        if self.progress is not None:
            done = (now - self.scenario.start) / self.scenario.duration
            self.progress(min(done, 1.0), now.isoformat())
        nxt = now + self.scenario.settings.tick
        if nxt <= self.end:
            self.clock.call_at(nxt, self._tick)

    def _apply(self, d: CapacityDecision, now: datetime) -> None:
        provider = self.state.get(CapacityProvider.KIND, d.capacity_provider_arn)
        name = provider.name if isinstance(provider, CapacityProvider) else d.capacity_provider_arn
        self.state.commit(d.changes())
        self.last[name] = d
        for a in d.activities:
            self.timeline.actions.append(Action(
                now, name, a.action, a.capacity_from, a.capacity_to, a.metric, a.metric_value,
                a.target, a.cause,
            ))  # fmt: skip
        for u in d.unfit:
            for svc_arn in u.services:
                svc = self.state.get(Service.KIND, svc_arn)
                if not isinstance(svc, Service):
                    continue
                msg = (
                    f"(service {svc.service_name}) was unable to place {u.count} tasks: no "
                    f"instance type of capacity provider {name} can hold one ({u.reason}: "
                    f"{u.detail}). They wait in PROVISIONING and are left out of managed scaling."
                )
                if ev.should_write(svc, msg, now):
                    import dataclasses

                    self.state.commit([dataclasses.replace(svc, events=ev.with_events(svc, now, [msg]))])
                    self._note("unfit", msg)

    def _event_at(self, e: Event) -> Callable[[], None]:
        return lambda: self._event(e)

    def _event(self, e: Event) -> None:
        now = self.clock.now()
        if e.kind == "azOutage":
            self.fleet.az_outage(e.params["availability_zone"], e.params["duration"])
        elif e.kind == "spotInterruption":
            self.fleet.spot_interruption(e.params["group"], e.params["count"], e.params["fraction"])
        elif e.kind == "fargateSpotInterruption":
            self.fleet.fargate_spot_interruption(e.params["count"], e.params["fraction"])
        else:
            try:
                self.world.call(e.kind, e.params, now)
                self._note("api", f"{e.kind} {_describe(e.params)}")
            except AwsError as exc:
                self._note("api-error", f"{e.kind} {_describe(e.params)} failed: {exc.code}: "
                                        f"{exc.message}")

    def _note(self, kind: str, message: str) -> None:
        self.timeline.notes.append(Note(self.clock.now(), kind, message))

    # -- recording -----------------------------------------------------------

    def _record(self, now: datetime) -> None:
        row: dict[str, Any] = {
            "time": now.isoformat(),
            "minute": round((now - self.scenario.start) / timedelta(minutes=1), 3),
        }
        for group in self.state.all(InstanceGroup.KIND).values():
            name = group.auto_scaling_group_name
            zones = dict.fromkeys(self.timeline.groups.get(name, ()), 0)
            # Every instance that runs and is billed: launching, in service, and draining
            # for a scale-in (Terminating:Wait) until it is let go, as the cost counts them.
            for i in self.state.children(GroupInstance.KIND, group.auto_scaling_group_arn).values():
                if i.lifecycle_state != TERMINATED:
                    zones[i.availability_zone] = zones.get(i.availability_zone, 0) + 1
            row[f"instances:{name}"] = sum(zones.values())
            for z, n in zones.items():
                row[f"instances:{name}:{z}"] = n
        waiting = 0
        for p in self.timeline.providers:
            d = self.last.get(p)
            if d is None:
                continue
            unfit = sum(u.count for u in d.unfit)
            waiting += d.waiting + unfit
            row.update({
                f"reservation:{p}": None if d.reservation is None else round(d.reservation, 2),
                f"needed:{p}": d.needed, f"running:{p}": d.running, f"warming:{p}": d.warming,
                f"waiting:{p}": d.waiting, f"unfit:{p}": unfit,
            })  # fmt: skip
        running, pending, desired = self._task_counts()
        row.update(tasks_running=running, tasks_pending=pending, tasks_waiting=waiting,
                   tasks_desired=desired, cost_per_hour=round(self.fleet.live_cost_rate(), 4),
                   cost=round(self.fleet.cost(now), 4))  # fmt: skip
        self.timeline.rows.append(row)


    def _task_counts(self) -> tuple[int, int, int]:
        """(running, pending, desired) over every cluster, recounted only when tasks changed."""
        if self.task_counts is None:
            running = pending = desired = 0
            for c in self.state.all(Cluster.KIND):
                for t in self.state.children(Task.KIND, c).values():
                    if t.last_status == "RUNNING":
                        running += 1
                    elif t.last_status in PENDING_STATES:
                        pending += 1
                desired += sum(s.desired_count for s in self.state.children(Service.KIND, c).values()
                               if s.status == "ACTIVE")  # fmt: skip
            self.task_counts = (running, pending, desired)
        return self.task_counts


def _unsettled(svc: Service) -> bool:
    """Short of tasks, some pending, mid-deployment, or DAEMON: new capacity may let it
    place more."""
    if svc.status == "INACTIVE":
        return False
    primary = svc.primary
    return (
        svc.scheduling_strategy == "DAEMON"
        or svc.running_count + svc.pending_count < svc.desired_count
        or svc.pending_count > 0  # tasks waiting in PROVISIONING for capacity among them
        or (primary is not None and primary.rollout_state == "IN_PROGRESS")
        or len(svc.deployments) > 1
    )


def _uses_fargate(state: Any) -> bool:
    """Whether a cluster offers FARGATE / FARGATE_SPOT or a service launches on FARGATE."""
    return any(
        {"FARGATE", "FARGATE_SPOT"} & set(c.capacity_providers)
        for c in state.all(Cluster.KIND).values()
    ) or any(s.launch_type == "FARGATE" for s in state.all(Service.KIND).values())


_WORKLOAD_KINDS = frozenset({Task.KIND, Service.KIND, ContainerInstance.KIND, Cluster.KIND,
                             TaskDefinition.KIND})  # fmt: skip


def _describe(params: dict[str, Any]) -> str:
    keys = ("service", "service_name", "family", "desired_count", "task_definition", "name")
    return ", ".join(f"{k}={params[k]}" for k in keys if k in params)
