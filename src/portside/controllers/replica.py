"""REPLICA scheduling: keep ``desiredCount`` tasks of the primary deployment.

The live tasks split in two. *Keep*: the primary deployment's tasks on ACTIVE
instances. *Retire*: everything else — tasks of older deployments, and the
primary's tasks on DRAINING instances — to be replaced. Then, within the
fenceposts of :func:`~portside.controllers.fenceposts.resolve_fenceposts`:

1. scale in: more keepers than desired stop at once (ECS's balance order);
2. start: the missing keepers, as far as ``max_total`` leaves room (tasks asked
   to stop count until they have STOPPED) and the start throttle allows;
3. retire: retirees that are not available (still pending, or UNHEALTHY) stop
   at once; available ones only while more than ``min_healthy`` would remain,
   counting the keepers that have *proved* healthy and the retirees that are
   available (RUNNING and not UNHEALTHY: a young old task is presumed
   healthy, a young new one is not — so a new deployment that crashes right
   after starting cannot take the old tasks down with it).

The service is steady when the keepers are exactly the desired count, all
proved healthy, and nothing else is left or on its way out.

A FAILED primary deployment (circuit breaker without rollback) launches
nothing and retires nothing: the deployment is stalled, as in ECS.

Scale-in protection (domain/ecs/task_protection.py): scale-in picks among
the unprotected keepers only — the surplus that is protected stays, and the
plan wakes when its protection lapses — and a protected retiree is not
stopped until its protection lapses or is removed, so the deployment stays
IN_PROGRESS meanwhile. Retirees on a DRAINING instance stop regardless: that
is not scale-in. A protected task still counts as healthy or available for
``minimumHealthyPercent``, as it keeps serving.
"""

from __future__ import annotations

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
from portside.controllers.task_state import ACTIVE, DRAINING
from portside.domain.ecs.task import Task


def plan_replica(view: View, throttled_until: datetime | None) -> Plan:
    svc, now = view.svc, view.now
    plan = Plan(desired=svc.desired_count)
    primary = svc.primary
    seen = triage(view, plan)
    if primary is None:
        return plan
    cfg = svc.deployment_configuration
    min_healthy, max_total = resolve_fenceposts(
        svc.desired_count, cfg.minimum_healthy_percent, cfg.maximum_percent
    )
    keep = [t for t in seen.live if t.started_by == primary.id and view.condition(t) == ACTIVE]
    kept = {t.task_arn for t in keep}
    retire = [t for t in seen.live if t.task_arn not in kept]
    stalled = primary.rollout_state == "FAILED"

    excess = len(keep) - svc.desired_count
    if excess > 0:
        free = [t for t in keep if not t.protected(now)]
        if len(free) < excess:  # protected surplus stays: look again when protection lapses
            plan.wake.append(_first_lapse(keep, now))
        scaled_in = scale_in_order(view, free, excess)
        for t in scaled_in:
            plan.stop(t, scaling_reason(t.started_by))
        gone = {t.task_arn for t in scaled_in}
        keep = [t for t in keep if t.task_arn not in gone]

    missing = svc.desired_count - len(keep)
    room = max_total - seen.counted
    if missing > 0 and not stalled:
        if throttled_until is not None and now < throttled_until:
            plan.wake.append(throttled_until)
        else:
            plan.launches = max(0, min(missing, room))

    if not stalled:
        allowed = sum(1 for t in keep if view.healthy(t)) + sum(
            1 for t in retire if view.available(t)
        ) - min_healthy
        retire.sort(key=lambda t: (view.available(t), t.created_at, t.task_arn))
        for t in retire:
            until = t.protected_until
            if until is not None and now < until and view.condition(t) != DRAINING:
                plan.wake.append(until)
                continue
            if view.available(t):
                if allowed <= 0:
                    break
                allowed -= 1
            why = (
                draining_reason(view.instance_id(t))
                if view.condition(t) == DRAINING
                else scaling_reason(t.started_by)
            )
            plan.stop(t, why)

    plan.steady = (
        not plan.stops
        and plan.launches == 0
        and not seen.stopping
        and not retire
        and len(keep) == svc.desired_count
        and all(view.healthy(t) for t in keep)
    )
    return plan



def _first_lapse(tasks: list[Task], now: datetime) -> datetime:
    """When the first of the protected ``tasks`` loses its protection."""
    return min(t.protected_until for t in tasks if t.protected_until and now < t.protected_until)
