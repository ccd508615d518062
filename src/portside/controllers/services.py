"""The service controller: what one service needs now, as data.

    decide(snapshot, service_arn, now, policy) -> Decision

After Nomad's ``reconcile_cluster.go`` ``Compute()``: the snapshot is read,
``now`` is an input, and nothing is written while deciding. The runtime
(runtime/apply.py) commits the Decision with a revision check, so a decision
made on a stale snapshot is made again rather than applied.

A pass, in order:

1. failure accounting per deployment, a rollback StopServiceDeployment asked for, and
   the circuit breaker (deployments.py);
2. the start throttle: after repeated failures to start, launches wait;
3. scheduling — REPLICA (replica.py) or DAEMON (daemon.py) — gives the tasks
   to stop (with their reasons) and how many to start, or where;
4. placement of the starts with the scheduler engine (launch.py);
5. counts, rollout state and events (deployments.py, service_events.py);
6. the service deployment history, advanced to match (deployment_history.py).

A DRAINING service (DeleteService) stops all its tasks and becomes INACTIVE
once none is left.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from portside.controllers import service_events as ev
from portside.controllers.daemon import plan_daemon
from portside.controllers.deployment_history import track
from portside.controllers.deployments import (
    Breaker,
    failed_tasks,
    honour_stop,
    settle,
    start_failures,
    trip_breaker,
)
from portside.controllers.fenceposts import THROTTLE_AFTER, start_delay
from portside.controllers.launch import Launcher
from portside.controllers.plan import Plan, View, scaling_reason, triage
from portside.controllers.replica import plan_replica
from portside.controllers.snapshot import Snapshot, service_tasks
from portside.controllers.task_state import (
    LOST,
    SCHEDULER,
    Policy,
    conditions,
    has_health_check,
    is_live,
    is_pending,
    lost_at,
)
from portside.domain.ecs import fargate
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.ecs.service import Service
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import TaskDefinition
from portside.domain.ecs.tasks import request_stop
from portside.store.store import Change


@dataclass(frozen=True, slots=True)
class Decision:
    """What to write for one service: new tasks, stop requests, the service record."""

    service_arn: str
    start: tuple[Task, ...] = ()
    stop: tuple[Task, ...] = ()
    """The tasks asked to stop, as they are to be written (desired STOPPED, reason, code)."""
    service: Service | None = None
    """The updated service, when anything about it changed."""
    placed: tuple[Task, ...] = ()
    """PROVISIONING tasks that waited for capacity, now on an instance."""
    wake_at: datetime | None = None
    """The earliest time at which time alone may change this decision."""
    history: tuple[Change, ...] = ()
    """Service deployment records and revisions (controllers/deployment_history.py)."""

    @property
    def empty(self) -> bool:
        return not (self.start or self.stop or self.service or self.placed or self.history)

    def changes(self) -> list[Change]:
        out: list[Change] = []
        if self.service is not None:
            out.append(self.service)
        out.extend(self.start)
        out.extend(self.placed)
        out.extend(self.stop)
        out.extend(self.history)
        return out


class _HealthChecks(dict[str, bool]):
    """Task definition ARN -> has a health check, looked up once per pass.

    The controller asks for every task, several times a pass: a dict's own
    ``__getitem__`` (the View's ``checked``) answers, ``__missing__`` looks up."""

    def __init__(self, snapshot: Snapshot):
        super().__init__()
        self._snapshot = snapshot

    def __missing__(self, arn: str) -> bool:
        found = self[arn] = has_health_check(self._snapshot.get(TaskDefinition.KIND, arn))
        return found


def decide(
    snapshot: Snapshot, service_arn: str, now: datetime, policy: Policy | None = None
) -> Decision:
    """The decision for one service (see the module docstring)."""
    policy = policy or Policy()
    original = snapshot.get(Service.KIND, service_arn)
    if not isinstance(original, Service) or original.status == "INACTIVE":
        return Decision(service_arn)
    cluster = snapshot.get(Cluster.KIND, original.cluster_arn)
    if not isinstance(cluster, Cluster):
        return Decision(service_arn)
    history = service_tasks(snapshot, original.cluster_arn, service_arn)
    current = [t for t in history if t.last_status != "STOPPED"]
    instances: Mapping[str, ContainerInstance] = snapshot.children(
        ContainerInstance.KIND, original.cluster_arn
    )
    elsewhere = {
        t.container_instance_arn for t in current
        if t.launch_type == "FARGATE" and t.container_instance_arn not in instances
    }  # fmt: skip
    if elsewhere:  # the Fargate pool may have joined another cluster (domain/ecs/fargate.py)
        pool = {a: snapshot.get(ContainerInstance.KIND, a) for a in elsewhere if a}
        instances = {**instances, **{a: i for a, i in pool.items() if i is not None}}
    view = View(
        original, cluster, now, policy, instances, current,
        conditions(instances, current, now, policy), _HealthChecks(snapshot).__getitem__,
    )  # fmt: skip
    if original.status == "DRAINING":
        return _drain(view, snapshot)

    by_deployment: dict[str, list[Task]] = {}
    for t in history:
        by_deployment.setdefault(t.started_by or "", []).append(t)
    breaker = Breaker.of(original.deployment_configuration.deployment_circuit_breaker)
    failures = {
        d.id: failed_tasks(
            by_deployment.get(d.id, []), view.checked(d.task_definition), now,
            policy.settle, breaker.reset_on_healthy_task,
        )
        for d in original.deployments
    }  # fmt: skip
    stopped_svc, stop_messages = honour_stop(original, now)
    svc, messages = trip_breaker(stopped_svc, failures, now)
    messages = stop_messages + messages
    view.svc = svc
    primary = svc.primary

    throttled_until: datetime | None = None
    if primary is not None:
        count, last = start_failures(by_deployment.get(primary.id, []))
        if count >= THROTTLE_AFTER and last is not None:
            throttled_until = last + start_delay(count)
            messages.append(ev.throttled(svc.service_name))

    launcher = Launcher(snapshot, view, seed=f"{service_arn}:{snapshot.revision}")
    if svc.scheduling_strategy == "DAEMON":
        plan = plan_daemon(view, launcher.eligible, _others_on(snapshot, view), throttled_until)
    else:
        plan = plan_replica(view, throttled_until)
    messages += plan.messages

    started: list[Task] = []
    placed: list[Task] = []
    problem: str | None = None
    waiting = _waiting(view, plan)
    if primary is not None and (plan.launches or plan.targets or waiting):
        started, placed, problem = launcher.launch(
            primary, plan.launches, plan.targets, waiting
        )
    stopped = [request_stop(t, now, why, SCHEDULER) for t, why in plan.stops]
    if started:
        messages.append(ev.started(svc.service_name, [t.task_id for t in started]))
    if placed:
        messages.append(ev.placed(svc.service_name, [t.task_id for t in placed]))
    if stopped:
        messages.append(ev.stopped(svc.service_name, [t.task_id for t in stopped]))
    if problem:
        messages.append(problem)
        if primary is not None and fargate.wants_fargate(
            primary.launch_type, primary.capacity_provider_strategy
        ):
            plan.wake.append(now + fargate.RETRY)  # its capacity is shared by every cluster
    steady = plan.steady and not started and not placed and problem is None and svc is original

    after = _after(view, started, [*placed, *stopped])
    deployments, done = settle(svc, _by_deployment(after), failures, steady, plan.desired, now)
    messages += done
    if steady:
        messages.append(ev.steady(svc.service_name))
    updated = _updated(view, dataclasses.replace(svc, deployments=deployments), after, messages)
    updated = dataclasses.replace(updated, desired_count=plan.desired)
    return Decision(
        service_arn,
        start=tuple(started),
        stop=tuple(stopped),
        service=updated if updated != original else None,
        wake_at=_wake(view, updated, plan.wake),
        placed=tuple(placed),
        history=tuple(track(snapshot, updated, now, acting=True)),
    )


def _waiting(view: View, plan: Plan) -> list[Task]:
    """The primary deployment's tasks waiting in PROVISIONING for a provider's capacity."""
    primary = view.svc.primary
    if primary is None or primary.rollout_state == "FAILED":
        return []
    stopping = {t.task_arn for t, _ in plan.stops}
    return [
        t for t in view.tasks
        if t.container_instance_arn is None and t.last_status == "PROVISIONING"
        and t.desired_status == "RUNNING" and t.capacity_provider_name
        and t.started_by == primary.id and t.task_arn not in stopping
    ]  # fmt: skip


def _drain(view: View, snapshot: Snapshot) -> Decision:
    """A DRAINING service: stop everything; INACTIVE once nothing is left."""
    plan = Plan()
    seen = triage(view, plan)
    for t in seen.live:
        plan.stop(t, scaling_reason(t.started_by))
    stopped = [request_stop(t, view.now, why, SCHEDULER) for t, why in plan.stops]
    after = _after(view, [], stopped)
    messages = [ev.stopped(view.svc.service_name, [t.task_id for t in stopped])] if stopped else []
    failures = {d.id: d.failed_tasks for d in view.svc.deployments}
    deployments, _ = settle(view.svc, _by_deployment(after), failures, False, 0, view.now)
    updated = _updated(view, dataclasses.replace(view.svc, deployments=deployments), after, messages)
    if not after:
        updated = dataclasses.replace(updated, status="INACTIVE")
    return Decision(
        view.svc.service_arn,
        stop=tuple(stopped),
        service=updated if updated != view.svc else None,
        wake_at=_wake(view, updated, plan.wake),
        history=tuple(track(snapshot, updated, view.now, acting=True)),
    )


def _after(view: View, started: Sequence[Task], stopped: Sequence[Task]) -> list[Task]:
    """The service's tasks once this pass is applied: not STOPPED, not on a lost instance
    (``changed``: stop requests, and waiting tasks now placed)."""
    replaced = {t.task_arn: t for t in stopped}
    conditions = view.conditions  # view.condition(t) != LOST, inlined (every task, every pass)
    out = [
        replaced.get(t.task_arn, t) for t in view.tasks
        if t.container_instance_arn is None or conditions.get(t.container_instance_arn, LOST) != LOST
    ]  # fmt: skip
    return [t for t in out if t.last_status != "STOPPED"] + list(started)


def _by_deployment(tasks: Iterable[Task]) -> dict[str, list[Task]]:
    out: dict[str, list[Task]] = {}
    for t in tasks:
        out.setdefault(t.started_by or "", []).append(t)
    return out


def _updated(view: View, svc: Service, after: Sequence[Task], messages: Sequence[str]) -> Service:
    """``svc`` with its running and pending counts and the new events."""
    now = view.now
    news = [m for m in messages if ev.should_write(svc, m, now)]
    live = [t for t in after if is_live(t)]
    return dataclasses.replace(
        svc,
        running_count=sum(1 for t in live if t.last_status == "RUNNING"),
        pending_count=sum(1 for t in live if is_pending(t)),
        events=ev.with_events(svc, now, news) if news else svc.events,
    )


def _wake(view: View, svc: Service, timers: Iterable[datetime]) -> datetime | None:
    """The earliest timer: health grace, settle, throttle, lost agents, steady repeat."""
    wake = [w for w in timers if w > view.now]
    for arn in {t.container_instance_arn for t in view.tasks}:
        inst = view.instances.get(arn) if arn else None
        at = lost_at(inst, view.policy) if inst is not None else None
        if at is not None and at > view.now:
            wake.append(at)
    repeat = ev.next_repeat(svc, view.now)
    if repeat is not None:
        wake.append(repeat)
    return min(wake, default=None)


def _others_on(snapshot: Snapshot, view: View) -> Callable[[str], int]:
    """Counts the tasks of other, non-daemon services still on an instance."""

    def count(instance_arn: str) -> int:
        n = 0
        for t in snapshot.children(Task.KIND, view.svc.cluster_arn).values():
            if (
                t.container_instance_arn != instance_arn
                or t.last_status == "STOPPED"
                or t.service_arn in (None, view.svc.service_arn)
            ):
                continue
            other = snapshot.get(Service.KIND, t.service_arn)
            if not isinstance(other, Service) or other.scheduling_strategy != "DAEMON":
                n += 1
        return n

    return count
