"""The query and ec2 codecs, checked against botocore's own serializers and parsers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from portside.aws.errors import AwsError, UnknownOperationException, ValidationError
from portside.aws.query import QueryProtocol, for_model, iso8601
from portside.aws.shapes import decode_input, encode_output

_session = botocore.session.get_session()
ASG = _session.get_service_model("autoscaling")
EC2 = _session.get_service_model("ec2")
T0 = datetime(2026, 11, 22, 3, 4, 5, 678000, tzinfo=UTC)


def codec(model: Any, op: str) -> QueryProtocol:
    base = for_model(model.metadata["protocol"], model.metadata["xmlNamespace"])
    return base.bind(model.operation_model(op))


def wire_body(model: Any, op: str, params: dict[str, Any]) -> bytes:
    """What boto3 sends: botocore's serializer, form-encoded."""
    serializer = create_serializer(model.metadata["protocol"], include_validation=False)
    request = serializer.serialize_to_request(params, model.operation_model(op))
    return urlencode(request["body"]).encode()


def roundtrip(model: Any, op: str, params: dict[str, Any]) -> dict[str, Any]:
    c = codec(model, op)
    body = wire_body(model, op, params)
    assert c.action(body) == op
    decoded: dict[str, Any] = decode_input(c.operation.input_shape, c.decode(body))  # type: ignore[union-attr]
    return decoded


def expected(model: Any, op: str, params: dict[str, Any]) -> Any:
    """What the JSON path makes of the same parameters."""
    return decode_input(model.operation_model(op).input_shape, params)


def parse(model: Any, op: str, encoded: Any) -> Any:
    parser = create_parser(model.metadata["protocol"])
    response = {"body": encoded.body, "headers": encoded.headers, "status_code": encoded.status}
    return parser.parse(response, model.operation_model(op).output_shape)


CREATE_GROUP: dict[str, Any] = {
    "AutoScalingGroupName": "web",
    "MinSize": 0,
    "MaxSize": 10,
    "DesiredCapacity": 2,
    "AvailabilityZones": ["us-east-1a", "us-east-1b"],
    "NewInstancesProtectedFromScaleIn": True,
    "MixedInstancesPolicy": {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateName": "lt-web", "Version": "$Latest"},
            "Overrides": [{"InstanceType": "m5.large"}, {"InstanceType": "c5.large",
                                                          "WeightedCapacity": "2"}],
        },
        "InstancesDistribution": {"OnDemandBaseCapacity": 1,
                                  "OnDemandPercentageAboveBaseCapacity": 50},
    },
    "Tags": [{"Key": "portside:launcher", "Value": "local", "PropagateAtLaunch": False}],
}  # fmt: skip


def test_query_request_decodes_like_json() -> None:
    got = roundtrip(ASG, "CreateAutoScalingGroup", CREATE_GROUP)
    assert got == expected(ASG, "CreateAutoScalingGroup", CREATE_GROUP)
    assert got["mixed_instances_policy"]["launch_template"]["overrides"][1] == {
        "instance_type": "c5.large", "weighted_capacity": "2"}  # fmt: skip
    assert got["new_instances_protected_from_scale_in"] is True
    assert got["tags"][0]["propagate_at_launch"] is False


def test_query_empty_list_and_booleans() -> None:
    params = {"AutoScalingGroupName": "web", "InstanceIds": [], "ProtectedFromScaleIn": False}
    got = roundtrip(ASG, "SetInstanceProtection", params)
    assert got == {"auto_scaling_group_name": "web", "instance_ids": [],
                   "protected_from_scale_in": False}  # fmt: skip


def test_ec2_request_uses_capitalised_location_names() -> None:
    params = {
        "LaunchTemplateName": "lt-web",
        "VersionDescription": "v1",
        "LaunchTemplateData": {
            "InstanceType": "m5.large",
            "ImageId": "ami-123",
            "InstanceMarketOptions": {"MarketType": "spot"},
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 30}}],
            "SecurityGroupIds": ["sg-1", "sg-2"],
        },
        "TagSpecifications": [
            {"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "a"}]}
        ],
    }
    body = wire_body(EC2, "CreateLaunchTemplate", params)
    assert b"TagSpecification.1.Tag.1.Key=team" in body
    assert b"SecurityGroupId.2=sg-2" in body
    got = roundtrip(EC2, "CreateLaunchTemplate", params)
    assert got == expected(EC2, "CreateLaunchTemplate", params)


def test_ec2_lists_of_strings() -> None:
    params = {"LaunchTemplateNames": ["web", "api"], "MaxResults": 5}
    assert roundtrip(EC2, "DescribeLaunchTemplates", params) == {
        "launch_template_names": ["web", "api"], "max_results": 5}  # fmt: skip


