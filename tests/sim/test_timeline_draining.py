"""The timeline counts every instance the fleet pays for, draining ones included.

An instance chosen for a scale-in while it still runs tasks stays in
Terminating:Wait (managed draining) until its tasks run elsewhere; it is still
running and billed. The ``instances:GROUP`` columns and ``cost_per_hour`` must
tell the same story: one m5.large's price per instance counted, every tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from portside.controllers.capacity_model import TERMINATED, TERMINATING_WAIT, GroupInstance
from portside.domain.autoscaling.instance_types import Catalogue
from portside.sim.runner import Runner
from portside.sim.scenario import parse
from tests.sim.build import group, provider, scenario, service, taskdef


def test_draining_instances_are_counted_and_billed_alike() -> None:
    # As in test_draining: 10 tasks spread over 5 instances, then 2; the scale-in picks a
    # busy instance, which drains for a few minutes before it is let go.
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
    result = runner.run()

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
