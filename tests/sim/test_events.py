"""Simulated events: an Availability Zone outage, Spot interruptions, deployments; replays."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from portside.domain.ecs.task import Task
from portside.sim.runner import Runner
from portside.sim.scenario import parse
from tests.sim.build import group, provider, run, scenario, service, taskdef

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]


def _three_zone_group(**extra: object) -> dict[str, object]:
    return scenario(
        groups=[group("asg", ZONES, max_size=30)],
        providers=[provider("cp", "asg")],
        taskdefs=[taskdef("web", 1024, 2048)],
        services=[service("web", "web", 9)],
        duration="2h",
        **extra,  # type: ignore[arg-type]
    )


def test_the_same_scenario_and_seed_give_the_same_result() -> None:
    doc = _three_zone_group(events=[
        {"at": "40m", "azOutage": {"availabilityZone": "us-east-1a", "duration": "20m"}},
        {"at": "70m", "updateService": {"cluster": "sim", "service": "web", "desiredCount": 14}},
    ])  # fmt: skip
    one, two = run(doc), run(doc)
    assert json.dumps(one.timeline.rows) == json.dumps(two.timeline.rows)
    assert [a.as_dict() for a in one.timeline.actions] == [a.as_dict() for a in two.timeline.actions]
    assert [n.as_dict() for n in one.timeline.notes] == [n.as_dict() for n in two.timeline.notes]


def test_a_multi_zone_group_steps_by_the_minimum_and_balances_zones() -> None:
    result = run(_three_zone_group())
    ups = [a for a in result.timeline.actions if a.action == "scale-out"]
    # several zones: ECS scales out by exactly minimumScalingStepSize (1) each minute
    assert ups and all(a.capacity_to - a.capacity_from == 1 for a in ups)
    end = result.timeline.rows[-1]
    assert end["instances:asg"] == 5  # 9 tasks of 1 vCPU, 2 per m5.large
    assert sorted(end[f"instances:asg:{z}"] for z in ZONES) == [1, 2, 2]


def test_an_az_outage_moves_tasks_and_instances_to_the_other_zones() -> None:
    doc = _three_zone_group(events=[
        {"at": "40m", "azOutage": {"availabilityZone": "us-east-1a", "duration": "30m"}},
    ])  # fmt: skip
    result = run(doc)
    during = [r for r in result.timeline.rows if 41 <= r["minute"] < 70]
    assert all(r["instances:asg:us-east-1a"] == 0 for r in during)
    recovered = next(r for r in result.timeline.rows if r["minute"] == 65)
    assert recovered["tasks_running"] == 9
    kinds = [n.kind for n in result.timeline.notes]
    assert "az-outage" in kinds and "az-recovered" in kinds


def test_spot_interruptions_drain_and_the_group_replaces_instances() -> None:
    doc = scenario(
        groups=[group("spot", ["us-east-1a"], template="spot")],
        providers=[provider("cp", "spot")],
        taskdefs=[taskdef("web", 1024, 2048)],
        services=[service("web", "web", 6)],
        duration="1h",
        events=[{"at": "20m", "spotInterruption": {"autoScalingGroupName": "spot", "count": 2}}],
    )
    doc["launchTemplates"].append({  # type: ignore[attr-defined]
        "LaunchTemplateName": "spot",
        "LaunchTemplateData": {"InstanceType": "m5.large",
                               "InstanceMarketOptions": {"MarketType": "spot"}},
    })  # fmt: skip
    runner = Runner(parse(doc))
    result = runner.run()
    note = next(n for n in result.timeline.notes if n.kind == "spot-interruption")
    assert note.message == "spot: 2 of 3 Spot instances got the two-minute interruption notice."
    assert result.timeline.rows[-1]["tasks_running"] == 6
    assert result.timeline.rows[-1]["instances:spot"] == 3
    billed = list(runner.fleet.ledger.values())
    assert {b.market for b in billed} == {"spot"}
    assert all(b.price_per_hour == 0.096 * 0.35 for b in billed)
    # the notice drains the two instances: their tasks are replaced at once, so managed
    # scaling adds two instances; two minutes later EC2 takes the interrupted ones and the
    # group, still at 5, replaces them; 15 minutes below target later it is back at 3
    reclaimed = [b for b in billed if b.terminated_at is not None
                 and (b.terminated_at - result.scenario.start).total_seconds() == 22 * 60]
    assert len(reclaimed) == 2
    assert [(a.action, a.capacity_from, a.capacity_to) for a in result.timeline.actions
            if a.time > result.scenario.start + timedelta(minutes=19)] == [
        ("scale-out", 3, 5), ("scale-in", 5, 3)]


def test_a_rolling_deployment_gets_room_then_gives_it_back() -> None:
    doc = scenario(
        groups=[group("asg", ["us-east-1a"])],
        providers=[provider("cp", "asg")],
        taskdefs=[taskdef("web", 1024, 2048)],
        services=[service("web", "web", 4,
                          placementStrategy=[{"type": "binpack", "field": "cpu"}])],
        duration="90m",
        events=[
            {"at": "20m", "registerTaskDefinition": taskdef("web", 1024, 3072)},
            {"at": "21m", "updateService": {"cluster": "sim", "service": "web",
                                             "taskDefinition": "web:2"}},
        ],
    )  # fmt: skip
    runner = Runner(parse(doc))
    result = runner.run()
    peak = max(r["instances:asg"] for r in result.timeline.rows)
    assert peak == 4  # old tasks on 2 instances, the new ones need 2 more alongside
    assert result.timeline.rows[-1]["instances:asg"] == 2
    running = [t for t in runner.state.all(Task.KIND).values() if t.last_status == "RUNNING"]
    assert Counter(t.task_definition_arn.rsplit(":", 1)[-1] for t in running) == {"2": 4}


def test_a_failed_request_is_an_event_not_a_crash() -> None:
    doc = _three_zone_group(events=[
        {"at": "10m", "updateService": {"cluster": "sim", "service": "nope", "desiredCount": 3}},
    ])  # fmt: skip
    result = run(doc)
    [err] = [n for n in result.timeline.notes if n.kind == "api-error"]
    assert "ServiceNotFoundException" in err.message
