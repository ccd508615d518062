"""controllers/plan.py: scale_in_order against its definition, and View.healthy against
task_state.healthy.

scale_in_order's definition (its docstring): each pick takes the least
``(class, -zone count, -instance count, -created, arn)`` with the counts over
the candidates still left. The reference below evaluates exactly that over
every remaining candidate; the function must pick the same tasks in the same
order, on many random services.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from functools import partial

import pytest

from portside.controllers.plan import View, scale_in_order
from portside.controllers.task_state import Policy, healthy
from portside.domain.ecs.task import Task
from tests.unit.controllers.world import HOUR, NOW, service, task


def view_of(tasks: Sequence[Task]) -> View:
    return View(service(), None, NOW, Policy(), {}, list(tasks), {}, lambda _: False)


def reference(view: View, candidates: Sequence[Task], n: int) -> list[Task]:
    left = list(candidates)
    chosen: list[Task] = []
    while left and len(chosen) < n:
        zones: dict[str | None, int] = {}
        hosts: dict[str | None, int] = {}
        for t in left:
            zones[t.availability_zone] = zones.get(t.availability_zone, 0) + 1
            hosts[t.container_instance_arn] = hosts.get(t.container_instance_arn, 0) + 1

        pick = min(left, key=partial(_key, view, zones, hosts))
        chosen.append(pick)
        left.remove(pick)
    return chosen


def _key(view: View, zones: dict[str | None, int], hosts: dict[str | None, int],
         t: Task) -> tuple[int, int, int, int, float, str]:  # fmt: skip
    return (
        0 if t.last_status != "RUNNING" else 1,
        0 if not view.healthy(t) else 1,
        -zones[t.availability_zone],
        -hosts[t.container_instance_arn],
        -t.created_at.timestamp(),
        t.task_arn,
    )


def random_tasks(rng: random.Random) -> list[Task]:
    zones = ["us-east-1a", "us-east-1b", "us-east-1c"][: rng.randint(1, 3)]
    out = []
    for _ in range(rng.randint(1, 60)):
        inst = rng.randint(1, 8)
        status = rng.choice(["RUNNING", "RUNNING", "RUNNING", "PENDING"])
        started = NOW - timedelta(seconds=rng.choice([5, 3600]))  # young: not yet healthy
        created = NOW - HOUR - timedelta(seconds=rng.randint(0, 5))  # ties in age happen
        out.append(task(inst=inst, status=status, started=started, created=created,
                        az=zones[inst % len(zones)]))  # fmt: skip
    if rng.random() < 0.3:  # an instance reporting tasks in two zones, and unplaced tasks
        out.append(task(inst=1, az="us-east-1z", created=NOW - HOUR))
        out.append(task(inst=None, status="PROVISIONING", az=None, started=None))  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize("seed", range(60))
def test_the_picks_follow_the_definition(seed: int) -> None:
    rng = random.Random(seed)
    tasks = random_tasks(rng)
    view = view_of(tasks)
    for n in (1, len(tasks) // 3, len(tasks) - 1, len(tasks), len(tasks) + 2):
        assert scale_in_order(view, tasks, n) == reference(view, tasks, n), n


def test_nothing_to_pick() -> None:
    tasks = [task()]
    assert scale_in_order(view_of(tasks), tasks, 0) == []
    assert scale_in_order(view_of([]), [], 3) == []


@pytest.mark.parametrize("checked", [False, True])
def test_the_view_answers_healthy_as_task_state_does(checked: bool) -> None:
    """View.healthy inlines task_state.healthy with ``now - settle`` computed once."""
    policy = Policy()
    tasks = [
        task(status=status, health=health, started=NOW - age, created=NOW - HOUR)
        for status in ("RUNNING", "PENDING", "STOPPED")
        for health in ("HEALTHY", "UNHEALTHY", "UNKNOWN")
        for age in (timedelta(0), policy.settle - timedelta(microseconds=1), policy.settle,
                    policy.settle + timedelta(microseconds=1), HOUR)
    ]  # fmt: skip
    tasks.append(task(started=None, created=NOW - HOUR))  # RUNNING, no start time recorded
    view = View(service(), None, NOW, policy, {}, tasks, {}, lambda _: checked)
    for t in tasks:
        assert view.healthy(t) == healthy(t, checked, NOW, policy), t