def test_missing_required_member_gives_the_json_message() -> None:
    c = codec(ASG, "CreateAutoScalingGroup")
    body = b"Action=CreateAutoScalingGroup&Version=2011-01-01&AutoScalingGroupName=x&MinSize=1"
    with pytest.raises(ValidationError) as err:
        decode_input(c.operation.input_shape, c.decode(body))  # type: ignore[union-attr]
    with pytest.raises(ValidationError) as json_err:
        decode_input(c.operation.input_shape, {"AutoScalingGroupName": "x", "MinSize": 1})  # type: ignore[union-attr]
    assert err.value.message == json_err.value.message == "Missing required parameter 'MaxSize'"


def test_range_and_type_errors() -> None:
    c = codec(ASG, "CreateAutoScalingGroup")
    base = "Action=CreateAutoScalingGroup&Version=2011-01-01&AutoScalingGroupName=x&MaxSize=1"
    with pytest.raises(ValidationError, match="expected a number"):
        c.decode((base + "&MinSize=one").encode())
    with pytest.raises(ValidationError, match="expected true or false"):
        c.decode((base + "&MinSize=1&NewInstancesProtectedFromScaleIn=yes").encode())
    long_name = "AutoScalingGroupName=" + "x" * 300
    raw = c.decode(f"Action=CreateAutoScalingGroup&MinSize=0&MaxSize=1&{long_name}".encode())
    with pytest.raises(ValidationError, match="at most 255"):
        decode_input(c.operation.input_shape, raw)  # type: ignore[union-attr]


def test_unknown_parameter_is_refused() -> None:
    c = codec(ASG, "DescribeAutoScalingGroups")
    with pytest.raises(ValidationError, match=r"Unknown parameter .Bogus\.member\.1."):
        c.decode(b"Action=DescribeAutoScalingGroups&Bogus.member.1=x")


def test_missing_action() -> None:
    with pytest.raises(AwsError) as err:
        codec(ASG, "DescribeAutoScalingGroups").action(b"Version=2011-01-01")
    assert err.value.code == "MissingAction"


GROUP_VIEW: dict[str, Any] = {
    "auto_scaling_groups": [{
        "auto_scaling_group_name": "web",
        "auto_scaling_group_arn": "arn:aws:autoscaling:us-east-1:0:autoScalingGroup:u:"
                                  "autoScalingGroupName/web",
        "launch_template": {"launch_template_id": "lt-1", "launch_template_name": "lt",
                            "version": "$Default"},
        "min_size": 0, "max_size": 3, "desired_capacity": 1, "default_cooldown": 300,
        "availability_zones": ["us-east-1a", "us-east-1b"],
        "health_check_type": "EC2", "created_time": T0,
        "instances": [{"instance_id": "i-1", "instance_type": "m5.large",
                       "availability_zone": "us-east-1a", "lifecycle_state": "InService",
                       "health_status": "Healthy", "protected_from_scale_in": True}],
        "tags": [{"resource_id": "web", "resource_type": "auto-scaling-group",
                  "key": "a&b", "value": "<x>", "propagate_at_launch": True}],
        "new_instances_protected_from_scale_in": False,
    }],
    "next_token": "tok",
}  # fmt: skip


def test_query_response_parses_with_botocore() -> None:
    c = codec(ASG, "DescribeAutoScalingGroups")
    wire = encode_output(c.operation.output_shape, GROUP_VIEW, c.timestamp)  # type: ignore[union-attr]
    parsed = parse(ASG, "DescribeAutoScalingGroups", c.encode(wire, "req-1"))
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    group = parsed["AutoScalingGroups"][0]
    assert group["CreatedTime"] == T0
    assert group["AvailabilityZones"] == ["us-east-1a", "us-east-1b"]
    assert group["Instances"][0]["ProtectedFromScaleIn"] is True
    assert group["Tags"][0]["Key"] == "a&b" and group["Tags"][0]["Value"] == "<x>"
    assert parsed["NextToken"] == "tok"
    wire["AutoScalingGroups"][0]["CreatedTime"] = T0
    assert {k: v for k, v in parsed.items() if k != "ResponseMetadata"} == wire


def test_query_response_without_output_shape() -> None:
    c = codec(ASG, "CreateAutoScalingGroup")
    parsed = parse(ASG, "CreateAutoScalingGroup", c.encode({}, "req-2"))
    assert list(parsed) == ["ResponseMetadata"]
    assert parsed["ResponseMetadata"]["RequestId"] == "req-2"


