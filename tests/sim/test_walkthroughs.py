"""The scenarios ECS's documentation walks through, run by the simulator with exact numbers.

Every run here uses portside's own service controller, placement engine and managed
scaling on a virtual clock; instances boot in 2 minutes and tasks start in 30 seconds
(the simulator's defaults).
"""

from __future__ import annotations

from collections import Counter

from portside.domain.ecs.task import Task
from portside.sim.runner import Runner
from portside.sim.scenario import parse
from tests.sim.build import at, group, provider, run, scenario, service, taskdef


def _walkthrough(target: int, **extra: object) -> dict[str, object]:
    return scenario(
        groups=[group("asg", ["us-east-1a"])],
        providers=[provider("cp", "asg", target=target)],
        taskdefs=[taskdef("web", 1024, 2048)],
        services=[service("web", "web", 10, placementStrategy=[{"type": "binpack", "field": "cpu"}])],
        **extra,  # type: ignore[arg-type]
    )


def test_ten_tasks_of_one_vcpu_on_m5_large_need_five_instances() -> None:
    result = run(_walkthrough(100))
    first = at(result, 0)
    # nothing runs, 10 tasks wait: M = 5 (binpack, 2 per m5.large), N = 0 -> 200 %
    assert (first["needed:cp"], first["running:cp"], first["reservation:cp"]) == (5, 0, 200.0)
    # a group at zero with waiting tasks launches two
    assert first["instances:asg"] == 2
    a = result.timeline.actions[0]
    assert (a.action, a.capacity_from, a.capacity_to, a.value) == ("scale-out", 0, 2, 200.0)
    end = result.timeline.rows[-1]
    assert (end["instances:asg"], end["tasks_running"], end["reservation:cp"]) == (5, 10, 100.0)
    assert not any(a.action == "scale-in" for a in result.timeline.actions)


def test_target_capacity_80_keeps_headroom_and_never_scales_in() -> None:
    result = run(_walkthrough(80))
    # 5 instances' worth of work at 80 %: ceil(5 / 0.8) = 7 instances; with 6 the
    # reservation would be 83 % (above target), with 7 it is 71 % and 7 * 71.4 / 80 = 6.25
    # rounds back up to 7, so nothing is scaled in
    end = result.timeline.rows[-1]
    assert (end["needed:cp"], end["instances:asg"], end["tasks_running"]) == (5, 7, 10)
    assert end["reservation:cp"] == 71.43
    assert not any(a.action == "scale-in" for a in result.timeline.actions)


def test_a_task_larger_than_the_instance_type_waits_and_the_rest_are_placed() -> None:
    doc = scenario(
        groups=[group("asg", ["us-east-1a"])],
        providers=[provider("cp", "asg")],
        taskdefs=[taskdef("web", 1024, 2048), taskdef("huge", 1024, 16384)],
        services=[service("web", "web", 6), service("huge", "huge", 3)],
    )
    runner = Runner(parse(doc))
    result = runner.run()
    end = result.timeline.rows[-1]
    assert end["tasks_running"] == 6  # every web task placed
    assert end["unfit:cp"] == 3  # the huge ones wait, left out of the calculation
    assert (end["needed:cp"], end["instances:asg"]) == (3, 3)
    huge = next(s for s in runner.state.all("service").values() if s.service_name == "huge")
    assert huge.running_count == 0
    # the three exist, unplaced, in PROVISIONING (not failed, not stopped)
    waiting = list(runner.state.tasks_of_service(huge.service_arn).values())
    assert [(t.last_status, t.desired_status, t.container_instance_arn) for t in waiting] == [
        ("PROVISIONING", "RUNNING", None)
    ] * 3
    messages = [e.message for e in huge.events]
    assert any(
        "no instance type of capacity provider cp can hold one (RESOURCE:MEMORY: a task needs "
        "16384 MiB; m5.large registers 7985 MiB)" in m for m in messages
    )
    # the service controller's own placement event says why, in its words (launch.py)
    assert any(
        "No instance type of capacity provider cp can hold it (RESOURCE:MEMORY: a task needs "
        "16384 MiB; m5.large registers 7985 MiB); it waits in PROVISIONING and is left out of "
        "managed scaling." in m for m in messages
    )


