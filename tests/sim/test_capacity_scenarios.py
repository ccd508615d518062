"""Managed scaling cases the walkthroughs leave out, run by the simulator with exact numbers.

Instances boot in 2 minutes and count as capacity after their 5-minute warm-up;
tasks start in 30 seconds (the simulator's defaults).
"""

from __future__ import annotations

from collections import Counter

from portside.domain.ecs.task import Task
from portside.sim.runner import Runner
from portside.sim.scenario import parse
from tests.sim.build import at, group, provider, run, scenario, service, taskdef


def test_with_six_running_the_reservation_is_83_and_nothing_scales_in() -> None:
    # The documented walkthrough from the other side: the group already has 6 m5.large when
    # the 10 tasks of 1 vCPU / 2 GiB arrive; binpacked they need 5.
    doc = scenario(
        groups=[group("asg", ["us-east-1a"], desired=6)],
        providers=[provider("cp", "asg", target=80)],
        taskdefs=[taskdef("web", 1024, 2048)],
        services=[service("web", "web", 10, placementStrategy=[{"type": "binpack", "field": "cpu"}])],
        duration="1h",
    )  # fmt: skip
    result = run(doc)
    # the six finish their warm-up at minute 5: M = 5, N = 6 -> 83.33 %
    row = at(result, 5)
    assert (row["needed:cp"], row["running:cp"], row["reservation:cp"]) == (5, 6, 83.33)
    assert row["tasks_running"] == 10
    # 83 % is above 80 %: one more (6 * 83.3 / 80 = 6.25 -> 7); never fewer than six
    [a] = result.timeline.actions
    assert (a.action, a.capacity_from, a.capacity_to, a.value) == ("scale-out", 6, 7, 83.3)
    assert not any(a.action == "scale-in" for a in result.timeline.actions)
    assert min(r["instances:asg"] for r in result.timeline.rows) == 6
    end = result.timeline.rows[-1]
    assert (end["instances:asg"], end["reservation:cp"], end["tasks_running"]) == (7, 71.43, 10)


def test_distinct_instance_needs_one_instance_per_task() -> None:
    # Five small tasks would share one m5.large; distinctInstance puts each on its own.
    doc = scenario(
        groups=[group("asg", ["us-east-1a"])],
        providers=[provider("cp", "asg")],
        taskdefs=[taskdef("web", 256, 512)],
        services=[service("web", "web", 5, placementConstraints=[{"type": "distinctInstance"}])],
        duration="30m",
    )  # fmt: skip
    runner = Runner(parse(doc))
    result = runner.run()
    first = at(result, 0)
    # the binpack of the waiting work honours the constraint: M = 5 from the first minute
    assert (first["needed:cp"], first["waiting:cp"], first["reservation:cp"]) == (5, 5, 200.0)
    end = result.timeline.rows[-1]
    assert (end["needed:cp"], end["running:cp"], end["instances:asg"]) == (5, 5, 5)
    assert end["reservation:cp"] == 100.0
    running = [t for t in runner.state.all(Task.KIND).values() if t.last_status == "RUNNING"]
    assert len(running) == 5
    assert set(Counter(t.container_instance_arn for t in running).values()) == {1}


def test_gpu_tasks_on_a_custom_gpu_instance_type() -> None:
    # A scenario's own type with 4 GPUs; tasks of 1 GPU, 1 vCPU and 4 GiB: the GPUs decide,
    # 4 per instance, so 10 tasks need 3 instances (cpu and memory would hold 8 and 14).
    ml = taskdef("ml", 1024, 4096)
    ml["containerDefinitions"][0]["resourceRequirements"] = [{"type": "GPU", "value": "1"}]
    doc = scenario(
        groups=[group("asg", ["us-east-1a"])],
        providers=[provider("cp", "asg")],
        taskdefs=[ml],
        services=[service("ml", "ml", 10)],
        instance_type="g9.custom",
        instanceTypes=[{"name": "g9.custom", "vcpus": 8, "memoryMiB": 61440, "maxEnis": 4,
                        "gpus": 4, "pricePerHour": 1.5}],
        duration="30m",
    )  # fmt: skip
    runner = Runner(parse(doc))
    result = runner.run()
    assert (at(result, 0)["needed:cp"], at(result, 0)["waiting:cp"]) == (3, 10)
    end = result.timeline.rows[-1]
    assert (end["instances:asg"], end["needed:cp"], end["reservation:cp"]) == (3, 3, 100.0)
    assert (end["tasks_running"], end["tasks_waiting"]) == (10, 0)
    running = [t for t in runner.state.all(Task.KIND).values() if t.last_status == "RUNNING"]
    assert sorted(Counter(t.container_instance_arn for t in running).values()) == [2, 4, 4]


def test_a_multi_zone_group_scales_from_zero_one_step_at_a_time() -> None:
    # Two zones: ECS steps by exactly minimumScalingStepSize (1), so 0 -> 1 -> 2 takes two
    # decisions where a one-zone group goes 0 -> 2 at once (test_walkthroughs).
    doc = scenario(
        groups=[group("asg", ["us-east-1a", "us-east-1b"])],
        providers=[provider("cp", "asg")],
        taskdefs=[taskdef("web", 1024, 2048)],
        services=[service("web", "web", 4)],
        duration="20m",
    )  # fmt: skip
    result = run(doc)
    steps = [(a.time - result.scenario.start, a.capacity_from, a.capacity_to)
             for a in result.timeline.actions if a.action == "scale-out"]  # fmt: skip
    assert [(t.total_seconds() / 60, a, b) for t, a, b in steps] == [(0, 0, 1), (1, 1, 2)]
    assert "steps by exactly minimumScalingStepSize (1)" in result.timeline.actions[0].cause
    assert (at(result, 0)["instances:asg"], at(result, 1)["instances:asg"]) == (1, 2)
    end = result.timeline.rows[-1]
    assert (end["instances:asg:us-east-1a"], end["instances:asg:us-east-1b"]) == (1, 1)
    assert (end["tasks_running"], end["reservation:cp"]) == (4, 100.0)
