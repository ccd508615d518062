"""The registry view the DNS server reads, checked against what the API wrote.

The API writes through a real server; the test then opens the same database
with its own Store (a reader, as the DNS server is) and calls ``dns_view``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from portside.domain.kinds import KINDS
from portside.domain.servicediscovery.dns_view import DnsNamespace, dns_view
from portside.store.store import Store, sqlite_url
from tests.contract.test_servicediscovery_wire import JSON, Sandbox, sandbox, sd_client
from tests.helpers import Server, unique


@pytest.fixture
def box(server: Server) -> Iterator[Sandbox]:
    with sandbox(sd_client(server, JSON)) as b:
        yield b


def _view(server: Server, namespace_id: str) -> DnsNamespace | None:
    store = Store(server.database_url or sqlite_url(server.data_dir), KINDS)
    try:
        return next((ns for ns in dns_view(store) if ns.id == namespace_id), None)
    finally:
        store.close()


def test_dns_view_follows_the_registry(server: Server, box: Sandbox) -> None:
    sd: Any = box.sd
    ns = box.namespace("private", name=unique("Shop"))
    web = box.service(ns, name="web", HealthCheckCustomConfig={}, DnsConfig={
        "RoutingPolicy": "MULTIVALUE",
        "DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 20}],
    })
    box.service(ns, name="api-only", Type="HTTP")
    for i in range(3):
        sd.register_instance(ServiceId=web["Id"], InstanceId=f"task-{i}", Attributes={
            "AWS_INSTANCE_IPV4": f"10.0.0.{i + 1}", "AWS_INSTANCE_PORT": str(8000 + i),
        })
    sd.update_instance_custom_health_status(ServiceId=web["Id"], InstanceId="task-2",
                                            Status="UNHEALTHY")

    view = _view(server, ns)
    assert view is not None
    assert view.private and view.zone.startswith("shop-") and view.zone.endswith(".internal")
    assert view.soa_ttl == 15 and view.hosted_zone_id
    (svc,) = view.services  # the HTTP-only service has no records
    assert (svc.id, svc.name, svc.routing_policy) == (web["Id"], "web", "MULTIVALUE")
    assert (svc.ttl("A"), svc.ttl("SRV"), svc.ttl("AAAA")) == (10, 20, None)
    by_id = {i.id: i for i in svc.instances}
    assert set(by_id) == {"task-0", "task-1", "task-2"}
    assert (by_id["task-1"].ipv4, by_id["task-1"].port, by_id["task-1"].ipv6) == ("10.0.0.2", 8001, None)
    assert [i.id for i in svc.instances if not i.healthy] == ["task-2"]
    assert by_id["task-0"].health == "HEALTHY"

    sd.deregister_instance(ServiceId=web["Id"], InstanceId="task-0")
    view = _view(server, ns)
    assert view is not None
    assert {i.id for i in view.services[0].instances} == {"task-1", "task-2"}


def test_dns_view_has_public_zones_and_no_http_namespaces(server: Server, box: Sandbox) -> None:
    sd: Any = box.sd
    public = box.namespace("public")
    cname = box.service(public, name="www", DnsConfig={
        "RoutingPolicy": "WEIGHTED", "DnsRecords": [{"Type": "CNAME", "TTL": 300}],
    })
    sd.register_instance(ServiceId=cname["Id"], InstanceId="site",
                         Attributes={"AWS_INSTANCE_CNAME": "origin.example.net"})
    http = box.namespace("http")

    view = _view(server, public)
    assert view is not None and not view.private
    (svc,) = view.services
    assert svc.routing_policy == "WEIGHTED" and svc.ttl("CNAME") == 300
    (inst,) = svc.instances
    assert inst.cname == "origin.example.net" and inst.health == "UNKNOWN" and inst.healthy
    assert _view(server, http) is None