def test_spread_before_binpack_scales_out_more_than_binpack_before_spread() -> None:
    def instances(strategy: list[dict[str, str]]) -> int:
        doc = scenario(
            groups=[group("asg", ["us-east-1a"], max_size=100)],
            providers=[provider("cp", "asg", target=80)],
            taskdefs=[taskdef("web", 256, 512)],
            services=[service("web", "web", 4, placementStrategy=strategy)],
            schedules=[{"cluster": "sim", "service": "web", "desiredCount": [
                {"at": f"{10 * i}m", "count": 4 + 4 * i} for i in range(8)]}],
            duration="2h",
        )  # fmt: skip
        return int(run(doc).timeline.rows[-1]["instances:asg"])

    spread = [{"type": "spread", "field": "instanceId"}, {"type": "binpack", "field": "memory"}]
    binpack = [{"type": "binpack", "field": "memory"}, {"type": "spread", "field": "instanceId"}]
    spread_n, binpack_n = instances(spread), instances(binpack)
    # 32 tasks of 0.25 vCPU fit 8 to an m5.large: binpack needs 4 busy instances and keeps
    # 20 % empty; spread puts a task on every instance, so no instance is ever empty, the
    # reservation sits at 100 % > 80 % and every scale-out gets filled again
    assert binpack_n == 5
    assert spread_n > binpack_n


def test_three_zonal_providers_with_equal_weights_place_four_tasks_per_zone() -> None:
    zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
    doc = scenario(
        groups=[group(f"asg-{z[-1]}", [z]) for z in zones],
        providers=[provider(f"cp-{z[-1]}", f"asg-{z[-1]}") for z in zones],
        taskdefs=[taskdef("web", 512, 1024)],
        services=[service("web", "web", 12)],
        duration="30m",
    )
    runner = Runner(parse(doc))
    result = runner.run()
    tasks = [t for t in runner.state.all(Task.KIND).values() if t.last_status == "RUNNING"]
    assert Counter(t.availability_zone for t in tasks) == {z: 4 for z in zones}
    assert Counter(t.capacity_provider_name for t in tasks) == {f"cp-{z[-1]}": 4 for z in zones}
    end = result.timeline.rows[-1]
    # each zonal group started from zero with two instances; 4 tasks of 0.5 vCPU fit one
    assert [end[f"instances:asg-{z[-1]}"] for z in zones] == [2, 2, 2]


def test_scale_in_waits_15_minutes_and_spares_protected_instances() -> None:
    doc = scenario(
        groups=[group("asg", ["us-east-1a"])],
        providers=[provider("cp", "asg")],
        taskdefs=[taskdef("web", 1024, 2048)],
        services=[service("web", "web", 10, placementStrategy=[{"type": "binpack", "field": "cpu"}])],
        schedules=[{"cluster": "sim", "service": "web",
                    "desiredCount": [{"at": 0, "count": 10}, {"at": "30m", "count": 3}]}],
        duration="90m",
    )  # fmt: skip
    result = run(doc)
    scale_ins = [a for a in result.timeline.actions if a.action == "scale-in"]
    assert scale_ins, "the group never scaled in"
    first = scale_ins[0]
    below = next(r for r in result.timeline.rows if r["minute"] >= 30 and r["reservation:cp"] < 100)
    waited = (first.time - result.scenario.start).total_seconds() / 60 - below["minute"]
    assert waited == 15
    assert "below the target 100 % for 15 minutes" in first.cause
    # only empty instances went: the three tasks never stopped once the scale-down settled
    after = [r for r in result.timeline.rows if r["minute"] >= 32]
    assert all(r["tasks_running"] == 3 for r in after)
    assert result.timeline.rows[-1]["instances:asg"] == result.timeline.rows[-1]["needed:cp"]
