"""DAEMON scheduling: one task of the primary deployment on every eligible instance.

An instance is eligible when it is ACTIVE (not DRAINING, not lost) and the
task could go there but for resources: launch type, required attributes and
``memberOf`` constraints match. ``desiredCount`` is the number of eligible
instances. Per eligible instance:

- one primary task: kept (extra ones stop);
- an older deployment's task: it stops first (a daemon rollout replaces in
  place, ``maximumPercent`` 100), as far as ``minimumHealthyPercent`` allows,
  and the new task starts once it has STOPPED;
- nothing: a task is started there.

Tasks on instances that are no longer eligible stop; on a DRAINING instance,
only once the instance runs no other (non-daemon) service tasks, so daemons
such as log routers outlive the work they serve.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from portside.controllers.fenceposts import resolve_fenceposts
from portside.controllers.plan import (
    Plan,
    View,
    draining_reason,
    scale_in_order,
    scaling_reason,
    triage,
)
from portside.controllers.task_state import ACTIVE, DRAINING, instance_condition
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.ecs.task import Task


def plan_daemon(
    view: View,
    eligible: Callable[[ContainerInstance], bool],
    others_on: Callable[[str], int],
    throttled_until: datetime | None = None,
) -> Plan:
    """``eligible(instance)`` applies the static placement checks; ``others_on(arn)``
    counts the non-daemon service tasks still on an instance."""
    svc = view.svc
    plan = Plan()
    seen = triage(view, plan)
    primary = svc.primary
    if primary is None:
        return plan
    stalled = primary.rollout_state == "FAILED"
    by_instance: dict[str, list[Task]] = {}
    for t in seen.live:
        by_instance.setdefault(t.container_instance_arn or "", []).append(t)
    stopping_on = {t.container_instance_arn for t in seen.stopping}
    targets = [
        i for i in view.instances.values()
        if instance_condition(i, view.now, view.policy) == ACTIVE and eligible(i)
    ]
    plan.desired = len(targets)
    cfg = svc.deployment_configuration
    min_healthy, _ = resolve_fenceposts(
        plan.desired, cfg.minimum_healthy_percent, cfg.maximum_percent
    )
    allowed = sum(
        1 for t in seen.live
        if (view.healthy(t) if t.started_by == primary.id else view.available(t))
    ) - min_healthy
    steady = not seen.stopping
    for inst in targets:
        arn = inst.container_instance_arn
        mine = by_instance.pop(arn, [])
        keep = [t for t in mine if t.started_by == primary.id]
        old = [t for t in mine if t.started_by != primary.id]
        for t in scale_in_order(view, keep, len(keep) - 1):
            plan.stop(t, scaling_reason(t.started_by))
            keep = [k for k in keep if k is not t]
        for t in [] if stalled else sorted(old, key=view.available):  # unavailable ones first
            if view.available(t):
                if allowed <= 0:
                    continue
                allowed -= 1
            plan.stop(t, scaling_reason(t.started_by))
        if not keep and not old and arn not in stopping_on and not stalled:
            plan.targets.append(arn)
        ok = len(keep) == 1 and not old and view.healthy(keep[0])
        steady = steady and ok
    for arn, rest in by_instance.items():
        steady = False
        if view.conditions.get(arn) == DRAINING and others_on(arn) > 0:
            continue
        for t in rest:
            why = (
                draining_reason(view.instance_id(t))
                if view.conditions.get(arn) == DRAINING
                else scaling_reason(t.started_by)
            )
            plan.stop(t, why)
    plan.steady = steady and not plan.stops and not plan.targets
    if plan.targets and throttled_until is not None and view.now < throttled_until:
        plan.targets = []
        plan.wake.append(throttled_until)
    return plan
