"""Cloud Map namespaces and operations through boto3, over CBOR and JSON."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_server
from tests.contract.test_servicediscovery_wire import (
    JSON,
    Sandbox,
    error_code,
    sandbox,
    sd_client,
    wait_operation,
)
from tests.helpers import Server, unique

ACCOUNT = "000000000000"


def test_create_each_kind_and_get(sd: Any, box: Sandbox) -> None:
    http = box.namespace("http", Description="api only", CreatorRequestId=unique("req"))
    got = sd.get_namespace(Id=http)["Namespace"]
    assert got["Id"].startswith("ns-") and len(got["Id"]) == 19
    assert got["Arn"] == f"arn:aws:servicediscovery:us-east-1:{ACCOUNT}:namespace/{http}"
    assert got["Type"] == "HTTP"
    assert got["Description"] == "api only"
    assert got["ResourceOwner"] == ACCOUNT
    assert got["ServiceCount"] == 0
    assert got["CreatorRequestId"].startswith("req-")
    assert got["Properties"] == {"DnsProperties": {}, "HttpProperties": {"HttpName": got["Name"]}}

    private = box.namespace(
        "private", Properties={"DnsProperties": {"SOA": {"TTL": 60}}}
    )
    got = sd.get_namespace(Id=private)["Namespace"]
    assert got["Type"] == "DNS_PRIVATE"
    assert got["Name"].endswith(".internal")
    dns = got["Properties"]["DnsProperties"]
    assert dns["HostedZoneId"].startswith("Z") and dns["SOA"] == {"TTL": 60}
    assert got["Properties"]["HttpProperties"]["HttpName"] == got["Name"]

    public = box.namespace("public")
    got = sd.get_namespace(Id=public)["Namespace"]
    assert got["Type"] == "DNS_PUBLIC"
    assert got["Properties"]["DnsProperties"]["SOA"]["TTL"] > 0


def test_an_arn_works_as_an_id_and_regions_are_separate(server: Server, sd: Any, box: Sandbox) -> None:
    ns = box.namespace("http")
    arn = sd.get_namespace(Id=ns)["Namespace"]["Arn"]
    assert sd.get_namespace(Id=arn)["Namespace"]["Id"] == ns
    west = sd_client(server, sd.meta.service_model.protocol, region="eu-west-1")
    with pytest.raises(ClientError) as err:
        west.get_namespace(Id=ns)
    assert error_code(err) == "NamespaceNotFound"


def test_create_records_a_successful_operation(sd: Any) -> None:
    name = unique("ns")
    op_id = sd.create_http_namespace(Name=name)["OperationId"]
    op = wait_operation(sd, op_id)
    try:
        assert op["Id"] == op_id
        assert op["Type"] == "CREATE_NAMESPACE"
        assert op["Status"] == "SUCCESS"
        assert op["OwnerAccount"] == ACCOUNT
        assert op["UpdateDate"] >= op["CreateDate"]
        assert op["Targets"]["NAMESPACE"].startswith("ns-")
    finally:
        sd.delete_namespace(Id=op["Targets"]["NAMESPACE"])
    with pytest.raises(ClientError) as err:
        sd.get_operation(OperationId="nosuchoperationnosuchoperation00-00000000")
    assert error_code(err) == "OperationNotFound"


def test_a_retry_with_the_same_creator_request_id_is_the_same_operation(sd: Any) -> None:
    name, token = unique("ns"), unique("token")
    first = sd.create_http_namespace(Name=name, CreatorRequestId=token)["OperationId"]
    try:
        again = sd.create_http_namespace(Name=name, CreatorRequestId=token)["OperationId"]
        assert again == first
        with pytest.raises(ClientError) as err:
            sd.create_http_namespace(Name=unique("other"), CreatorRequestId=token)
        assert error_code(err) == "DuplicateRequest"
        listed = sd.list_namespaces(
            Filters=[{"Name": "NAME", "Values": [name], "Condition": "EQ"}]
        )["Namespaces"]
        assert len(listed) == 1
    finally:
        sd.delete_namespace(Id=wait_operation(sd, first)["Targets"]["NAMESPACE"])


def test_names_are_unique(sd: Any, box: Sandbox) -> None:
    ns = box.namespace("http")
    name = sd.get_namespace(Id=ns)["Namespace"]["Name"]
    with pytest.raises(ClientError) as err:
        sd.create_http_namespace(Name=name)
    assert error_code(err) == "NamespaceAlreadyExists"

    dns = box.namespace("private")
    zone = sd.get_namespace(Id=dns)["Namespace"]["Name"]
    with pytest.raises(ClientError) as err:
        sd.create_private_dns_namespace(Name=zone.upper(), Vpc="vpc-other")
    assert error_code(err) == "NamespaceAlreadyExists"


@pytest.mark.parametrize(
    ("op", "kwargs"),
    [
        ("create_http_namespace", {"Name": "arn:not-a-name"}),
        ("create_http_namespace", {"Name": "has space"}),
        ("create_public_dns_namespace", {"Name": "not_a_domain"}),
        ("create_private_dns_namespace", {"Name": "x" * 254, "Vpc": "vpc-1"}),
    ],
)
def test_invalid_names_are_invalid_input(sd: Any, op: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as err:
        getattr(sd, op)(**kwargs)
    assert error_code(err) == "InvalidInput"


def test_list_filters_and_pages(sd: Any, box: Sandbox) -> None:
    prefix = unique("lst")
    made = [box.namespace("http", name=f"{prefix}-{i}") for i in range(3)]
    private = box.namespace("private", name=f"{prefix}-p")

    def names(*filters: dict[str, Any]) -> set[str]:
        out: set[str] = set()
        pages = sd.get_paginator("list_namespaces").paginate(
            Filters=list(filters), PaginationConfig={"PageSize": 1}
        )
        for page in pages:
            assert len(page["Namespaces"]) <= 1
            out |= {n["Id"] for n in page["Namespaces"]}
        return out

    begins = {"Name": "NAME", "Values": [prefix], "Condition": "BEGINS_WITH"}
    assert names(begins) == {*made, private}
    assert names(begins, {"Name": "TYPE", "Values": ["DNS_PRIVATE"]}) == {private}
    assert names(begins, {"Name": "TYPE", "Values": ["HTTP", "DNS_PUBLIC"], "Condition": "IN"}) \
        == set(made)
    assert names({"Name": "HTTP_NAME", "Values": [f"{prefix}-1"], "Condition": "EQ"}) == {made[1]}
    assert names(begins, {"Name": "RESOURCE_OWNER", "Values": ["OTHER_ACCOUNTS"]}) == set()
    summary = sd.list_namespaces(Filters=[begins])["Namespaces"][0]
    assert "CreatorRequestId" not in summary and summary["ServiceCount"] == 0
    with pytest.raises(ClientError) as err:
        sd.list_namespaces(Filters=[{"Name": "NAME", "Values": ["a", "b"], "Condition": "IN"}])
    assert error_code(err) == "InvalidInput"


def test_update_each_kind(sd: Any, box: Sandbox) -> None:
    http = box.namespace("http")
    op = sd.update_http_namespace(Id=http, Namespace={"Description": "new words"})
    done = wait_operation(sd, op["OperationId"])
    assert (done["Type"], done["Status"]) == ("UPDATE_NAMESPACE", "SUCCESS")
    assert done["Targets"] == {"NAMESPACE": http}
    assert sd.get_namespace(Id=http)["Namespace"]["Description"] == "new words"

    private = box.namespace("private")
    sd.update_private_dns_namespace(
        Id=private,
        Namespace={"Description": "p", "Properties": {"DnsProperties": {"SOA": {"TTL": 120}}}},
    )
    got = sd.get_namespace(Id=private)["Namespace"]
    assert got["Description"] == "p"
    assert got["Properties"]["DnsProperties"]["SOA"] == {"TTL": 120}

    public = box.namespace("public")
    sd.update_public_dns_namespace(
        Id=public, Namespace={"Properties": {"DnsProperties": {"SOA": {"TTL": 5}}}}
    )
    assert sd.get_namespace(Id=public)["Namespace"]["Properties"]["DnsProperties"]["SOA"] \
        == {"TTL": 5}

    with pytest.raises(ClientError) as err:
        sd.update_http_namespace(Id=private, Namespace={"Description": "x"})
    assert error_code(err) == "InvalidInput"
    with pytest.raises(ClientError) as err:
        sd.update_public_dns_namespace(Id="ns-missingmissing00", Namespace={"Description": "x"})
    assert error_code(err) == "NamespaceNotFound"


def test_delete_waits_for_services_to_go(sd: Any) -> None:
    name = unique("del")
    ns = wait_operation(sd, sd.create_http_namespace(Name=name)["OperationId"])["Targets"]["NAMESPACE"]
    svc = sd.create_service(Name="s", NamespaceId=ns)["Service"]["Id"]
    assert sd.get_namespace(Id=ns)["Namespace"]["ServiceCount"] == 1
    with pytest.raises(ClientError) as err:
        sd.delete_namespace(Id=ns)
    assert error_code(err) == "ResourceInUse"
    sd.delete_service(Id=svc)
    done = wait_operation(sd, sd.delete_namespace(Id=ns)["OperationId"])
    assert (done["Type"], done["Status"], done["Targets"]) == (
        "DELETE_NAMESPACE", "SUCCESS", {"NAMESPACE": ns}
    )
    for call in (sd.get_namespace, sd.delete_namespace):
        with pytest.raises(ClientError) as err:
            call(Id=ns)
        assert error_code(err) == "NamespaceNotFound"


def test_list_operations_with_filters(sd: Any, box: Sandbox) -> None:
    started = time.time() - 1
    ns = box.namespace("http")
    svc = box.service(ns)["Id"]
    sd.register_instance(ServiceId=svc, InstanceId="i-1", Attributes={"k": "v"})
    sd.update_http_namespace(Id=ns, Namespace={"Description": "d"})

    def ids(*filters: dict[str, Any]) -> list[str]:
        out: list[str] = []
        for page in sd.get_paginator("list_operations").paginate(Filters=list(filters)):
            out += [o["Id"] for o in page["Operations"]]
        return out

    by_ns = ids({"Name": "NAMESPACE_ID", "Values": [ns]})
    assert len(by_ns) == 3
    types = {sd.get_operation(OperationId=o)["Operation"]["Type"] for o in by_ns}
    assert types == {"CREATE_NAMESPACE", "REGISTER_INSTANCE", "UPDATE_NAMESPACE"}
    (reg,) = ids({"Name": "SERVICE_ID", "Values": [svc]})
    assert sd.get_operation(OperationId=reg)["Operation"]["Targets"] == {
        "INSTANCE": "i-1", "SERVICE": svc
    }
    assert len(ids(
        {"Name": "NAMESPACE_ID", "Values": [ns]},
        {"Name": "TYPE", "Values": ["CREATE_NAMESPACE", "UPDATE_NAMESPACE"], "Condition": "IN"},
        {"Name": "STATUS", "Values": ["SUCCESS"]},
        {"Name": "UPDATE_DATE", "Values": [str(started), str(time.time() + 1)],
         "Condition": "BETWEEN"},
    )) == 2
    assert ids({"Name": "NAMESPACE_ID", "Values": [ns]}, {"Name": "STATUS", "Values": ["FAIL"]}) \
        == []
    for bad in (
        {"Name": "TYPE", "Values": ["A", "B"], "Condition": "BETWEEN"},
        {"Name": "UPDATE_DATE", "Values": ["yesterday", "today"], "Condition": "BETWEEN"},
        {"Name": "NAMESPACE_ID", "Values": [ns], "Condition": "BEGINS_WITH"},
    ):
        with pytest.raises(ClientError) as err:
            sd.list_operations(Filters=[bad])
        assert error_code(err) == "InvalidInput"


def test_namespace_tags(sd: Any, box: Sandbox) -> None:
    ns = box.namespace("http", Tags=[{"Key": "team", "Value": "a"}])
    arn = sd.get_namespace(Id=ns)["Namespace"]["Arn"]
    assert sd.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    sd.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "b"}, {"Key": "x", "Value": ""}])
    tags = sd.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert sorted(tags, key=lambda t: t["Key"]) == [
        {"Key": "team", "Value": "b"}, {"Key": "x", "Value": ""}
    ]
    sd.untag_resource(ResourceARN=arn, TagKeys=["team", "absent"])
    assert sd.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "x", "Value": ""}]

    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    with pytest.raises(ClientError) as err:
        sd.tag_resource(ResourceARN=arn, Tags=many)
    assert error_code(err) == "TooManyTagsException"
    with pytest.raises(ClientError) as err:
        sd.create_http_namespace(Name=unique("t"), Tags=[*many, {"Key": "one", "Value": "more"}])
    assert error_code(err) == "TooManyTagsException"
    with pytest.raises(ClientError) as err:
        sd.tag_resource(ResourceARN=arn, Tags=[{"Key": "aws:reserved", "Value": "v"}])
    assert error_code(err) == "InvalidInput"
    gone = arn.rsplit("/", 1)[0] + "/ns-gonegonegonegone"
    for call, kw in (
        (sd.list_tags_for_resource, {}),
        (sd.tag_resource, {"Tags": [{"Key": "a", "Value": "b"}]}),
        (sd.untag_resource, {"TagKeys": ["a"]}),
    ):
        with pytest.raises(ClientError) as err:
            call(ResourceARN=gone, **kw)
        assert error_code(err) == "ResourceNotFoundException"


def test_fifty_namespaces_per_region(server: Server, sd: Any) -> None:
    region = "ap-southeast-7"
    local = sd_client(server, sd.meta.service_model.protocol, region=region)
    with sandbox(local) as quota:
        assert local.list_namespaces()["Namespaces"] == []
        for _ in range(50):
            quota.namespace("http")
        with pytest.raises(ClientError) as err:
            local.create_http_namespace(Name=unique("one-too-many"))
        assert error_code(err) == "ResourceLimitExceeded"


@pytest.mark.slow
def test_operations_and_registrations_survive_kill_9(store_backend: str, tmp_path: Path) -> None:
    srv = make_server(store_backend, tmp_path).start()
    try:
        sd = sd_client(srv, JSON)
        box = Sandbox(sd)
        svc = box.dns_service(("A",), HealthCheckCustomConfig={})["Id"]
        reg = sd.register_instance(
            ServiceId=svc, InstanceId="task-1", Attributes={"AWS_INSTANCE_IPV4": "10.0.0.7"}
        )["OperationId"]
        sd.update_instance_custom_health_status(ServiceId=svc, InstanceId="task-1",
                                                Status="UNHEALTHY")
        ns = box.namespaces[0]
        name = sd.get_namespace(Id=ns)["Namespace"]["Name"]
        svc_name = sd.get_service(Id=svc)["Service"]["Name"]
        revision = sd.discover_instances_revision(NamespaceName=name, ServiceName=svc_name)
        srv.kill(signal.SIGKILL)

        srv.start()
        sd = sd_client(srv, JSON)
        assert sd.get_operation(OperationId=reg)["Operation"]["Status"] == "SUCCESS"
        assert sd.get_instance(ServiceId=svc, InstanceId="task-1")["Instance"]["Attributes"] == {
            "AWS_INSTANCE_IPV4": "10.0.0.7"
        }
        assert sd.get_instances_health_status(ServiceId=svc)["Status"] == {"task-1": "UNHEALTHY"}
        again = sd.discover_instances_revision(NamespaceName=name, ServiceName=svc_name)
        assert again["InstancesRevision"] == revision["InstancesRevision"]
    finally:
        srv.stop()
