"""Managed draining of a busy instance, as the simulator plays it.

Without managed termination protection a scale-in may pick an instance that
still runs tasks. With managed draining (the default) ECS sets it DRAINING,
the service starts the tasks elsewhere, and only then is the instance let go.
Meanwhile it is still running and billed: the timeline counts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from portside.controllers.capacity_model import TERMINATED, TERMINATING_WAIT, GroupInstance
from portside.domain.autoscaling.instance_types import Catalogue
from portside.domain.ecs.task import Task
from portside.sim.runner import Runner
from portside.sim.scenario import parse
from tests.sim.build import group, provider, scenario, service, taskdef


def _scale_down() -> tuple[Any, list[tuple[datetime, Any]]]:
    """The run both tests watch, and every change it made with the virtual time of each."""
    # 10 tasks spread over 5 instances; at 30m the service drops to 2, which leaves one
    # task on the second-newest instances and none on the oldest ones. Scale-in picks the
    # oldest three (the default termination policy): two empty, one busy.
    doc = scenario(
        groups=[group("asg", ["us-east-1a"], protected=False)],
        providers=[provider("cp", "asg", protection=False)],
        taskdefs=[taskdef("web", 1024, 2048)],
        services=[service("web", "web", 10,
                          placementStrategy=[{"type": "spread", "field": "instanceId"}])],
        schedules=[{"cluster": "sim", "service": "web",
                    "desiredCount": [{"at": 0, "count": 10}, {"at": "30m", "count": 2}]}],
        duration="60m",
    )  # fmt: skip
    runner = Runner(parse(doc))
    seen: list[tuple[datetime, Any]] = []

    def record(changes: Sequence[Any]) -> None:
        seen.extend((runner.clock.now(), c) for c in changes)

    runner.state.subscribe(record)
    return runner.run(), seen


def test_a_busy_instance_is_terminated_only_after_its_tasks_run_elsewhere() -> None:
    result, seen = _scale_down()

    drained = [(t, c) for t, c in seen
               if isinstance(c, GroupInstance) and c.lifecycle_state == TERMINATING_WAIT]  # fmt: skip
    assert drained, "no busy instance was chosen for scale-in"
    drained_at, victim = drained[0]
    ends = [t for t, c in seen if isinstance(c, GroupInstance)
            and c.instance_id == victim.instance_id and c.lifecycle_state == TERMINATED]  # fmt: skip
    assert ends, f"{victim.instance_id} was never terminated: its tasks never moved"
    terminated_at = ends[0]

    def tasks(until: datetime) -> dict[str, Task]:
        """Every task as it last was at ``until``."""
        return {c.task_arn: c for t, c in seen if isinstance(c, Task) and t <= until}

    before = tasks(drained_at)
    on_victim = [a for a, t in before.items() if t.last_status == "RUNNING"
                 and t.container_instance_arn == victim.container_instance_arn]  # fmt: skip
    assert on_victim, "the instance chosen for draining held no task"
    for arn in on_victim:
        stops = [(t, c) for t, c in seen
                 if isinstance(c, Task) and c.task_arn == arn and c.last_status == "STOPPED"]  # fmt: skip
        assert stops, f"{arn} never stopped"
        stopped_at, stopped = stops[0]
        # the drain stopped it (not the instance going away), before the instance went
        assert stopped_at < terminated_at
        assert stopped.stopped_reason is not None and "is DRAINING" in stopped.stopped_reason
        # and by then the service's two tasks already ran on other instances
        elsewhere = [t for t in tasks(stopped_at).values() if t.last_status == "RUNNING"
                     and t.container_instance_arn != victim.container_instance_arn]  # fmt: skip
        assert len(elsewhere) == 2, "the task stopped before a replacement ran"

    # the actions tell the same story, in order: scale-in (after draining), then terminate
    names = [(a.action, a.time) for a in result.timeline.actions
             if victim.instance_id in a.cause]  # fmt: skip
    assert names == [("scale-in", drained_at), ("terminate", terminated_at)]
    scale_in = next(a for a in result.timeline.actions if a.action == "scale-in")
    assert scale_in.cause.endswith("after draining.")
    # the service never ran fewer than its two tasks once it settled
    assert all(r["tasks_running"] >= 2 for r in result.timeline.rows if r["minute"] >= 31)
    end = result.timeline.rows[-1]
    assert (end["instances:asg"], end["tasks_running"], end["reservation:cp"]) == (2, 2, 100.0)


def test_draining_instances_are_counted_and_billed_alike() -> None:
    """The ``instances:GROUP`` columns and ``cost_per_hour`` count a draining instance:
    it is still running and billed."""
    result, seen = _scale_down()

    price = Catalogue()["m5.large"].price_per_hour
    for row in result.timeline.rows:
        assert row["cost_per_hour"] == round(row["instances:asg"] * price, 4), row

    # The check above must have covered a draining instance: find the ticks where one was.
    drained = next(c for _, c in seen
                   if isinstance(c, GroupInstance) and c.lifecycle_state == TERMINATING_WAIT)  # fmt: skip
    began = next(t for t, c in seen if isinstance(c, GroupInstance)
                 and c.instance_id == drained.instance_id and c.lifecycle_state == TERMINATING_WAIT)  # fmt: skip
    ended = next(t for t, c in seen if isinstance(c, GroupInstance)
                 and c.instance_id == drained.instance_id and c.lifecycle_state == TERMINATED)  # fmt: skip
    during = [r for r in result.timeline.rows
              if began <= datetime.fromisoformat(r["time"]) < ended]  # fmt: skip
    assert during, "the instance drained between two ticks: the test saw no draining row"
    # The drained instance is counted: more instances than the live ones the decision kept.
    scale_in = next(a for a in result.timeline.actions if a.action == "scale-in")
    assert all(r["instances:asg"] > scale_in.capacity_to for r in during)