def test_ec2_response_parses_with_botocore() -> None:
    c = codec(EC2, "DescribeLaunchTemplates")
    view = {"launch_templates": [
        {"launch_template_id": "lt-0abc", "launch_template_name": "web", "create_time": T0,
         "created_by": "arn:aws:iam::0:root", "default_version_number": 1,
         "latest_version_number": 1, "tags": [{"key": "k", "value": "v"}]},
    ]}  # fmt: skip
    wire = encode_output(c.operation.output_shape, view, c.timestamp)  # type: ignore[union-attr]
    parsed = parse(EC2, "DescribeLaunchTemplates", c.encode(wire, "req-3"))
    assert parsed["ResponseMetadata"]["RequestId"] == "req-3"
    assert parsed["LaunchTemplates"][0]["Tags"] == [{"Key": "k", "Value": "v"}]
    assert parsed["LaunchTemplates"][0]["CreateTime"] == T0
    assert parsed["LaunchTemplates"][0]["LatestVersionNumber"] == 1


def test_query_error_envelope() -> None:
    c = codec(ASG, "DeleteAutoScalingGroup")
    err = AwsError("in use", code="ResourceInUse")
    parsed = parse(ASG, "DeleteAutoScalingGroup", c.encode_error(err, "", "req-4"))
    assert parsed["Error"] == {"Type": "Sender", "Code": "ResourceInUse", "Message": "in use"}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-4"
    unknown = c.encode_error(UnknownOperationException("no <such> op"), "", "r")
    assert parse(ASG, "DeleteAutoScalingGroup", unknown)["Error"]["Code"] == "InvalidAction"


def test_ec2_error_envelope() -> None:
    c = codec(EC2, "DeleteLaunchTemplate")
    err = AwsError("nope", code="InvalidLaunchTemplateName.NotFoundException")
    encoded = c.encode_error(err, "", "req-5")
    assert encoded.status == 400
    parsed = parse(EC2, "DeleteLaunchTemplate", encoded)
    assert parsed["Error"]["Code"] == "InvalidLaunchTemplateName.NotFoundException"
    assert parsed["Error"]["Message"] == "nope"
    assert parsed["ResponseMetadata"]["RequestId"] == "req-5"


def test_iso8601() -> None:
    assert iso8601(T0) == "2026-11-22T03:04:05.678Z"


# -- shapes neither Auto Scaling nor EC2 use: maps, flattened and renamed lists, blobs ---------

_MEMBERS = {
    "Attrs": {"shape": "AttrMap"}, "Flat": {"shape": "FlatList"},
    "Named": {"shape": "NamedList"}, "When": {"shape": "Ts"}, "Data": {"shape": "B"},
    "Ratio": {"shape": "D"}, "Count": {"shape": "I"},
}  # fmt: skip
SYNTH = ServiceModel({
    "metadata": {"protocol": "query", "apiVersion": "2020-01-01", "xmlNamespace": "urn:synth",
                 "endpointPrefix": "synth", "signatureVersion": "v4", "serviceId": "Synth"},
    "operations": {"Op": {
        "name": "Op", "http": {"method": "POST", "requestUri": "/"},
        "input": {"shape": "OpInput"},
        "output": {"shape": "OpOutput", "resultWrapper": "OpResult"},
    }},
    "shapes": {
        "OpInput": {"type": "structure", "members": _MEMBERS},
        "OpOutput": {"type": "structure", "members": _MEMBERS},
        "AttrMap": {"type": "map", "key": {"shape": "S"}, "value": {"shape": "I"}},
        "FlatList": {"type": "list", "member": {"shape": "S"}, "flattened": True},
        "NamedList": {"type": "list", "member": {"shape": "S", "locationName": "item"}},
        "S": {"type": "string"}, "I": {"type": "integer"}, "D": {"type": "double"},
        "Ts": {"type": "timestamp"}, "B": {"type": "blob"},
    },
})  # fmt: skip
SYNTH_PARAMS: dict[str, Any] = {
    "Attrs": {"a": 1, "b&c": 2}, "Flat": ["x", "y"], "Named": ["p", "q", "r"],
    "When": T0, "Data": b"\x00\x01bytes", "Ratio": 0.25, "Count": -3,
}  # fmt: skip


def test_maps_flattened_lists_blobs_round_trip_in_requests() -> None:
    got = roundtrip(SYNTH, "Op", SYNTH_PARAMS)
    assert got == {
        "attrs": {"a": 1, "b&c": 2}, "flat": ["x", "y"], "named": ["p", "q", "r"],
        "when": T0, "data": b"\x00\x01bytes", "ratio": 0.25, "count": -3,
    }  # fmt: skip


def test_maps_flattened_lists_blobs_round_trip_in_responses() -> None:
    c = codec(SYNTH, "Op")
    view = {"attrs": {"a": 1, "b&c": 2}, "flat": ["x", "y"], "named": ["p", "q", "r"],
            "when": T0, "data": b"\x00\x01bytes", "ratio": 0.25, "count": -3}  # fmt: skip
    wire = encode_output(c.operation.output_shape, view, c.timestamp)  # type: ignore[union-attr]
    parsed = parse(SYNTH, "Op", c.encode(wire, "req-6"))
    parsed.pop("ResponseMetadata")
    assert parsed == SYNTH_PARAMS
