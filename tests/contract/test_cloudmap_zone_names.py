"""A DNS zone name is served once: another account or Region cannot take it.

Route 53 lets hosted zones with one name live in different VPCs; portside has
one DNS server for every namespace, so a second zone with the same name would
be ambiguous (it used to be accepted and silently never served). Cloud Map
reports a hosted zone Route 53 refuses through the operation: CreatePrivate/
PublicDnsNamespace answers, then GetOperation says FAIL with ErrorCode
CANNOT_CREATE_HOSTED_ZONE, and the message names Route 53's
ConflictingDomainExists.
"""

from __future__ import annotations

from typing import Any

import dns.message
import dns.query
import dns.rcode

from tests.contract.test_servicediscovery_wire import Sandbox, sandbox, sd_client, wait_operation
from tests.helpers import Server, unique


def _answers(server: Server, name: str) -> tuple[int, list[str]]:
    reply = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1",
                          port=server.dns_port, timeout=10)
    return reply.rcode(), sorted(r.address for rrset in reply.answer for r in rrset)


def _serve(box: Sandbox, ns_id: str, ip: str) -> None:
    svc = box.service(ns_id, name="web", DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 5}]})
    box.sd.register_instance(ServiceId=svc["Id"], InstanceId="i-1",
                             Attributes={"AWS_INSTANCE_IPV4": ip})


def test_a_zone_name_taken_in_another_region_fails_the_operation(
    server: Server, sd: Any, box: Sandbox
) -> None:
    name = unique("shared")
    east_ns = box.namespace("private", name=name)
    _serve(box, east_ns, "10.1.1.1")
    zone = f"{name}.internal"
    west = sd_client(server, sd.meta.service_model.protocol, region="eu-west-1")
    for create, kw in (
        (west.create_private_dns_namespace, {"Name": zone.upper() + ".", "Vpc": "vpc-2"}),
        (west.create_public_dns_namespace, {"Name": zone}),
    ):
        op_id = create(CreatorRequestId=unique("req"), **kw)["OperationId"]
        op = wait_operation(west, op_id)
        assert op["Status"] == "FAIL"
        assert op["Type"] == "CREATE_NAMESPACE"
        assert op["ErrorCode"] == "CANNOT_CREATE_HOSTED_ZONE"
        assert op["ErrorMessage"].startswith("ConflictingDomainExists")
        assert east_ns in op["ErrorMessage"]
        assert "NAMESPACE" not in op.get("Targets", {})
    west_names = [n["Name"].rstrip(".").lower() for n in west.list_namespaces()["Namespaces"]]
    assert zone not in west_names
    assert _answers(server, f"web.{zone}") == (dns.rcode.NOERROR, ["10.1.1.1"])


def test_a_retry_of_the_failed_request_gets_the_same_operation(
    server: Server, sd: Any, box: Sandbox
) -> None:
    name = unique("retry")
    box.namespace("private", name=name)
    west = sd_client(server, sd.meta.service_model.protocol, region="eu-west-1")
    token = unique("req")
    first = west.create_private_dns_namespace(
        Name=f"{name}.internal", Vpc="vpc-2", CreatorRequestId=token)["OperationId"]
    again = west.create_private_dns_namespace(
        Name=f"{name}.internal", Vpc="vpc-2", CreatorRequestId=token)["OperationId"]
    assert again == first
    assert wait_operation(west, first)["Status"] == "FAIL"


def test_http_names_and_freed_zone_names_are_not_conflicts(
    server: Server, sd: Any, box: Sandbox
) -> None:
    name = unique("free")
    east_ns = box.namespace("private", name=name)
    protocol = sd.meta.service_model.protocol
    west = sd_client(server, protocol, region="eu-west-1")
    south = sd_client(server, protocol, region="ap-south-1")
    with sandbox(west) as west_box, sandbox(south) as south_box:
        west_box.namespace("http", name=f"{name}.internal")  # an HTTP name is no DNS zone
        box.sd.delete_namespace(Id=east_ns)
        box.namespaces.remove(east_ns)
        south_ns = south_box.namespace("private", name=name)  # the zone name is free again
        _serve(south_box, south_ns, "10.2.2.2")
        assert _answers(server, f"web.{name}.internal") == (dns.rcode.NOERROR, ["10.2.2.2"])
