"""EC2 launch templates over the ec2 query protocol, through boto3."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers import REGION, Server, unique


@pytest.fixture(scope="module")
def ec2(server: Server) -> Any:
    return server.client("ec2")


def unvalidated(server: Server) -> Any:
    """A client that sends what botocore would refuse, so the server's checks answer."""
    return boto3.client(
        "ec2", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )  # fmt: skip


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def make(ec2: Any, name: str | None = None, instance_type: str = "m5.large", **kw: Any) -> Any:
    return ec2.create_launch_template(
        LaunchTemplateName=name or unique("lt"),
        LaunchTemplateData={"InstanceType": instance_type},
        **kw,
    )["LaunchTemplate"]


def test_create_and_describe(ec2: Any) -> None:
    name = unique("lt")
    made = make(ec2, name, TagSpecifications=[
        {"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "web"}]}
    ])  # fmt: skip
    assert made["LaunchTemplateName"] == name
    assert made["LaunchTemplateId"].startswith("lt-") and len(made["LaunchTemplateId"]) == 20
    assert made["DefaultVersionNumber"] == made["LatestVersionNumber"] == 1
    assert made["CreatedBy"] == "arn:aws:iam::000000000000:root"
    assert made["Tags"] == [{"Key": "team", "Value": "web"}]
    by_name = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"]
    by_id = ec2.describe_launch_templates(LaunchTemplateIds=[made["LaunchTemplateId"]])
    assert by_name == by_id["LaunchTemplates"] == [made]
    listed = ec2.describe_launch_templates()["LaunchTemplates"]
    assert made["LaunchTemplateId"] in {t["LaunchTemplateId"] for t in listed}
    tagged = ec2.describe_launch_templates(Filters=[{"Name": "tag:team", "Values": ["web"]}])
    assert made in tagged["LaunchTemplates"]
    other = ec2.describe_launch_templates(Filters=[{"Name": "tag:team", "Values": ["db"]}])
    assert made not in other["LaunchTemplates"]


def test_duplicate_name_is_refused(ec2: Any) -> None:
    name = unique("lt")
    make(ec2, name)
    with pytest.raises(ClientError) as err:
        make(ec2, name)
    assert code(err) == "InvalidLaunchTemplateName.AlreadyExistsException"


def test_client_token_makes_create_idempotent(ec2: Any) -> None:
    name, token = unique("lt"), unique("token")
    first = make(ec2, name, ClientToken=token)
    assert make(ec2, name, ClientToken=token) == first


def test_not_found_and_malformed(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.describe_launch_templates(LaunchTemplateNames=[unique("missing")])
    assert code(err) == "InvalidLaunchTemplateName.NotFoundException"
    with pytest.raises(ClientError) as err:
        ec2.describe_launch_templates(LaunchTemplateIds=["lt-0123456789abcdef0"])
    assert code(err) == "InvalidLaunchTemplateId.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.delete_launch_template(LaunchTemplateId="template-1")
    assert code(err) == "InvalidLaunchTemplateId.Malformed"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_delete_by_name_and_by_id(ec2: Any) -> None:
    a, b = make(ec2), make(ec2)
    gone = ec2.delete_launch_template(LaunchTemplateName=a["LaunchTemplateName"])
    assert gone["LaunchTemplate"]["LaunchTemplateId"] == a["LaunchTemplateId"]
    ec2.delete_launch_template(LaunchTemplateId=b["LaunchTemplateId"])
    for t in (a, b):
        with pytest.raises(ClientError):
            ec2.describe_launch_templates(LaunchTemplateIds=[t["LaunchTemplateId"]])


def test_delete_needs_a_name_or_id(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.delete_launch_template()
    assert code(err) == "MissingParameter"


def test_dry_run(ec2: Any) -> None:
    name = unique("lt")
    with pytest.raises(ClientError) as err:
        make(ec2, name, DryRun=True)
    assert code(err) == "DryRunOperation"
    with pytest.raises(ClientError):
        ec2.describe_launch_templates(LaunchTemplateNames=[name])


def test_model_validation_errors(server: Server) -> None:
    raw = unvalidated(server)
    with pytest.raises(ClientError) as err:
        raw.create_launch_template(LaunchTemplateName="x", LaunchTemplateData={"InstanceType": "m5.large"})
    assert code(err) == "InvalidLaunchTemplateName.MalformedException"
    with pytest.raises(ClientError) as err:
        raw.create_launch_template(LaunchTemplateName=unique("lt"))
    assert code(err) == "InvalidParameterValue"
    assert "LaunchTemplateData" in err.value.response["Error"]["Message"]


def test_an_operation_portside_does_not_serve(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.describe_instances()
    assert code(err) == "InvalidAction"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
