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
    return dns.query.udp(q, "127.0.0.1", port=server.dns_port, timeout=3)


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
