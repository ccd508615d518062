"""Capacity provider operations through boto3 and the AWS CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import make_server
from tests.helpers import REGION, Server, unique
from tests.support.capacity import create_group

ACCOUNT = "000000000000"


def asg_arn(name: str) -> str:
    return (
        f"arn:aws:autoscaling:us-east-1:{ACCOUNT}:autoScalingGroup:"
        f"57ffcb94-11f0-4d6d-bf60-3bac5EXAMPLE:autoScalingGroupName/{name}"
    )


def create(ecs: Any, name: str | None = None, **group: Any) -> dict[str, Any]:
    name = name or unique("cp")
    provider = {"autoScalingGroupArn": asg_arn(unique("asg")), **group}
    made: dict[str, Any] = ecs.create_capacity_provider(
        name=name, autoScalingGroupProvider=provider
    )["capacityProvider"]
    return made


def unvalidated(server: Server) -> Any:
    """A client that sends out-of-range values instead of refusing them itself."""
    return boto3.client(
        "ecs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


def error_code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_create_applies_documented_defaults(ecs: Any) -> None:
    name = unique("cp")
    made = create(ecs, name, managedScaling={"status": "ENABLED"})
    assert (
        made["capacityProviderArn"] == f"arn:aws:ecs:us-east-1:{ACCOUNT}:capacity-provider/{name}"
    )
    assert made["name"] == name
    assert made["status"] == "ACTIVE"
    group = made["autoScalingGroupProvider"]
    assert group["managedScaling"] == {
        "status": "ENABLED",
        "targetCapacity": 100,
        "minimumScalingStepSize": 1,
        "maximumScalingStepSize": 10000,
        "instanceWarmupPeriod": 300,
    }
    assert group["managedTerminationProtection"] == "DISABLED"
    assert group["managedDraining"] == "ENABLED"
    assert made["tags"] == []

    plain = create(ecs)["autoScalingGroupProvider"]
    assert plain["managedScaling"]["status"] == "DISABLED"


def test_create_keeps_given_settings_and_tags(ecs: Any) -> None:
    name = unique("cp")
    ecs.create_capacity_provider(
        name=name,
        autoScalingGroupProvider={
            "autoScalingGroupArn": asg_arn(unique("asg")),
            "managedScaling": {
                "status": "ENABLED",
                "targetCapacity": 80,
                "minimumScalingStepSize": 2,
                "maximumScalingStepSize": 50,
                "instanceWarmupPeriod": 0,
            },
            "managedTerminationProtection": "ENABLED",
            "managedDraining": "DISABLED",
        },
        tags=[{"key": "team", "value": "a"}],
    )
    (got,) = ecs.describe_capacity_providers(capacityProviders=[name], include=["TAGS"])[
        "capacityProviders"
    ]
    assert got["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"] == 80
    assert got["autoScalingGroupProvider"]["managedScaling"]["instanceWarmupPeriod"] == 0
    assert got["autoScalingGroupProvider"]["managedTerminationProtection"] == "ENABLED"
    assert got["autoScalingGroupProvider"]["managedDraining"] == "DISABLED"
    assert got["tags"] == [{"key": "team", "value": "a"}]
    (untagged,) = ecs.describe_capacity_providers(capacityProviders=[name])["capacityProviders"]
    assert untagged["tags"] == []


@pytest.mark.parametrize("name", ["aws-x", "ECS_x", "Fargate2", "bad name", "x" * 256])
def test_reserved_or_malformed_names_are_invalid(server: Server, name: str) -> None:
    with pytest.raises(ClientError) as err:
        create(unvalidated(server), name)
    assert error_code(err) == "InvalidParameterException"


@pytest.mark.parametrize(
    "scaling",
    [
        {"targetCapacity": 0},
        {"targetCapacity": 101},
        {"minimumScalingStepSize": 0},
        {"maximumScalingStepSize": 10001},
        {"instanceWarmupPeriod": 10001},
        {"instanceWarmupPeriod": -1},
        {"minimumScalingStepSize": 5, "maximumScalingStepSize": 4},
    ],
)
def test_managed_scaling_bounds(server: Server, scaling: dict[str, int]) -> None:
    with pytest.raises(ClientError) as err:
        create(unvalidated(server), managedScaling={"status": "ENABLED", **scaling})
    assert error_code(err) == "InvalidParameterException"


def test_termination_protection_requires_managed_scaling(ecs: Any) -> None:
    with pytest.raises(ClientError) as err:
        create(ecs, managedTerminationProtection="ENABLED")
    assert error_code(err) == "ClientException"
    with pytest.raises(ClientError):
        create(
            ecs,
            managedScaling={"status": "DISABLED"},
            managedTerminationProtection="ENABLED",
        )


UNPROTECTED_GROUP = (
    "The managed termination protection setting for the capacity provider is invalid. To enable "
    "managed termination protection for a capacity provider, the Auto Scaling group must have "
    "instance protection from scale in enabled."
)
SCALING = {"status": "ENABLED", "targetCapacity": 100}


def _group(server: Server, *, protect: bool) -> str:
    """A group portside holds (no instances: MinSize 0); its ARN."""
    return create_group(server, unique("asg"), launcher="command", launch_command="true",
                        protect=protect)  # fmt: skip


def test_termination_protection_refuses_an_unprotected_group(server: Server, ecs: Any) -> None:
    arn = _group(server, protect=False)
    by_name = arn.rsplit("/", 1)[-1]
    for ref in (arn, by_name):
        with pytest.raises(ClientError) as err:
            ecs.create_capacity_provider(name=unique("cp"), autoScalingGroupProvider={
                "autoScalingGroupArn": ref, "managedScaling": SCALING,
                "managedTerminationProtection": "ENABLED"})  # fmt: skip
        assert error_code(err) == "ClientException"
        assert err.value.response["Error"]["Message"] == UNPROTECTED_GROUP
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    name = unique("cp")
    made = ecs.create_capacity_provider(name=name, autoScalingGroupProvider={
        "autoScalingGroupArn": arn, "managedScaling": SCALING})["capacityProvider"]  # fmt: skip
    assert made["autoScalingGroupProvider"]["managedTerminationProtection"] == "DISABLED"
    with pytest.raises(ClientError) as err:
        ecs.update_capacity_provider(
            name=name, autoScalingGroupProvider={"managedTerminationProtection": "ENABLED"})
    assert error_code(err) == "ClientException"
    assert err.value.response["Error"]["Message"] == UNPROTECTED_GROUP
    (kept,) = ecs.describe_capacity_providers(capacityProviders=[name])["capacityProviders"]
    assert kept["autoScalingGroupProvider"]["managedTerminationProtection"] == "DISABLED"
    assert "updateStatus" not in kept


def test_termination_protection_accepts_a_protected_group(server: Server, ecs: Any) -> None:
    protected = _group(server, protect=True)
    made = ecs.create_capacity_provider(name=unique("cp"), autoScalingGroupProvider={
        "autoScalingGroupArn": protected, "managedScaling": SCALING,
        "managedTerminationProtection": "ENABLED"})["capacityProvider"]  # fmt: skip
    assert made["autoScalingGroupProvider"]["managedTerminationProtection"] == "ENABLED"
    # A group made protected with UpdateAutoScalingGroup then takes the setting.
    arn = _group(server, protect=False)
    name = unique("cp")
    ecs.create_capacity_provider(name=name, autoScalingGroupProvider={
        "autoScalingGroupArn": arn, "managedScaling": SCALING})  # fmt: skip
    server.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=arn.rsplit("/", 1)[-1], NewInstancesProtectedFromScaleIn=True)
    out = ecs.update_capacity_provider(
        name=name, autoScalingGroupProvider={"managedTerminationProtection": "ENABLED"}
    )["capacityProvider"]
    assert out["autoScalingGroupProvider"]["managedTerminationProtection"] == "ENABLED"
    assert out["updateStatus"] == "UPDATE_COMPLETE"


def test_name_and_group_are_unique(ecs: Any) -> None:
    name, group = unique("cp"), asg_arn(unique("asg"))
    ecs.create_capacity_provider(name=name, autoScalingGroupProvider={"autoScalingGroupArn": group})
    with pytest.raises(ClientError) as err:
        create(ecs, name)
    assert error_code(err) == "ClientException"
    assert "already exists" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        ecs.create_capacity_provider(
            name=unique("cp"), autoScalingGroupProvider={"autoScalingGroupArn": group}
        )
    assert error_code(err) == "ClientException"
    # the group's bare name is the same group
    with pytest.raises(ClientError):
        ecs.create_capacity_provider(
            name=unique("cp"),
            autoScalingGroupProvider={"autoScalingGroupArn": group.rsplit("/", 1)[1]},
        )


def test_fargate_providers_always_exist(ecs: Any) -> None:
    got = ecs.describe_capacity_providers(capacityProviders=["FARGATE", "FARGATE_SPOT"])
    assert [p["name"] for p in got["capacityProviders"]] == ["FARGATE", "FARGATE_SPOT"]
    assert all(p["status"] == "ACTIVE" for p in got["capacityProviders"])
    assert got["capacityProviders"][0]["capacityProviderArn"].endswith(":capacity-provider/FARGATE")
    with pytest.raises(ClientError) as err:
        ecs.delete_capacity_provider(capacityProvider="FARGATE")
    assert error_code(err) == "InvalidParameterException"
    with pytest.raises(ClientError):
        ecs.update_capacity_provider(name="FARGATE_SPOT", autoScalingGroupProvider={})


def test_describe_missing_is_a_failure(ecs: Any) -> None:
    name = unique("cp")
    create(ecs, name)
    got = ecs.describe_capacity_providers(capacityProviders=[name, "nope-cp"])
    assert [p["name"] for p in got["capacityProviders"]] == [name]
    assert got["failures"] == [
        {
            "arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:capacity-provider/nope-cp",
            "reason": "MISSING",
        }
    ]


def test_describe_all_pages(ecs: Any) -> None:
    made = {create(ecs)["name"] for _ in range(3)}
    seen: list[str] = []
    token: str | None = None
    while True:
        kw: dict[str, Any] = {"maxResults": 2}
        if token:
            kw["nextToken"] = token
        page = ecs.describe_capacity_providers(**kw)
        assert len(page["capacityProviders"]) <= 2
        seen += [p["name"] for p in page["capacityProviders"]]
        token = page.get("nextToken")
        if not token:
            break
    assert made <= set(seen)
    assert seen[-2:] == ["FARGATE", "FARGATE_SPOT"]
    assert len(seen) == len(set(seen))
    with pytest.raises(ClientError) as err:
        ecs.describe_capacity_providers(maxResults=11)
    assert error_code(err) == "InvalidParameterException"


def test_describe_for_a_cluster(ecs: Any) -> None:
    mine, other = create(ecs)["name"], create(ecs)["name"]
    cluster = unique("c")
    ecs.create_cluster(clusterName=cluster, capacityProviders=[mine, "FARGATE"])
    got = ecs.describe_capacity_providers(cluster=cluster)["capacityProviders"]
    assert {p["name"] for p in got} == {mine, "FARGATE"}
    assert other not in {p["name"] for p in got}
    with pytest.raises(ClientError) as err:
        ecs.describe_capacity_providers(cluster="no-such-cluster")
    assert error_code(err) == "ClusterNotFoundException"


def test_update_merges_settings(ecs: Any) -> None:
    made = create(ecs, managedScaling={"status": "ENABLED", "targetCapacity": 90})
    out = ecs.update_capacity_provider(
        name=made["name"],
        autoScalingGroupProvider={
            "managedScaling": {"status": "ENABLED", "maximumScalingStepSize": 20},
            "managedTerminationProtection": "ENABLED",
        },
    )["capacityProvider"]
    scaling = out["autoScalingGroupProvider"]["managedScaling"]
    assert scaling["targetCapacity"] == 90
    assert scaling["maximumScalingStepSize"] == 20
    assert out["autoScalingGroupProvider"]["managedTerminationProtection"] == "ENABLED"
    assert out["updateStatus"] == "UPDATE_COMPLETE"
    with pytest.raises(ClientError) as err:
        ecs.update_capacity_provider(
            name=made["name"],
            autoScalingGroupProvider={"managedScaling": {"status": "DISABLED"}},
        )
    assert error_code(err) == "ClientException"
    with pytest.raises(ClientError) as err:
        ecs.update_capacity_provider(name="no-such-cp", autoScalingGroupProvider={})
    assert error_code(err) == "ClientException"
    assert "does not exist" in err.value.response["Error"]["Message"]


def test_delete_while_associated_fails_then_succeeds(ecs: Any) -> None:
    made = create(ecs)
    name, arn = made["name"], made["capacityProviderArn"]
    cluster = unique("c")
    ecs.create_cluster(clusterName=cluster, capacityProviders=[name])

    refused = ecs.delete_capacity_provider(capacityProvider=arn)["capacityProvider"]
    assert refused["status"] == "ACTIVE"
    assert refused["updateStatus"] == "DELETE_FAILED"
    assert cluster in refused["updateStatusReason"]

    ecs.put_cluster_capacity_providers(
        cluster=cluster, capacityProviders=[], defaultCapacityProviderStrategy=[]
    )
    gone = ecs.delete_capacity_provider(capacityProvider=name)["capacityProvider"]
    assert gone["status"] == "INACTIVE"
    assert gone["updateStatus"] == "DELETE_COMPLETE"
    (still,) = ecs.describe_capacity_providers(capacityProviders=[name])["capacityProviders"]
    assert still["status"] == "INACTIVE"
    assert still["updateStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError) as err:
        ecs.delete_capacity_provider(capacityProvider=name)
    assert error_code(err) == "ClientException"
    with pytest.raises(ClientError) as err:
        ecs.create_cluster(clusterName=unique("c"), capacityProviders=[name])
    assert error_code(err) == "InvalidParameterException"
    # the name and the Auto Scaling group are free again
    again = ecs.create_capacity_provider(
        name=name,
        autoScalingGroupProvider={
            "autoScalingGroupArn": made["autoScalingGroupProvider"]["autoScalingGroupArn"]
        },
    )["capacityProvider"]
    assert again["status"] == "ACTIVE"


def test_managed_instances_providers_are_unsupported(ecs: Any) -> None:
    with pytest.raises(ClientError) as err:
        ecs.create_capacity_provider(
            name=unique("cp"),
            cluster="default",
            managedInstancesProvider={
                "infrastructureRoleArn": f"arn:aws:iam::{ACCOUNT}:role/x",
                "instanceLaunchTemplate": {
                    "ec2InstanceProfileArn": f"arn:aws:iam::{ACCOUNT}:instance-profile/x",
                    "networkConfiguration": {"subnets": ["subnet-1"]},
                },
            },
        )
    assert error_code(err) == "UnsupportedFeatureException"


def test_survives_kill_and_restart(store_backend: str, tmp_path: Path) -> None:
    own = make_server(store_backend, tmp_path).start()
    try:
        made = create(own.client(), managedScaling={"status": "ENABLED", "targetCapacity": 75})
        own.kill()
        own.start()
        (got,) = own.client().describe_capacity_providers(capacityProviders=[made["name"]])[
            "capacityProviders"
        ]
        assert got["autoScalingGroupProvider"] == made["autoScalingGroupProvider"]
    finally:
        own.stop()


def test_cli_create_describe_delete(server: Server) -> None:
    name = unique("cp")
    group = (
        f"autoScalingGroupArn={asg_arn(unique('asg'))},"
        "managedScaling={status=ENABLED,targetCapacity=100},managedTerminationProtection=ENABLED"
    )
    made = json.loads(
        server.aws(
            "ecs",
            "create-capacity-provider",
            "--name",
            name,
            "--auto-scaling-group-provider",
            group,
        ).stdout
    )["capacityProvider"]
    assert made["autoScalingGroupProvider"]["managedScaling"]["instanceWarmupPeriod"] == 300
    listed = json.loads(
        server.aws(
            "ecs",
            "describe-capacity-providers",
            "--capacity-providers",
            name,
            "FARGATE",
            "--include",
            "TAGS",
        ).stdout
    )
    assert [p["name"] for p in listed["capacityProviders"]] == [name, "FARGATE"]
    gone = json.loads(
        server.aws("ecs", "delete-capacity-provider", "--capacity-provider", name).stdout
    )
    assert gone["capacityProvider"]["status"] == "INACTIVE"
