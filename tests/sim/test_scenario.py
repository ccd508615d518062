"""Scenario files: API-shaped requests checked against botocore's models, errors that say where."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from portside.sim.runner import Runner
from portside.sim.scenario import ScenarioError, daily_cycle, duration, load, parse
from tests.sim.build import group, provider, scenario, service, taskdef

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"


def _doc(**extra: object) -> dict[str, object]:
    return scenario(
        groups=[group("asg", ["us-east-1a"])], providers=[provider("cp", "asg")],
        taskdefs=[taskdef("web", 256, 512)], services=[service("web", "web", 2)], **extra,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("1d", 86400)],
)
def test_durations(text: object, seconds: int) -> None:
    assert duration(text, "x") == timedelta(seconds=seconds)


def test_a_bad_duration_says_where() -> None:
    with pytest.raises(ScenarioError, match=r"events\[0\].at: 'soon' is not a duration"):
        parse(_doc(events=[{"at": "soon", "updateService": {"service": "web"}}]))


def test_requests_are_checked_against_the_model() -> None:
    doc = _doc()
    doc["services"][0]["desiredCount"] = "ten"  # type: ignore[index]
    with pytest.raises(ScenarioError, match=r"services\[0\] \(ecs CreateService\)"):
        parse(doc)
    doc = _doc()
    doc["autoScalingGroups"][0]["MaxSze"] = 3  # type: ignore[index]
    with pytest.raises(ScenarioError, match=r"autoScalingGroups\[0\].*Unknown parameter 'MaxSze'"):
        parse(doc)


def test_ecs_rules_apply_as_on_the_server() -> None:
    doc = _doc()
    doc["capacityProviders"][0]["name"] = "aws-cp"  # type: ignore[index]
    with pytest.raises(ScenarioError, match=r"capacityProviders\[0\].*cannot be prefixed"):
        Runner(parse(doc))


def test_a_provider_must_name_a_group_of_the_scenario() -> None:
    doc = _doc()
    doc["capacityProviders"][0]["autoScalingGroupProvider"]["autoScalingGroupArn"] = "other"  # type: ignore[index]
    with pytest.raises(ScenarioError, match="names no group under autoScalingGroups"):
        Runner(parse(doc))


def test_termination_protection_needs_a_protected_group_as_in_ecs() -> None:
    doc = _doc()
    doc["autoScalingGroups"][0]["NewInstancesProtectedFromScaleIn"] = False  # type: ignore[index]
    with pytest.raises(ScenarioError, match=(
        r"capacityProviders\[0\] \(CreateCapacityProvider\): The managed termination "
        r"protection setting .* the Auto Scaling group must have instance protection from "
        r"scale in enabled\.")):  # fmt: skip
        Runner(parse(doc))
    doc["capacityProviders"][0]["autoScalingGroupProvider"][  # type: ignore[index]
        "managedTerminationProtection"] = "DISABLED"
    Runner(parse(doc))


def test_an_unknown_instance_type_says_which_families_exist() -> None:
    doc = _doc()
    doc["launchTemplates"][0]["LaunchTemplateData"]["InstanceType"] = "z9.big"  # type: ignore[index]
    with pytest.raises(ScenarioError, match=r"unknown instance type 'z9.big'.*m5, m6g"):
        Runner(parse(doc))


def test_custom_instance_types_and_subnets() -> None:
    doc = _doc(instanceTypes=[{"name": "z9.big", "vcpus": 64, "memoryMiB": 262144,
                               "maxEnis": 8, "pricePerHour": 2.5}],
               subnets={"subnet-1": "us-east-1b"})  # fmt: skip
    doc["launchTemplates"][0]["LaunchTemplateData"]["InstanceType"] = "z9.big"  # type: ignore[index]
    g = doc["autoScalingGroups"][0]  # type: ignore[index]
    del g["AvailabilityZones"]
    g["VPCZoneIdentifier"] = "subnet-1"
    runner = Runner(parse(doc))
    [grp] = runner.state.all("autoscaling_group").values()
    assert grp.availability_zones == ("us-east-1b",)
    assert (grp.instance_types[0].cpu, grp.instance_types[0].eni_slots) == (65536, 7)


def test_mixed_instances_policy_gives_types_and_spot_share() -> None:
    doc = _doc()
    doc["autoScalingGroups"] = [{  # type: ignore[index]
        "AutoScalingGroupName": "asg", "MinSize": 0, "MaxSize": 10,
        "AvailabilityZones": ["us-east-1a"], "NewInstancesProtectedFromScaleIn": True,
        "MixedInstancesPolicy": {
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": "m5-large"},
                "Overrides": [{"InstanceType": "m5.xlarge"}, {"InstanceType": "c5.xlarge"}],
            },
            "InstancesDistribution": {"OnDemandBaseCapacity": 1,
                                      "OnDemandPercentageAboveBaseCapacity": 25},
        },
    }]  # fmt: skip
    runner = Runner(parse(doc))
    [grp] = runner.state.all("autoscaling_group").values()
    assert [t.name for t in grp.instance_types] == ["m5.xlarge", "c5.xlarge"]
    assert (grp.on_demand_base_capacity, grp.on_demand_percentage_above_base_capacity) == (1, 25)
    assert grp.mixed


def test_schedules_become_update_service_events() -> None:
    sc = parse(_doc(schedules=[{"cluster": "sim", "service": "web", "desiredCount": [
        {"at": 0, "count": 2}, ["30m", 5], {"at": "1h", "count": 5}]}]))  # fmt: skip
    assert [(e.at, e.kind, e.params["desired_count"]) for e in sc.events] == [
        (timedelta(0), "UpdateService", 2), (timedelta(minutes=30), "UpdateService", 5)]


def test_daily_cycle_peaks_at_its_hour() -> None:
    points = daily_cycle({"min": 10, "max": 100, "peakAt": "14h", "every": "1h"}, "x",
                         timedelta(hours=24))  # fmt: skip
    by_hour = {int(t.total_seconds() // 3600): n for t, n in points}
    assert by_hour[14] == 100 and by_hour[2] == 10
    assert max(by_hour, key=lambda h: by_hour[h]) == 14


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ScenarioError, match="unknown top-level keys: servces"):
        parse({**_doc(), "servces": []})
    with pytest.raises(ScenarioError, match=r"events\[0\]: unknown action 'reboot'"):
        parse(_doc(events=[{"at": 0, "reboot": {}}]))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_examples_load_and_run(path: Path) -> None:
    import dataclasses

    sc = dataclasses.replace(load(path), duration=timedelta(minutes=20))
    result = Runner(sc).run()
    assert len(result.timeline.rows) == 21
    assert result.timeline.actions, "nothing scaled in the first 20 minutes"
