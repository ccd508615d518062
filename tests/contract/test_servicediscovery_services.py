"""Cloud Map services, service attributes and service tags, over CBOR and JSON."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.test_servicediscovery_wire import (
    Sandbox,
    error_code,
    wait_operation,
)
from tests.helpers import unique

ACCOUNT = "000000000000"


def _records(*types: str, ttl: int = 30) -> dict[str, Any]:
    return {"DnsRecords": [{"Type": t, "TTL": ttl} for t in types]}


def test_create_and_get_a_dns_service(sd: Any, box: Sandbox) -> None:
    ns = box.namespace("private")
    token = unique("req")
    made = box.service(
        ns, name="web", Description="front", CreatorRequestId=token,
        DnsConfig={**_records("A", "SRV"), "RoutingPolicy": "MULTIVALUE"},
        HealthCheckCustomConfig={"FailureThreshold": 3},
    )
    assert made["Id"].startswith("srv-") and len(made["Id"]) == 20
    assert made["Arn"] == f"arn:aws:servicediscovery:us-east-1:{ACCOUNT}:service/{made['Id']}"
    assert made["NamespaceId"] == ns
    assert made["Type"] == "DNS_HTTP"
    assert made["DnsConfig"]["RoutingPolicy"] == "MULTIVALUE"
    assert made["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 30}, {"Type": "SRV", "TTL": 30}]
    assert made["HealthCheckCustomConfig"] == {"FailureThreshold": 1}
    assert made["CreatorRequestId"] == token
    assert made["InstanceCount"] == 0
    got = sd.get_service(Id=made["Id"])["Service"]
    assert got == {**made, "CreateDate": got["CreateDate"]}
    assert sd.get_service(Id=made["Arn"])["Service"]["Id"] == made["Id"]
    assert sd.get_namespace(Id=ns)["Namespace"]["ServiceCount"] == 1


def test_routing_policy_defaults_to_multivalue_and_http_services(sd: Any, box: Sandbox) -> None:
    ns = box.namespace("private")
    plain = box.service(ns, DnsConfig=_records("AAAA"))
    assert plain["DnsConfig"]["RoutingPolicy"] == "MULTIVALUE"
    api_only = box.service(ns, Type="HTTP")
    assert api_only["Type"] == "HTTP" and "DnsConfig" not in api_only
    http = box.service(box.namespace("http"))
    assert http["Type"] == "HTTP"


def test_the_legacy_dns_config_namespace_id_names_the_namespace(sd: Any, box: Sandbox) -> None:
    ns = box.namespace("private")
    made = sd.create_service(Name=unique("s"), DnsConfig={**_records("A"), "NamespaceId": ns})
    assert made["Service"]["NamespaceId"] == ns
    with pytest.raises(ClientError) as err:
        sd.create_service(Name=unique("s"), DnsConfig=_records("A"))
    assert error_code(err) == "InvalidInput"


@pytest.mark.parametrize(
    "types", [("A",), ("AAAA",), ("A", "AAAA"), ("SRV",), ("A", "SRV"), ("A", "AAAA", "SRV")]
)
def test_valid_record_combinations(sd: Any, box: Sandbox, types: tuple[str, ...]) -> None:
    svc = box.dns_service(types)
    assert [r["Type"] for r in svc["DnsConfig"]["DnsRecords"]] == list(types)


@pytest.mark.parametrize(
    ("config", "why"),
    [
        (_records("CNAME", "A"), "CNAME only alone"),
        (_records("A", "A"), "a type twice"),
        (_records(), "no records"),
        (_records("CNAME"), "CNAME needs WEIGHTED"),
    ],
)
def test_invalid_dns_configs(sd: Any, box: Sandbox, config: dict[str, Any], why: str) -> None:
    ns = box.namespace("public")
    with pytest.raises(ClientError) as err:
        sd.create_service(Name=unique("s"), NamespaceId=ns, DnsConfig=config)
    assert error_code(err) == "InvalidInput", why


def test_cname_with_weighted_routing(sd: Any, box: Sandbox) -> None:
    svc = box.dns_service(("CNAME",), kind="public", DnsConfig={"RoutingPolicy": "WEIGHTED"})
    assert svc["DnsConfig"]["RoutingPolicy"] == "WEIGHTED"
    with pytest.raises(ClientError) as err:
        sd.create_service(
            Name=unique("s"), NamespaceId=svc["NamespaceId"],
            DnsConfig={**_records("CNAME"), "RoutingPolicy": "WEIGHTED"},
            HealthCheckConfig={"Type": "HTTP"},
        )
    assert error_code(err) == "InvalidInput"


def test_health_check_rules(sd: Any, box: Sandbox) -> None:
    private, public, http = box.namespace("private"), box.namespace("public"), box.namespace("http")
    svc = box.service(public, DnsConfig=_records("A"),
                      HealthCheckConfig={"Type": "HTTPS", "FailureThreshold": 2})
    assert svc["HealthCheckConfig"] == {"Type": "HTTPS", "ResourcePath": "/", "FailureThreshold": 2}
    tcp = box.service(http, HealthCheckConfig={"Type": "TCP"})
    assert tcp["HealthCheckConfig"] == {"Type": "TCP"}
    bad = [
        (private, {"DnsConfig": _records("A"), "HealthCheckConfig": {"Type": "HTTP"}}),
        (http, {"HealthCheckConfig": {"Type": "TCP", "ResourcePath": "/x"}}),
        (http, {"HealthCheckConfig": {"Type": "HTTP"}, "HealthCheckCustomConfig": {}}),
        (http, {"DnsConfig": _records("A")}),
        (private, {"DnsConfig": _records("A"), "Type": "HTTP"}),
    ]
    for ns, kw in bad:
        with pytest.raises(ClientError) as err:
            sd.create_service(Name=unique("s"), NamespaceId=ns, **kw)
        assert error_code(err) == "InvalidInput", kw


def test_service_names(sd: Any, box: Sandbox) -> None:
    dns, http = box.namespace("private"), box.namespace("http")
    made = box.service(dns, name="Orders", DnsConfig=_records("A"))
    with pytest.raises(ClientError) as err:
        sd.create_service(Name="orders", NamespaceId=dns, DnsConfig=_records("A"))
    assert error_code(err) == "ServiceAlreadyExists"
    box.service(http, name="Orders")
    box.service(http, name="orders")  # only DNS names ignore case
    box.service(dns, name="_orders._tcp", DnsConfig=_records("SRV"))
    for bad in ("-leading", "has space", "a" * 64, "trailing."):
        with pytest.raises(ClientError) as err:
            sd.create_service(Name=bad, NamespaceId=dns, DnsConfig=_records("A"))
        assert error_code(err) == "InvalidInput", bad
    with pytest.raises(ClientError) as err:
        sd.create_service(Name="x", NamespaceId="ns-missingmissing00")
    assert error_code(err) == "NamespaceNotFound"
    assert made["Name"] == "Orders"


def test_create_is_idempotent_per_creator_request_id(sd: Any, box: Sandbox) -> None:
    ns, token = box.namespace("http"), unique("req")
    a = box.service(ns, name="same", CreatorRequestId=token)
    b = box.service(ns, name="same", CreatorRequestId=token)
    assert a["Id"] == b["Id"]
    with pytest.raises(ClientError) as err:
        sd.create_service(Name="same", NamespaceId=ns, CreatorRequestId=unique("other"))
    assert error_code(err) == "ServiceAlreadyExists"


def test_list_services_filters_and_pages(sd: Any, box: Sandbox) -> None:
    ns1, ns2 = box.namespace("http"), box.namespace("private")
    in1 = {box.service(ns1)["Id"] for _ in range(3)}
    in2 = {box.service(ns2, DnsConfig=_records("A"))["Id"]}
    ns2_arn = sd.get_namespace(Id=ns2)["Namespace"]["Arn"]

    def ids(*filters: dict[str, Any]) -> set[str]:
        out: set[str] = set()
        pages = sd.get_paginator("list_services").paginate(
            Filters=list(filters), PaginationConfig={"PageSize": 2}
        )
        for page in pages:
            out |= {s["Id"] for s in page["Services"]}
        return out

    assert ids({"Name": "NAMESPACE_ID", "Values": [ns1]}) == in1
    assert ids({"Name": "NAMESPACE_ID", "Values": [ns2_arn], "Condition": "EQ"}) == in2
    assert ids({"Name": "NAMESPACE_ID", "Values": [ns1]},
               {"Name": "RESOURCE_OWNER", "Values": ["OTHER_ACCOUNTS"]}) == set()
    summary = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns2]}])["Services"][0]
    assert "NamespaceId" not in summary and summary["DnsConfig"]["DnsRecords"][0]["Type"] == "A"
    with pytest.raises(ClientError) as err:
        sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns1], "Condition": "BETWEEN"}])
    assert error_code(err) == "InvalidInput"


def test_update_service(sd: Any, box: Sandbox) -> None:
    svc = box.dns_service(("A", "AAAA"), kind="public", HealthCheckConfig={"Type": "HTTP"})
    op = sd.update_service(
        Id=svc["Id"],
        Service={"Description": "d", "DnsConfig": {"DnsRecords": [
            {"Type": "AAAA", "TTL": 5}, {"Type": "A", "TTL": 7}]}},
    )["OperationId"]
    done = wait_operation(sd, op)
    assert (done["Type"], done["Status"], done["Targets"]) == (
        "UPDATE_SERVICE", "SUCCESS", {"SERVICE": svc["Id"]}
    )
    got = sd.get_service(Id=svc["Id"])["Service"]
    assert got["Description"] == "d"
    assert {r["Type"]: r["TTL"] for r in got["DnsConfig"]["DnsRecords"]} == {"A": 7, "AAAA": 5}
    assert "HealthCheckConfig" not in got  # left out of the change: removed, as Cloud Map does

    sd.update_service(Id=svc["Id"], Service={"HealthCheckConfig": {"Type": "TCP"}})
    got = sd.get_service(Id=svc["Id"])["Service"]
    assert got["HealthCheckConfig"] == {"Type": "TCP"}
    assert got["Description"] == "d" and len(got["DnsConfig"]["DnsRecords"]) == 2

    with pytest.raises(ClientError) as err:
        sd.update_service(Id=svc["Id"], Service={"DnsConfig": _records("A")})
    assert error_code(err) == "InvalidInput"
    http = box.service(box.namespace("http"))
    sd.update_service(Id=http["Id"], Service={"Description": "ok"})
    with pytest.raises(ClientError) as err:
        sd.update_service(Id=http["Id"], Service={"HealthCheckConfig": {"Type": "TCP"}})
    assert error_code(err) == "InvalidInput"
    with pytest.raises(ClientError) as err:
        sd.update_service(Id="srv-missingmissing00", Service={"Description": "x"})
    assert error_code(err) == "ServiceNotFound"


def test_delete_service(sd: Any, box: Sandbox) -> None:
    svc = box.service(box.namespace("http"))["Id"]
    sd.register_instance(ServiceId=svc, InstanceId="i", Attributes={"a": "b"})
    with pytest.raises(ClientError) as err:
        sd.delete_service(Id=svc)
    assert error_code(err) == "ResourceInUse"
    sd.deregister_instance(ServiceId=svc, InstanceId="i")
    sd.delete_service(Id=svc)
    for call in (sd.get_service, sd.delete_service):
        with pytest.raises(ClientError) as err:
            call(Id=svc)
        assert error_code(err) == "ServiceNotFound"


def test_service_attributes(sd: Any, box: Sandbox) -> None:
    svc = box.service(box.namespace("http"))
    sid = svc["Id"]
    assert sd.get_service_attributes(ServiceId=sid)["ServiceAttributes"] == {
        "ServiceArn": svc["Arn"], "ResourceOwner": ACCOUNT, "Attributes": {}
    }
    sd.update_service_attributes(ServiceId=sid, Attributes={"a": "1", "b": "2"})
    sd.update_service_attributes(ServiceId=sid, Attributes={"b": "3"})
    got = sd.get_service_attributes(ServiceId=sid)["ServiceAttributes"]
    assert got["ServiceArn"] == svc["Arn"] and got["Attributes"] == {"a": "1", "b": "3"}
    sd.delete_service_attributes(ServiceId=sid, Attributes=["a", "absent"])
    got = sd.get_service_attributes(ServiceId=sid)["ServiceAttributes"]
    assert got["Attributes"] == {"b": "3"}

    sd.update_service_attributes(ServiceId=sid, Attributes={f"k{i}": "v" for i in range(29)})
    with pytest.raises(ClientError) as err:
        sd.update_service_attributes(ServiceId=sid, Attributes={"one-more": "v"})
    assert error_code(err) == "ServiceAttributesLimitExceededException"
    for call, kw in (
        (sd.get_service_attributes, {}),
        (sd.update_service_attributes, {"Attributes": {"a": "b"}}),
        (sd.delete_service_attributes, {"Attributes": ["a"]}),
    ):
        with pytest.raises(ClientError) as err:
            call(ServiceId="srv-missingmissing00", **kw)
        assert error_code(err) == "ServiceNotFound"


def test_service_tags(sd: Any, box: Sandbox) -> None:
    svc = box.service(box.namespace("http"), Tags=[{"Key": "owner", "Value": "me"}])
    assert sd.list_tags_for_resource(ResourceARN=svc["Arn"])["Tags"] == [
        {"Key": "owner", "Value": "me"}
    ]
    sd.tag_resource(ResourceARN=svc["Arn"], Tags=[{"Key": "tier", "Value": "1"}])
    sd.untag_resource(ResourceARN=svc["Arn"], TagKeys=["owner"])
    assert sd.list_tags_for_resource(ResourceARN=svc["Arn"])["Tags"] == [
        {"Key": "tier", "Value": "1"}
    ]
    with pytest.raises(ClientError) as err:
        sd.list_tags_for_resource(ResourceARN="arn:aws:ecs:us-east-1:000000000000:cluster/x")
    assert error_code(err) == "ResourceNotFoundException"
