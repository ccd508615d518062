"""Cloud Map instances: registration, discovery and health, over CBOR and JSON."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.test_servicediscovery_wire import (
    JSON,
    Sandbox,
    error_code,
    sandbox,
    sd_client,
    wait_operation,
)
from tests.helpers import Server, unique

IP = {"AWS_INSTANCE_IPV4": "10.0.0.1"}


def _names(sd: Any, svc: dict[str, Any]) -> dict[str, str]:
    ns = sd.get_namespace(Id=svc["NamespaceId"])["Namespace"]
    return {"NamespaceName": ns["Properties"]["HttpProperties"]["HttpName"],
            "ServiceName": svc["Name"]}


def test_register_get_list_deregister(sd: Any, box: Sandbox) -> None:
    svc = box.dns_service(("A", "SRV"))
    sid = svc["Id"]
    attrs = {"AWS_INSTANCE_IPV4": "10.0.0.9", "AWS_INSTANCE_PORT": "8080", "color": "blue"}
    op = sd.register_instance(ServiceId=sid, InstanceId="task-1", Attributes=attrs,
                              CreatorRequestId="req-1")["OperationId"]
    done = wait_operation(sd, op)
    assert (done["Type"], done["Status"]) == ("REGISTER_INSTANCE", "SUCCESS")
    got = sd.get_instance(ServiceId=sid, InstanceId="task-1")
    assert got["ResourceOwner"] == "000000000000"
    assert got["Instance"] == {"Id": "task-1", "CreatorRequestId": "req-1", "Attributes": attrs,
                               "CreatedByAccount": "000000000000"}
    listed = sd.list_instances(ServiceId=sid)
    assert listed["Instances"] == [{"Id": "task-1", "Attributes": attrs,
                                    "CreatedByAccount": "000000000000"}]
    assert sd.get_service(Id=sid)["Service"]["InstanceCount"] == 1

    op = sd.deregister_instance(ServiceId=sid, InstanceId="task-1")["OperationId"]
    done = wait_operation(sd, op)
    assert (done["Type"], done["Targets"]) == (
        "DEREGISTER_INSTANCE", {"INSTANCE": "task-1", "SERVICE": sid}
    )
    for call in (sd.get_instance, sd.deregister_instance):
        with pytest.raises(ClientError) as err:
            call(ServiceId=sid, InstanceId="task-1")
        assert error_code(err) == "InstanceNotFound"
    with pytest.raises(ClientError) as err:
        sd.register_instance(ServiceId="srv-missingmissing00", InstanceId="x", Attributes=IP)
    assert error_code(err) == "ServiceNotFound"


def test_registering_again_updates_the_instance(sd: Any, box: Sandbox) -> None:
    svc = box.dns_service(("A",))
    sd.register_instance(ServiceId=svc["Id"], InstanceId="i", Attributes=IP)
    sd.register_instance(ServiceId=svc["Id"], InstanceId="i",
                         Attributes={"AWS_INSTANCE_IPV4": "10.0.0.2", "v": "2"})
    got = sd.get_instance(ServiceId=svc["Id"], InstanceId="i")["Instance"]
    assert got["Attributes"] == {"AWS_INSTANCE_IPV4": "10.0.0.2", "v": "2"}
    assert sd.get_service(Id=svc["Id"])["Service"]["InstanceCount"] == 1


def test_creator_request_id_makes_retries_safe(sd: Any, box: Sandbox) -> None:
    svc = box.service(box.namespace("http"))["Id"]
    token = unique("req")
    first = sd.register_instance(ServiceId=svc, InstanceId="a", Attributes={"k": "v"},
                                 CreatorRequestId=token)["OperationId"]
    again = sd.register_instance(ServiceId=svc, InstanceId="a", Attributes={"k": "v"},
                                 CreatorRequestId=token)["OperationId"]
    assert again == first
    with pytest.raises(ClientError) as err:
        sd.register_instance(ServiceId=svc, InstanceId="b", Attributes={"k": "v"},
                             CreatorRequestId=token)
    assert error_code(err) == "DuplicateRequest"
    assert [i["Id"] for i in sd.list_instances(ServiceId=svc)["Instances"]] == ["a"]


@pytest.mark.parametrize(
    ("records", "attrs", "why"),
    [
        (("A",), {"AWS_INSTANCE_PORT": "80"}, "A needs AWS_INSTANCE_IPV4"),
        (("AAAA",), IP, "AAAA needs AWS_INSTANCE_IPV6"),
        (("SRV",), IP, "SRV needs AWS_INSTANCE_PORT"),
        (("SRV",), {"AWS_INSTANCE_PORT": "80"}, "SRV needs an address"),
        (("A",), {"AWS_INSTANCE_IPV4": "10.0.0.256"}, "not an IPv4 address"),
        (("AAAA",), {"AWS_INSTANCE_IPV6": "10.0.0.1"}, "not an IPv6 address"),
        (("SRV",), {**IP, "AWS_INSTANCE_PORT": "http"}, "not a port"),
        (("SRV",), {**IP, "AWS_INSTANCE_PORT": "65536"}, "port out of range"),
        (("A",), {**IP, "AWS_INIT_HEALTH_STATUS": "MAYBE"}, "bad initial health"),
        (("A",), {**IP, **{f"c{i}": "v" for i in range(31)}}, "31 custom attributes"),
        (("A",), {**IP, "big": "x" * 1000, "big2": "x" * 1000, "big3": "x" * 1000,
                  "big4": "x" * 1000, "big5": "x" * 1000}, "over 5,000 characters"),
        (("A",), {"AWS_ALIAS_DNS_NAME": "lb.example.com"}, "alias needs WEIGHTED"),
    ],
)
def test_attributes_the_service_needs(
    sd: Any, box: Sandbox, records: tuple[str, ...], attrs: dict[str, str], why: str
) -> None:
    svc = box.dns_service(records)
    with pytest.raises(ClientError) as err:
        sd.register_instance(ServiceId=svc["Id"], InstanceId="i", Attributes=attrs)
    assert error_code(err) == "InvalidInput", why


def test_record_specific_attributes_that_are_accepted(sd: Any, box: Sandbox) -> None:
    cases: list[tuple[tuple[str, ...], dict[str, str], dict[str, Any]]] = [
        (("AAAA",), {"AWS_INSTANCE_IPV6": "2001:db8::1"}, {}),
        (("SRV",), {"AWS_INSTANCE_IPV6": "2001:db8::1", "AWS_INSTANCE_PORT": "443"}, {}),
        (("A", "AAAA"), {**IP, "AWS_INSTANCE_IPV6": "2001:db8::2"}, {}),
        (("CNAME",), {"AWS_INSTANCE_CNAME": "db.example.com"},
         {"DnsConfig": {"RoutingPolicy": "WEIGHTED"}}),
        (("A",), {"AWS_ALIAS_DNS_NAME": "my-lb-123.us-east-1.elb.amazonaws.com"},
         {"DnsConfig": {"RoutingPolicy": "WEIGHTED"}}),
        (("A",), {**IP, **{f"c{i}": "v" for i in range(30)}}, {}),
    ]
    for records, attrs, kw in cases:
        svc = box.dns_service(records, kind="public", **kw)
        sd.register_instance(ServiceId=svc["Id"], InstanceId="i", Attributes=attrs)
    http = box.service(box.namespace("http"))
    sd.register_instance(ServiceId=http["Id"], InstanceId="ec2",
                         Attributes={"AWS_EC2_INSTANCE_ID": "i-0123456789abcdef0"})
    with pytest.raises(ClientError) as err:
        sd.register_instance(ServiceId=http["Id"], InstanceId="bad id!", Attributes={"a": "b"})
    assert error_code(err) == "InvalidInput"


def test_route53_health_check_needs_a_port(sd: Any, box: Sandbox) -> None:
    svc = box.service(box.namespace("http"), HealthCheckConfig={"Type": "TCP"})
    with pytest.raises(ClientError) as err:
        sd.register_instance(ServiceId=svc["Id"], InstanceId="i", Attributes=IP)
    assert error_code(err) == "InvalidInput"
    sd.register_instance(ServiceId=svc["Id"], InstanceId="i",
                         Attributes={**IP, "AWS_INSTANCE_PORT": "80"})
    assert sd.get_instances_health_status(ServiceId=svc["Id"])["Status"] == {"i": "HEALTHY"}


def test_custom_health(sd: Any, box: Sandbox) -> None:
    svc = box.dns_service(("A",), HealthCheckCustomConfig={})
    sid = svc["Id"]
    sd.register_instance(ServiceId=sid, InstanceId="up", Attributes=IP)
    sd.register_instance(ServiceId=sid, InstanceId="starting",
                         Attributes={**IP, "AWS_INIT_HEALTH_STATUS": "UNHEALTHY"})
    assert sd.get_instances_health_status(ServiceId=sid)["Status"] == {
        "up": "HEALTHY", "starting": "UNHEALTHY"
    }
    sd.update_instance_custom_health_status(ServiceId=sid, InstanceId="starting", Status="HEALTHY")
    sd.update_instance_custom_health_status(ServiceId=sid, InstanceId="up", Status="UNHEALTHY")
    status = sd.get_instances_health_status(ServiceId=sid, Instances=["up", "starting"])["Status"]
    assert status == {"up": "UNHEALTHY", "starting": "HEALTHY"}
    sd.register_instance(ServiceId=sid, InstanceId="up", Attributes={**IP, "v": "2"})
    assert sd.get_instances_health_status(ServiceId=sid, Instances=["up"])["Status"] == {
        "up": "UNHEALTHY"
    }
    with pytest.raises(ClientError) as err:
        sd.update_instance_custom_health_status(ServiceId=sid, InstanceId="gone", Status="HEALTHY")
    assert error_code(err) == "InstanceNotFound"
    with pytest.raises(ClientError) as err:
        sd.get_instances_health_status(ServiceId=sid, Instances=["up", "gone"])
    assert error_code(err) == "InstanceNotFound"


def test_custom_health_needs_a_custom_health_check(sd: Any, box: Sandbox) -> None:
    svc = box.dns_service(("A",))
    sd.register_instance(ServiceId=svc["Id"], InstanceId="i", Attributes=IP)
    with pytest.raises(ClientError) as err:
        sd.update_instance_custom_health_status(ServiceId=svc["Id"], InstanceId="i",
                                                Status="UNHEALTHY")
    assert error_code(err) == "CustomHealthNotFound"
    assert sd.get_instances_health_status(ServiceId=svc["Id"])["Status"] == {"i": "UNKNOWN"}


def test_health_status_pages(sd: Any, box: Sandbox) -> None:
    svc = box.service(box.namespace("http"), HealthCheckCustomConfig={})["Id"]
    for i in range(5):
        sd.register_instance(ServiceId=svc, InstanceId=f"i{i}", Attributes={"n": str(i)})
    seen: dict[str, str] = {}
    token: str | None = None
    while True:
        kw = {"NextToken": token} if token else {}
        page = sd.get_instances_health_status(ServiceId=svc, MaxResults=2, **kw)
        assert len(page["Status"]) <= 2
        seen.update(page["Status"])
        token = page.get("NextToken")
        if not token:
            break
    assert seen == {f"i{i}": "HEALTHY" for i in range(5)}
    listed: list[str] = []
    for page in sd.get_paginator("list_instances").paginate(
        ServiceId=svc, PaginationConfig={"PageSize": 2}
    ):
        listed += [i["Id"] for i in page["Instances"]]
    assert sorted(listed) == sorted(seen)


def test_discover_instances(sd: Any, box: Sandbox) -> None:
    svc = box.dns_service(("A",), HealthCheckCustomConfig={})
    where = _names(sd, svc)
    for i, (stage, az) in enumerate([("blue", "a"), ("blue", "b"), ("green", "a")]):
        sd.register_instance(ServiceId=svc["Id"], InstanceId=f"i{i}",
                             Attributes={"AWS_INSTANCE_IPV4": f"10.0.0.{i}", "stage": stage,
                                         "az": az})
    sd.update_instance_custom_health_status(ServiceId=svc["Id"], InstanceId="i1",
                                            Status="UNHEALTHY")

    def found(**kw: Any) -> set[str]:
        out = sd.discover_instances(**where, **kw)
        return {i["InstanceId"] for i in out["Instances"]}

    assert found() == {"i0", "i2"}  # HEALTHY by default
    assert found(HealthStatus="ALL") == {"i0", "i1", "i2"}
    assert found(HealthStatus="UNHEALTHY") == {"i1"}
    assert found(QueryParameters={"stage": "blue"}) == {"i0"}
    assert found(QueryParameters={"stage": "blue"}, HealthStatus="ALL") == {"i0", "i1"}
    assert found(QueryParameters={"stage": "blue"}, OptionalParameters={"az": "b"},
                 HealthStatus="ALL") == {"i1"}
    assert found(OptionalParameters={"az": "nowhere"}, HealthStatus="ALL") == {"i0", "i1", "i2"}
    assert found(QueryParameters={"stage": "blue", "az": "b"}) == set()
    assert found(QueryParameters={"stage": "blue", "az": "b"},
                 HealthStatus="HEALTHY_OR_ELSE_ALL") == {"i1"}
    assert len(found(HealthStatus="ALL", MaxResults=2)) == 2

    one = sd.discover_instances(**where, QueryParameters={"stage": "green"})["Instances"][0]
    assert one == {"InstanceId": "i2", "NamespaceName": where["NamespaceName"],
                   "ServiceName": svc["Name"], "HealthStatus": "HEALTHY",
                   "Attributes": {"AWS_INSTANCE_IPV4": "10.0.0.2", "stage": "green", "az": "a"}}


def test_discover_without_a_health_check_returns_everything(sd: Any, box: Sandbox) -> None:
    svc = box.service(box.namespace("http"))
    sd.register_instance(ServiceId=svc["Id"], InstanceId="x", Attributes={"a": "b"})
    got = sd.discover_instances(**_names(sd, svc), HealthStatus="UNHEALTHY")["Instances"]
    assert [(i["InstanceId"], i["HealthStatus"]) for i in got] == [("x", "UNKNOWN")]


def test_discover_by_name_errors(sd: Any, box: Sandbox) -> None:
    svc = box.dns_service(("A",))
    where = _names(sd, svc)
    with pytest.raises(ClientError) as err:
        sd.discover_instances(NamespaceName=unique("nowhere"), ServiceName=svc["Name"])
    assert error_code(err) == "NamespaceNotFound"
    with pytest.raises(ClientError) as err:
        sd.discover_instances(NamespaceName=where["NamespaceName"], ServiceName="nothing")
    assert error_code(err) == "ServiceNotFound"
    with pytest.raises(ClientError) as err:
        sd.discover_instances_revision(NamespaceName=where["NamespaceName"], ServiceName="nothing")
    assert error_code(err) == "ServiceNotFound"
    upper = {**where, "ServiceName": svc["Name"].upper()}
    assert sd.discover_instances(**upper)["Instances"] == []  # DNS names ignore case


def test_instances_revision_moves_on_registration_not_on_health(sd: Any, box: Sandbox) -> None:
    svc = box.dns_service(("A",), HealthCheckCustomConfig={})
    where = _names(sd, svc)

    def revision() -> int:
        r = sd.discover_instances_revision(**where)["InstancesRevision"]
        assert sd.discover_instances(**where)["InstancesRevision"] == r
        return int(r)

    r0 = revision()
    sd.register_instance(ServiceId=svc["Id"], InstanceId="i", Attributes=IP)
    r1 = revision()
    assert r1 > r0
    sd.update_instance_custom_health_status(ServiceId=svc["Id"], InstanceId="i",
                                            Status="UNHEALTHY")
    assert revision() == r1
    sd.deregister_instance(ServiceId=svc["Id"], InstanceId="i")
    assert revision() > r1


@pytest.mark.slow
def test_a_service_holds_at_most_1000_instances(server: Server) -> None:
    sd = sd_client(server, JSON)
    with sandbox(sd) as box:
        svc = box.service(box.namespace("http"))["Id"]

        def register(i: int) -> None:
            sd.register_instance(ServiceId=svc, InstanceId=f"i{i}", Attributes={"n": str(i)})

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(register, range(1000)))
        with pytest.raises(ClientError) as err:
            register(1000)
        assert error_code(err) == "ResourceLimitExceeded"
        register(999)  # an existing instance can still be updated
        assert sd.get_service(Id=svc)["Service"]["InstanceCount"] == 1000
        assert len(sd.discover_instances(**_names(sd, sd.get_service(Id=svc)["Service"]),
                                         MaxResults=1000)["Instances"]) == 1000

        def deregister(i: int) -> None:
            sd.deregister_instance(ServiceId=svc, InstanceId=f"i{i}")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(deregister, range(1000)))
