"""EC2 Auto Scaling groups over the query protocol, through boto3 and the AWS CLI.

Groups that need instances use the ``command`` launcher with ``true`` as their
launch command: the capacity runtime writes each instance (Pending) and runs
the command, and nothing registers, so the instances stay Pending until a test
terminates them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers import REGION, Server, unique, until

ZONES = ["us-east-1a", "us-east-1b"]
NOOP_LAUNCHER = [
    {"Key": "portside:launcher", "Value": "command"},
    {"Key": "portside:launch-command", "Value": "true"},
]


@pytest.fixture(scope="module")
def asg(server: Server) -> Any:
    return server.client("autoscaling")


@pytest.fixture(scope="module")
def template(server: Server) -> dict[str, Any]:
    made: dict[str, Any] = server.client("ec2").create_launch_template(
        LaunchTemplateName=unique("lt"), LaunchTemplateData={"InstanceType": "m5.large"}
    )["LaunchTemplate"]
    return made


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def message(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Message"])


def describe(asg: Any, name: str) -> dict[str, Any]:
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    assert len(groups) == 1
    return groups[0]  # type: ignore[no-any-return]


def create(asg: Any, template: dict[str, Any], name: str | None = None, **kw: Any) -> str:
    name = name or unique("asg")
    params: dict[str, Any] = {
        "AutoScalingGroupName": name, "MinSize": 0, "MaxSize": 4, "AvailabilityZones": ZONES,
        "LaunchTemplate": {"LaunchTemplateName": template["LaunchTemplateName"]},
    }  # fmt: skip
    params.update(kw)
    asg.create_auto_scaling_group(**params)
    return name


def refused(call: Callable[[], Any], expected: str) -> str:
    with pytest.raises(ClientError) as err:
        call()
    assert code(err) == expected, message(err)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return message(err)


def test_create_and_describe(asg: Any, template: dict[str, Any]) -> None:
    name = create(asg, template, DesiredCapacity=0, NewInstancesProtectedFromScaleIn=True,
                  Tags=[{"Key": "team", "Value": "web", "PropagateAtLaunch": True}])  # fmt: skip
    g = describe(asg, name)
    assert g["AutoScalingGroupARN"].startswith(
        "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:")
    assert g["AutoScalingGroupARN"].endswith(f":autoScalingGroupName/{name}")
    assert g["LaunchTemplate"] == {
        "LaunchTemplateId": template["LaunchTemplateId"],
        "LaunchTemplateName": template["LaunchTemplateName"], "Version": "$Default"}  # fmt: skip
    assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]) == (0, 4, 0)
    assert g["AvailabilityZones"] == ZONES
    assert g["NewInstancesProtectedFromScaleIn"] is True
    assert g["HealthCheckType"] == "EC2" and g["DefaultCooldown"] == 300
    assert g["Instances"] == [] and "Status" not in g
    assert g["Tags"] == [{"ResourceId": name, "ResourceType": "auto-scaling-group",
                          "Key": "team", "Value": "web", "PropagateAtLaunch": True}]  # fmt: skip
    assert g["CreatedTime"].tzinfo is not None


def test_mixed_instances_policy(asg: Any, template: dict[str, Any]) -> None:
    policy = {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": template["LaunchTemplateId"]},
            "Overrides": [{"InstanceType": "c5.large"}, {"InstanceType": "m5.xlarge"}],
        },
        "InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 50},
    }
    name = unique("asg")
    asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=2,
                                  AvailabilityZones=ZONES, MixedInstancesPolicy=policy)  # fmt: skip
    g = describe(asg, name)
    assert "LaunchTemplate" not in g
    overrides = g["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"]
    assert [o["InstanceType"] for o in overrides] == ["c5.large", "m5.xlarge"]
    # the given member, and Auto Scaling's defaults for the rest (test_autoscaling_distribution)
    assert g["MixedInstancesPolicy"]["InstancesDistribution"] == {
        "OnDemandAllocationStrategy": "prioritized", "OnDemandBaseCapacity": 0,
        "OnDemandPercentageAboveBaseCapacity": 50, "SpotAllocationStrategy": "lowest-price",
        "SpotInstancePools": 2}  # fmt: skip


def test_create_errors(asg: Any, template: dict[str, Any]) -> None:
    name = create(asg, template)
    assert "already exists" in refused(lambda: create(asg, template, name), "AlreadyExists")
    refused(lambda: create(asg, template, MinSize=3, MaxSize=2), "ValidationError")
    msg = refused(lambda: create(asg, template, DesiredCapacity=9), "ValidationError")
    assert msg == "Desired capacity:9 must be between the specified min size:0 and max size:4"
    refused(lambda: create(asg, template, AvailabilityZones=[]), "ValidationError")
    msg = refused(lambda: create(asg, template, LaunchTemplate={"LaunchTemplateName": "nope"}),
                  "ValidationError")  # fmt: skip
    assert "does not exist" in msg
    refused(lambda: asg.create_auto_scaling_group(
        AutoScalingGroupName=unique("asg"), MinSize=0, MaxSize=1, AvailabilityZones=ZONES,
    ), "ValidationError")  # fmt: skip
    refused(lambda: create(asg, template, VPCZoneIdentifier="subnet-1"), "ValidationError")


def test_instance_type_must_be_in_the_catalogue(server: Server, asg: Any) -> None:
    odd = server.client("ec2").create_launch_template(
        LaunchTemplateName=unique("lt"), LaunchTemplateData={"InstanceType": "g4dn.xlarge"}
    )["LaunchTemplate"]
    assert "unknown instance type 'g4dn.xlarge'" in refused(
        lambda: create(asg, odd), "ValidationError")  # fmt: skip


def test_launcher_tags_are_checked(asg: Any, template: dict[str, Any]) -> None:
    msg = refused(lambda: create(asg, template, Tags=[
        {"Key": "portside:launcher", "Value": "teleport"}]), "ValidationError")  # fmt: skip
    assert "local or command" in msg
    msg = refused(lambda: create(asg, template, Tags=[
        {"Key": "portside:launcher", "Value": "command"}]), "ValidationError")  # fmt: skip
    assert "portside:launch-command" in msg


def test_model_validation(server: Server) -> None:
    raw = boto3.client(
        "autoscaling", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )  # fmt: skip
    msg = refused(lambda: raw.create_auto_scaling_group(AutoScalingGroupName="x", MinSize=0),
                  "ValidationError")  # fmt: skip
    assert msg == "Missing required parameter 'MaxSize'"


def test_describe_filters_and_pages(asg: Any, template: dict[str, Any]) -> None:
    tag = unique("batch")
    names = [create(asg, template, Tags=[{"Key": "batch", "Value": tag}]) for _ in range(3)]
    got = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[*names, unique("missing")])
    assert [g["AutoScalingGroupName"] for g in got["AutoScalingGroups"]] == names
    seen: list[str] = []
    token: str | None = None
    while True:
        kw = {"NextToken": token} if token else {}
        page = asg.describe_auto_scaling_groups(
            MaxRecords=1, Filters=[{"Name": "tag:batch", "Values": [tag]}], **kw)
        seen += [g["AutoScalingGroupName"] for g in page["AutoScalingGroups"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names
    refused(lambda: asg.describe_auto_scaling_groups(NextToken="garbage"), "InvalidNextToken")


def test_update(asg: Any, template: dict[str, Any]) -> None:
    name = create(asg, template, MinSize=0, MaxSize=4, DesiredCapacity=0, Tags=NOOP_LAUNCHER)
    asg.update_auto_scaling_group(AutoScalingGroupName=name, MaxSize=6,
                                  AvailabilityZones=["us-east-1c"],
                                  NewInstancesProtectedFromScaleIn=True)  # fmt: skip
    g = describe(asg, name)
    assert (g["MaxSize"], g["AvailabilityZones"]) == (6, ["us-east-1c"])
    assert g["NewInstancesProtectedFromScaleIn"] is True
    # without DesiredCapacity, new bounds move the desired capacity into them
    asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=1)
    assert describe(asg, name)["DesiredCapacity"] == 1
    asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=0)
    assert describe(asg, name)["DesiredCapacity"] == 0
    refused(lambda: asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=2),
            "ValidationError")  # fmt: skip
    refused(lambda: asg.update_auto_scaling_group(AutoScalingGroupName=name, DesiredCapacity=1),
            "ValidationError")  # fmt: skip
    msg = refused(lambda: asg.update_auto_scaling_group(AutoScalingGroupName=unique("no")),
                  "ValidationError")  # fmt: skip
    assert "not found" in msg
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_delete_empty_group(asg: Any, template: dict[str, Any]) -> None:
    name = create(asg, template)
    asg.delete_auto_scaling_group(AutoScalingGroupName=name)
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"] == []  # fmt: skip
    refused(lambda: asg.delete_auto_scaling_group(AutoScalingGroupName=name), "ValidationError")


def _instances(asg: Any, name: str) -> list[dict[str, Any]]:
    return describe(asg, name)["Instances"]  # type: ignore[no-any-return]


def test_instances_protection_termination_and_force_delete(
    asg: Any, template: dict[str, Any]
) -> None:
    name = create(asg, template, MinSize=1, MaxSize=3, DesiredCapacity=2, Tags=NOOP_LAUNCHER)
    members = until(lambda: len(_instances(asg, name)) == 2 and _instances(asg, name))
    ids = sorted(i["InstanceId"] for i in members)
    assert {i["AvailabilityZone"] for i in members} == set(ZONES)  # balanced over the zones
    assert all(i["InstanceType"] == "m5.large" and i["HealthStatus"] == "Healthy"
               for i in members)  # fmt: skip

    details = asg.describe_auto_scaling_instances(InstanceIds=ids)["AutoScalingInstances"]
    assert sorted(d["InstanceId"] for d in details) == ids
    assert all(d["AutoScalingGroupName"] == name for d in details)
    assert all(d["LaunchTemplate"]["LaunchTemplateName"] == template["LaunchTemplateName"]
               for d in details)  # fmt: skip

    asg.set_instance_protection(AutoScalingGroupName=name, InstanceIds=[ids[0]],
                                ProtectedFromScaleIn=True)  # fmt: skip
    by_id = {d["InstanceId"]: d for d in asg.describe_auto_scaling_instances(
        InstanceIds=ids)["AutoScalingInstances"]}  # fmt: skip
    assert by_id[ids[0]]["ProtectedFromScaleIn"] is True
    assert by_id[ids[1]]["ProtectedFromScaleIn"] is False
    msg = refused(lambda: asg.set_instance_protection(
        AutoScalingGroupName=name, InstanceIds=["i-0000000000000000f"], ProtectedFromScaleIn=True,
    ), "ValidationError")  # fmt: skip
    assert "is not part of Auto Scaling group" in msg

    assert "still in the group" in refused(
        lambda: asg.delete_auto_scaling_group(AutoScalingGroupName=name), "ResourceInUse")

    activity = asg.terminate_instance_in_auto_scaling_group(
        InstanceId=ids[1], ShouldDecrementDesiredCapacity=True)["Activity"]
    assert activity["AutoScalingGroupName"] == name
    assert activity["StatusCode"] == "InProgress"
    assert ids[1] in activity["Description"] and "shrinking the capacity" in activity["Cause"]
    assert describe(asg, name)["DesiredCapacity"] == 1
    # the launcher lets it go: it leaves the group's instances
    until(lambda: ids[1] not in {i["InstanceId"] for i in _instances(asg, name)})
    msg = refused(lambda: asg.terminate_instance_in_auto_scaling_group(
        InstanceId=ids[0], ShouldDecrementDesiredCapacity=True), "ValidationError")  # fmt: skip
    assert "min size" in msg
    refused(lambda: asg.terminate_instance_in_auto_scaling_group(
        InstanceId="i-0000000000000000f", ShouldDecrementDesiredCapacity=False),
        "ValidationError")  # fmt: skip

    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    until(lambda: not asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"])  # fmt: skip
    assert asg.describe_auto_scaling_instances(InstanceIds=ids)["AutoScalingInstances"] == []


def test_capacity_provider_takes_the_group_arn(
    server: Server, asg: Any, template: dict[str, Any]
) -> None:
    name = create(asg, template)
    arn = describe(asg, name)["AutoScalingGroupARN"]
    provider = server.client("ecs").create_capacity_provider(
        name=unique("cp"), autoScalingGroupProvider={"autoScalingGroupArn": arn}
    )["capacityProvider"]
    assert provider["autoScalingGroupProvider"]["autoScalingGroupArn"] == arn


def test_aws_cli(server: Server, asg: Any, template: dict[str, Any]) -> None:
    name = create(asg, template)
    out = server.aws("autoscaling", "describe-auto-scaling-groups",
                     "--auto-scaling-group-names", name)  # fmt: skip
    groups = json.loads(out.stdout)["AutoScalingGroups"]
    assert [g["AutoScalingGroupName"] for g in groups] == [name]
    assert groups[0]["LaunchTemplate"]["LaunchTemplateName"] == template["LaunchTemplateName"]
    failed = server.aws("autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name",
                        unique("missing"), check=False)  # fmt: skip
    assert failed.returncode != 0 and "ValidationError" in failed.stderr


def test_an_operation_portside_does_not_serve(asg: Any) -> None:
    refused(lambda: asg.describe_launch_configurations(), "InvalidAction")
