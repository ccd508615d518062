"""CreateAutoScalingGroup -> InstanceGroup: the one function the API and the simulator share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from portside.aws.errors import AwsError
from portside.domain.autoscaling.errors import AsgValidationError
from portside.domain.autoscaling.group_build import ResolvedTemplate, build_group
from portside.domain.autoscaling.instance_types import Catalogue
from portside.domain.scope import Scope

NOW = datetime(2026, 1, 5, tzinfo=UTC)
SCOPE = Scope("000000000000", "us-east-1")
TEMPLATES = {
    "m5": {"instance_type": "m5.large"},
    "spot": {"instance_type": "c5.large", "instance_market_options": {"market_type": "spot"}},
    "bare": {},
    "odd": {"instance_type": "x9.huge"},
}


def template_of(ref: Mapping[str, Any]) -> ResolvedTemplate:
    name = ref.get("launch_template_name") or ""
    if name not in TEMPLATES:
        raise AwsError(f"no template {name}")
    return ResolvedTemplate(f"lt-{name}", name, TEMPLATES[name])


def zone_of(subnet: str) -> str:
    return {"subnet-a": "us-east-1a", "subnet-b": "us-east-1b"}[subnet]


def build(launcher: str | None = None, **p: Any) -> Any:
    request = {"auto_scaling_group_name": "web", "min_size": 0, "max_size": 4,
               "availability_zones": ["us-east-1a"],
               "launch_template": {"launch_template_name": "m5"}, **p}  # fmt: skip
    return build_group(request, scope=SCOPE, now=NOW, template_of=template_of,
                       zone_of=zone_of, catalogue=Catalogue(), launcher=launcher)  # fmt: skip


def test_a_launch_template_group() -> None:
    g = build(desired_capacity=2, new_instances_protected_from_scale_in=True)
    assert g.auto_scaling_group_arn.startswith(
        "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:")
    assert g.auto_scaling_group_arn.endswith(":autoScalingGroupName/web")
    assert [t.name for t in g.instance_types] == ["m5.large"]
    assert g.instance_types[0].cpu == 2048 and g.instance_types[0].eni_slots == 2
    assert (g.min_size, g.max_size, g.desired_capacity) == (0, 4, 2)
    assert g.new_instances_protected_from_scale_in is True
    assert g.launcher == "local" and g.launch_command is None
    assert g.launch_template == {"launch_template_id": "lt-m5", "launch_template_name": "m5",
                                 "version": "$Default"}  # fmt: skip
    assert g.on_demand_percentage_above_base_capacity == 100


def test_the_arn_depends_on_the_name_only() -> None:
    assert build().auto_scaling_group_arn == build(max_size=9).auto_scaling_group_arn


def test_mixed_instances_policy_and_spot() -> None:
    g = build(launch_template=None, mixed_instances_policy={
        "launch_template": {
            "launch_template_specification": {"launch_template_name": "spot"},
            "overrides": [{"instance_type": "r5.large"}, {"instance_type": "m6g.large"}],
        },
        "instances_distribution": {"on_demand_base_capacity": 1},
    })  # fmt: skip
    assert [t.name for t in g.instance_types] == ["r5.large", "m6g.large"]
    assert g.instance_types[1].architecture == "arm64"
    assert g.on_demand_base_capacity == 1
    assert g.on_demand_percentage_above_base_capacity == 0  # the template asks for Spot
    assert g.launch_template is None and g.mixed


def test_subnets_add_their_zones() -> None:
    g = build(availability_zones=None, vpc_zone_identifier="subnet-a, subnet-b")
    assert g.availability_zones == ("us-east-1a", "us-east-1b")
    assert g.vpc_zone_identifier == "subnet-a,subnet-b"


def test_launcher_tags() -> None:
    tags = [{"key": "portside:launcher", "value": "command"},
            {"key": "portside:launch-command", "value": "start.sh"},
            {"key": "portside:terminate-command", "value": "stop.sh"}]  # fmt: skip
    g = build(tags=tags)
    assert (g.launcher, g.launch_command, g.terminate_command) == ("command", "start.sh", "stop.sh")
    assert build(launcher="simulated", tags=tags).launcher == "simulated"
    with pytest.raises(AsgValidationError, match="local or command"):
        build(tags=[{"key": "portside:launcher", "value": "ssh"}])
    with pytest.raises(AsgValidationError, match="portside:launch-command"):
        build(tags=[{"key": "portside:launcher", "value": "command"}])


@pytest.mark.parametrize(("change", "message"), [
    ({"min_size": 5}, "Max bound, 4, must be greater than or equal to min bound, 5"),
    ({"desired_capacity": 5}, "Desired capacity:5 must be between"),
    ({"availability_zones": []}, "At least one Availability Zone"),
    ({"launch_template": None}, "Valid requests must contain either LaunchTemplate"),
    ({"mixed_instances_policy": {"launch_template": {}}}, "Valid requests must contain"),
    ({"launch_template": {"launch_template_name": "bare"}}, "no instance type"),
    ({"launch_configuration_name": "old"}, "launch templates only"),
])  # fmt: skip
def test_invalid_requests(change: dict[str, Any], message: str) -> None:
    with pytest.raises(AsgValidationError, match=message):
        build(**change)


def test_unknown_instance_type() -> None:
    with pytest.raises(AsgValidationError, match=r"unknown instance type 'x9\.huge'"):
        build(launch_template={"launch_template_name": "odd"})
