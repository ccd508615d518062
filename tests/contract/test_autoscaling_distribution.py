"""DescribeAutoScalingGroups shows a MixedInstancesPolicy's InstancesDistribution in full.

Auto Scaling answers with every InstancesDistribution setting in force, the ones the
request left out at their documented defaults (the API reference, for groups without
InstanceRequirements): OnDemandAllocationStrategy ``prioritized``, OnDemandBaseCapacity
0, OnDemandPercentageAboveBaseCapacity 100, SpotAllocationStrategy ``lowest-price`` and
SpotInstancePools 2, a setting valid only with ``lowest-price``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Server, unique

ZONES = ["us-east-1a", "us-east-1b"]


@pytest.fixture(scope="module")
def template_id(server: Server) -> str:
    made = server.client("ec2").create_launch_template(
        LaunchTemplateName=unique("lt"), LaunchTemplateData={"InstanceType": "m5.large"})
    return str(made["LaunchTemplate"]["LaunchTemplateId"])


def distribution(server: Server, template_id: str, given: dict[str, Any] | None) -> Any:
    """Create a group with ``given`` as its InstancesDistribution (None: leave it out) and
    return the InstancesDistribution DescribeAutoScalingGroups answers with."""
    policy: dict[str, Any] = {"LaunchTemplate": {
        "LaunchTemplateSpecification": {"LaunchTemplateId": template_id},
        "Overrides": [{"InstanceType": "m5.large"}, {"InstanceType": "c5.large"}]}}
    if given is not None:
        policy["InstancesDistribution"] = given
    asg = server.client("autoscaling")
    name = unique("asg")
    asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=2,
                                  AvailabilityZones=ZONES, MixedInstancesPolicy=policy)
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    asg.delete_auto_scaling_group(AutoScalingGroupName=name)
    return group["MixedInstancesPolicy"]["InstancesDistribution"]


def test_left_out_the_distribution_is_all_defaults(server: Server, template_id: str) -> None:
    assert distribution(server, template_id, None) == {
        "OnDemandAllocationStrategy": "prioritized",
        "OnDemandBaseCapacity": 0,
        "OnDemandPercentageAboveBaseCapacity": 100,
        "SpotAllocationStrategy": "lowest-price",
        "SpotInstancePools": 2,
    }


def test_given_settings_win_over_the_defaults(server: Server, template_id: str) -> None:
    given = {"OnDemandBaseCapacity": 1, "OnDemandPercentageAboveBaseCapacity": 25,
             "SpotInstancePools": 4, "SpotMaxPrice": "0.05"}
    assert distribution(server, template_id, given) == {
        "OnDemandAllocationStrategy": "prioritized",
        "OnDemandBaseCapacity": 1,
        "OnDemandPercentageAboveBaseCapacity": 25,
        "SpotAllocationStrategy": "lowest-price",
        "SpotInstancePools": 4,
        "SpotMaxPrice": "0.05",
    }


def test_spot_pools_only_with_the_lowest_price_strategy(server: Server, template_id: str) -> None:
    got = distribution(server, template_id, {"SpotAllocationStrategy": "capacity-optimized"})
    assert got["SpotAllocationStrategy"] == "capacity-optimized"
    assert "SpotInstancePools" not in got
    assert got["OnDemandPercentageAboveBaseCapacity"] == 100


def test_a_plain_launch_template_group_has_no_policy(server: Server) -> None:
    ec2, asg = server.client("ec2"), server.client("autoscaling")
    template, name = unique("lt"), unique("asg")
    ec2.create_launch_template(LaunchTemplateName=template,
                               LaunchTemplateData={"InstanceType": "t3.small"})
    asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=1,
                                  AvailabilityZones=ZONES,
                                  LaunchTemplate={"LaunchTemplateName": template})
    [group] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    asg.delete_auto_scaling_group(AutoScalingGroupName=name)
    assert "MixedInstancesPolicy" not in group
