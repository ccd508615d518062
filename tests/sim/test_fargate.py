"""FARGATE and FARGATE_SPOT in the simulator: no instances, per-task billing, Spot warnings."""

from __future__ import annotations

from collections import Counter
from typing import Any

from portside.domain.ecs.task import Task
from portside.sim.fargate import PRICES
from portside.sim.runner import Runner
from portside.sim.scenario import parse


def _doc(desired: int = 10, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "name": "fargate", "seed": 3, "duration": "1h",
        "clusters": [{"clusterName": "sim", "capacityProviders": ["FARGATE", "FARGATE_SPOT"]}],
        "taskDefinitions": [{
            "family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "cpu": "1024", "memory": "2048",
            "containerDefinitions": [{"name": "app", "image": "app:1", "essential": True}],
        }],
        "services": [{
            "cluster": "sim", "serviceName": "web", "taskDefinition": "web",
            "desiredCount": desired,
            "capacityProviderStrategy": [
                {"capacityProvider": "FARGATE", "base": 2, "weight": 1},
                {"capacityProvider": "FARGATE_SPOT", "weight": 3},
            ],
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-a"]}},
        }],
        "events": events or [],
    }  # fmt: skip


def test_fargate_is_unlimited_capacity_billed_per_task() -> None:
    runner = Runner(parse(_doc(200)))
    result = runner.run()
    end = result.timeline.rows[-1]
    assert end["tasks_running"] == 200  # no instances, no waiting
    tasks = [t for t in runner.state.all(Task.KIND).values() if t.last_status == "RUNNING"]
    by = Counter(t.capacity_provider_name for t in tasks)
    # base 2 on FARGATE, then 198 split 1:3 (49.5 rounds to the first listed): 52 and 148
    assert by == {"FARGATE": 52, "FARGATE_SPOT": 148}
    assert {t.launch_type for t in tasks} == {"FARGATE"}
    # 1 vCPU and 2 GB each: 52 x (0.04048 + 2 x 0.004445) + 148 x (0.012144 + 2 x 0.0013335)
    # = 2.56724 + 2.192028 = 4.759268 USD per hour
    assert PRICES == {"FARGATE": (0.04048, 0.004445), "FARGATE_SPOT": (0.012144, 0.0013335)}
    assert end["cost_per_hour"] == 4.7593


def test_fargate_spot_interruption_warns_two_minutes_then_stops_and_is_replaced() -> None:
    runner = Runner(parse(_doc(events=[{"at": "50m", "fargateSpotInterruption": {"count": 3}}])))
    result = runner.run()
    stopped = [t for t in runner.state.all(Task.KIND).values() if t.stop_code == "SpotInterruption"]
    assert len(stopped) == 3
    for t in stopped:
        assert t.capacity_provider_name == "FARGATE_SPOT"
        assert t.last_status == "STOPPED"
        assert t.stopped_reason == "Your Spot Task was interrupted."
        assert t.stopping_at is not None and t.stopped_at is not None
        assert (t.stopped_at - t.stopping_at).total_seconds() == 120  # the two-minute warning
    rows = {r["minute"]: r for r in result.timeline.rows}
    # during the warning the interrupted tasks still run, their replacements start beside them
    assert rows[49]["tasks_running"] == 10
    assert rows[51]["tasks_running"] == 13
    assert rows[55]["tasks_running"] == 10
    assert any(n.kind == "fargate-spot-interruption" and n.message.startswith("3 of ")
               for n in result.timeline.notes)
