"""Cloud Map registrations answer on portside's own DNS server, from the next query."""

from __future__ import annotations

import time
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from tests.helpers import Server, unique


def _query(server: Server, name: str, rdtype: str) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype)
    return dns.query.udp(q, "127.0.0.1", port=server.dns_port, timeout=10)


def _wait_operation(sd: Any, op_id: str) -> dict[str, Any]:
    for _ in range(100):
        op = sd.get_operation(OperationId=op_id)["Operation"]
        if op["Status"] in ("SUCCESS", "FAIL"):
            return dict(op)
        time.sleep(0.05)
    raise AssertionError("operation did not finish")


def test_registered_instances_answer_a_and_srv(server: Server) -> None:
    sd = server.client("servicediscovery")
    zone = f"{unique('z')}.local"
    op = sd.create_private_dns_namespace(Name=zone, Vpc="vpc-1")["OperationId"]
    ns_id = _wait_operation(sd, op)["Targets"]["NAMESPACE"]
    svc = sd.create_service(
        Name="api", NamespaceId=ns_id,
        DnsConfig={"RoutingPolicy": "MULTIVALUE",
                   "DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}]},
        HealthCheckCustomConfig={},
    )["Service"]
    for i in range(3):
        sd.register_instance(ServiceId=svc["Id"], InstanceId=f"task-{i}",
                             Attributes={"AWS_INSTANCE_IPV4": f"10.1.0.{i + 1}",
                                         "AWS_INSTANCE_PORT": str(8080 + i)})

    a = _query(server, f"api.{zone}", "A")
    assert a.rcode() == dns.rcode.NOERROR
    ips = sorted(r.address for rrset in a.answer for r in rrset)
    assert ips == ["10.1.0.1", "10.1.0.2", "10.1.0.3"]
    assert a.answer[0].ttl == 10

    srv = _query(server, f"api.{zone}", "SRV")
    ports = sorted(r.port for rrset in srv.answer for r in rrset)
    assert ports == [8080, 8081, 8082]

    sd.update_instance_custom_health_status(ServiceId=svc["Id"], InstanceId="task-1",
                                            Status="UNHEALTHY")
    a = _query(server, f"api.{zone}", "A")
    assert sorted(r.address for rrset in a.answer for r in rrset) == ["10.1.0.1", "10.1.0.3"]

    sd.deregister_instance(ServiceId=svc["Id"], InstanceId="task-0")
    a = _query(server, f"api.{zone}", "A")
    assert sorted(r.address for rrset in a.answer for r in rrset) == ["10.1.0.3"]

    assert _query(server, f"nope.{zone}", "A").rcode() == dns.rcode.NXDOMAIN
    assert _query(server, "example.com", "A").rcode() == dns.rcode.REFUSED


def test_every_change_is_served_from_the_next_query(server: Server) -> None:
    """Register, flip health, deregister, and query at once, many times over.

    The DNS view must be current when the API call returns: one stale answer
    in these hundreds of round trips is a race. Another service of 300
    instances in the zone makes every rebuild of the view bigger, as the audit
    that found the race did.
    """
    sd = server.client("servicediscovery")
    zone = f"{unique('z')}.local"
    op = sd.create_private_dns_namespace(Name=zone, Vpc="vpc-1")["OperationId"]
    ns_id = _wait_operation(sd, op)["Targets"]["NAMESPACE"]
    records = {"DnsRecords": [{"Type": "A", "TTL": 5}]}
    svc = sd.create_service(Name="api", NamespaceId=ns_id, DnsConfig=records,
                            HealthCheckCustomConfig={})["Service"]
    bulk = sd.create_service(Name="bulk", NamespaceId=ns_id, DnsConfig=records)["Service"]
    for i in range(300):
        sd.register_instance(ServiceId=bulk["Id"], InstanceId=f"b{i}",
                             Attributes={"AWS_INSTANCE_IPV4": f"10.9.{i // 256}.{i % 256}"})
    sd.register_instance(ServiceId=svc["Id"], InstanceId="steady",
                         Attributes={"AWS_INSTANCE_IPV4": "10.0.0.9"})

    port = server.dns_port  # once: asking the API for it would give the server time to catch up
    query = dns.message.make_query(f"api.{zone}", "A")

    def addresses() -> list[str]:
        a = dns.query.udp(query, "127.0.0.1", port=port, timeout=10)
        assert a.rcode() == dns.rcode.NOERROR
        return sorted(r.address for rrset in a.answer for r in rrset)

    wrong: list[tuple[int, str, list[str]]] = []
    for i in range(150):
        sd.register_instance(ServiceId=svc["Id"], InstanceId="x",
                             Attributes={"AWS_INSTANCE_IPV4": "10.0.0.1"})
        if (got := addresses()) != ["10.0.0.1", "10.0.0.9"]:
            wrong.append((i, "registered", got))
        sd.update_instance_custom_health_status(ServiceId=svc["Id"], InstanceId="x",
                                                Status="UNHEALTHY")
        if (got := addresses()) != ["10.0.0.9"]:
            wrong.append((i, "unhealthy", got))
        sd.deregister_instance(ServiceId=svc["Id"], InstanceId="x")
        if (got := addresses()) != ["10.0.0.9"]:
            wrong.append((i, "deregistered", got))
    assert wrong == []
    assert len(_query(server, f"bulk.{zone}", "A").answer[0]) == 8  # MULTIVALUE: up to 8
