"""DeleteAutoScalingGroup: refused while the group scales, forced with ForceDelete.

Auto Scaling refuses to delete a group with instances (ResourceInUse) and a group
still scaling towards a non-zero desired capacity (ScalingActivityInProgress);
ForceDelete terminates the instances and the group shows ``Delete in progress``
until the last one is gone. The groups use the ``command`` launcher; a launch
command that fails leaves a group at desired capacity 1 with no instance until
the runtime tries again a period (60 s) later, and a terminate command that
waits for a file holds the forced delete in progress for as long as a test needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import Server, unique, until


@pytest.fixture(scope="module")
def template(server: Server) -> str:
    name = unique("lt")
    server.client("ec2").create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"InstanceType": "t3.small"})
    return name


def create(asg: Any, template: str, desired: int, launch: str, terminate: str | None = None) -> str:
    name = unique("asg")
    tags = [{"Key": "portside:launcher", "Value": "command"},
            {"Key": "portside:launch-command", "Value": launch}]
    if terminate:
        tags.append({"Key": "portside:terminate-command", "Value": terminate})
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=2, DesiredCapacity=desired,
        AvailabilityZones=["us-east-1a"], LaunchTemplate={"LaunchTemplateName": template},
        Tags=tags)
    return name


def groups(asg: Any, name: str) -> list[dict[str, Any]]:
    return list(asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"])


def refused(asg: Any, name: str) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name)
    e = err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(e["Code"]), str(e["Message"])


def test_a_group_scaling_towards_its_capacity_is_not_deleted(
    server: Server, template: str, tmp_path: Path
) -> None:
    asg = server.client("autoscaling")
    tried = tmp_path / "tried"
    name = create(asg, template, 1, f'echo "$PORTSIDE_INSTANCE_ID" >> {tried}; exit 1')
    # The launch was tried and failed: the instance is gone, the desired capacity is still 1.
    until(lambda: tried.exists() and groups(asg, name)[0]["Instances"] == [])
    [g] = groups(asg, name)
    assert g["DesiredCapacity"] == 1

    code, message = refused(asg, name)
    assert code == "ScalingActivityInProgress"
    assert message == ("You cannot delete an AutoScalingGroup while there are scaling "
                       "activities in progress.")
    assert len(groups(asg, name)) == 1  # still there

    # ForceDelete goes ahead; with no instance left the group is gone at once.
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    assert groups(asg, name) == []


def test_force_delete_terminates_the_instances_first(
    server: Server, template: str, tmp_path: Path
) -> None:
    asg = server.client("autoscaling")
    release, stopped = tmp_path / "release", tmp_path / "stopped"
    name = create(asg, template, 1, "true",
                  terminate=(f"while [ ! -e {release} ]; do sleep 0.1; done; "
                             f'echo "$PORTSIDE_INSTANCE_ID" >> {stopped}'))
    try:
        [member] = until(lambda: groups(asg, name)[0]["Instances"])
        code, _ = refused(asg, name)
        assert code == "ResourceInUse"

        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        # The terminate command waits for ``release``: the delete is in progress meanwhile.
        [g] = groups(asg, name)
        assert g["Status"] == "Delete in progress"
        assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]) == (0, 0, 0)
        assert [(i["InstanceId"], i["LifecycleState"]) for i in g["Instances"]] == [
            (member["InstanceId"], "Terminating:Proceed")]
        with pytest.raises(ClientError) as err:
            asg.update_auto_scaling_group(AutoScalingGroupName=name, DesiredCapacity=1)
        assert err.value.response["Error"]["Code"] == "ScalingActivityInProgress"
    finally:
        release.touch()
    until(lambda: groups(asg, name) == [])
    assert stopped.read_text().split() == [member["InstanceId"]]
    ids = [member["InstanceId"]]
    assert asg.describe_auto_scaling_instances(InstanceIds=ids)["AutoScalingInstances"] == []
