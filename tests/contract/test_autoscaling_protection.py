"""NewInstancesProtectedFromScaleIn: the group's new instances start protected from scale-in.

The groups use the ``command`` launcher with ``true`` as their launch command: the
capacity runtime writes each instance (Pending) and runs the command, nothing
registers, and the instances stay Pending, which is all these tests need.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Server, unique, until

NOOP_LAUNCHER = [
    {"Key": "portside:launcher", "Value": "command"},
    {"Key": "portside:launch-command", "Value": "true"},
]


@pytest.fixture(scope="module")
def template(server: Server) -> str:
    name = unique("lt")
    server.client("ec2").create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"InstanceType": "t3.small"})
    return name


def protection(asg: Any, name: str, count: int) -> dict[str, bool]:
    """Instance id -> ProtectedFromScaleIn, as DescribeAutoScalingInstances answers, once
    the group has ``count`` instances."""
    def members() -> list[str] | None:
        [g] = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        ids = [i["InstanceId"] for i in g["Instances"]]
        return ids if len(ids) == count else None

    ids = until(members)
    details = asg.describe_auto_scaling_instances(InstanceIds=ids)["AutoScalingInstances"]
    assert sorted(d["InstanceId"] for d in details) == sorted(ids)
    return {d["InstanceId"]: d["ProtectedFromScaleIn"] for d in details}


def group(asg: Any, template: str, *, protect: bool, desired: int) -> str:
    name = unique("asg")
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=4, DesiredCapacity=desired,
        AvailabilityZones=["us-east-1a", "us-east-1b"], Tags=NOOP_LAUNCHER,
        LaunchTemplate={"LaunchTemplateName": template}, NewInstancesProtectedFromScaleIn=protect)
    return name


def test_new_instances_of_a_protected_group_are_protected(server: Server, template: str) -> None:
    asg = server.client("autoscaling")
    protected = group(asg, template, protect=True, desired=2)
    plain = group(asg, template, protect=False, desired=2)
    try:
        assert list(protection(asg, protected, 2).values()) == [True, True]
        assert list(protection(asg, plain, 2).values()) == [False, False]
        # DescribeAutoScalingGroups shows the same per instance
        [g] = asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=[protected])["AutoScalingGroups"]
        assert [i["ProtectedFromScaleIn"] for i in g["Instances"]] == [True, True]
    finally:
        for name in (protected, plain):
            asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_the_setting_applies_to_instances_launched_after_it(server: Server, template: str) -> None:
    # Auto Scaling applies NewInstancesProtectedFromScaleIn at launch: turning it on later
    # protects the next instances and leaves the running ones as they are.
    asg = server.client("autoscaling")
    name = group(asg, template, protect=False, desired=1)
    try:
        [(first, before)] = protection(asg, name, 1).items()
        assert before is False
        asg.update_auto_scaling_group(AutoScalingGroupName=name, DesiredCapacity=2,
                                      NewInstancesProtectedFromScaleIn=True)
        after = protection(asg, name, 2)
        assert after.pop(first) is False
        assert list(after.values()) == [True]
    finally:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
