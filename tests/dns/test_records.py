"""Every record type Cloud Map creates, answered by the real server over UDP."""

from __future__ import annotations

from collections.abc import Callable

import dns.flags
import dns.rcode
import dns.rdatatype

from portside.dns.zone import Instance, RecordType, RoutingPolicy, Service, Soa, Zone
from tests.dns.conftest import ServerThread, instances, service, values

A, AAAA, SRV, CNAME = RecordType.A, RecordType.AAAA, RecordType.SRV, RecordType.CNAME

Start = Callable[..., ServerThread]


def zone(*services: Service, name: str = "corp.local") -> Zone:
    return Zone(name, services)


def test_a_records_with_the_service_ttl_and_the_aa_bit(start_dns: Start) -> None:
    srv = start_dns(zone(service("api", A, ttl=37, instances=instances(3))))
    reply = srv.udp("api.corp.local", "A")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert not reply.flags & dns.flags.RA
    assert sorted(values(reply)) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert reply.answer[0].ttl == 37
    assert str(reply.answer[0].name) == "api.corp.local."


def test_aaaa_records(start_dns: Start) -> None:
    srv = start_dns(zone(service("api", A, AAAA, instances=instances(2))))
    assert sorted(values(srv.udp("api.corp.local", "AAAA"), "AAAA")) == ["fd00::1", "fd00::2"]
    assert sorted(values(srv.udp("api.corp.local", "A"))) == ["10.0.0.1", "10.0.0.2"]


def test_srv_targets_the_instance_hostname_with_its_addresses_as_additional(
    start_dns: Start,
) -> None:
    srv = start_dns(zone(service("_api._tcp", SRV, ttl=15, instances=instances(2))))
    reply = srv.udp("_api._tcp.corp.local", "SRV")
    assert reply.rcode() == dns.rcode.NOERROR
    assert sorted(values(reply, "SRV")) == [
        "1 1 8081 task1._api._tcp.corp.local.",
        "1 1 8082 task2._api._tcp.corp.local.",
    ]
    assert reply.answer[0].ttl == 15
    extra = {(str(r.name), r.rdtype): [rd.to_text() for rd in r] for r in reply.additional}
    assert extra[("task1._api._tcp.corp.local.", dns.rdatatype.A)] == ["10.0.0.1"]
    assert extra[("task2._api._tcp.corp.local.", dns.rdatatype.AAAA)] == ["fd00::2"]
    # The target names resolve on their own too, as Cloud Map creates them.
    assert values(srv.udp("task2._api._tcp.corp.local", "A")) == ["10.0.0.2"]
    assert values(srv.udp("task2._api._tcp.corp.local", "AAAA"), "AAAA") == ["fd00::2"]
    # The name between the service and the apex exists, with no records.
    between = srv.udp("_tcp.corp.local", "A")
    assert between.rcode() == dns.rcode.NOERROR and not between.answer


def test_srv_with_a_records_uses_the_a_ttl_for_the_target_addresses(start_dns: Start) -> None:
    srv = start_dns(zone(service("api", A, SRV, ttl=10, ttls={A: 5}, instances=instances(1))))
    reply = srv.udp("api.corp.local", "SRV")
    assert reply.answer[0].ttl == 10
    ttls = {r.rdtype: r.ttl for r in reply.additional}
    assert ttls == {dns.rdatatype.A: 5, dns.rdatatype.AAAA: 10}
    assert srv.udp("api.corp.local", "A").answer[0].ttl == 5


def test_a_only_service_has_no_instance_hostnames(start_dns: Start) -> None:
    srv = start_dns(zone(service("api", A, instances=instances(1))))
    assert srv.udp("task1.api.corp.local", "A").rcode() == dns.rcode.NXDOMAIN


def test_cname_answers_any_type_and_is_followed_inside_the_zones(start_dns: Start) -> None:
    web = service(
        "web",
        CNAME,
        policy=RoutingPolicy.WEIGHTED,
        instances=(Instance("w1", cname="api.corp.local"),),
    )
    ext = service(
        "ext",
        CNAME,
        policy=RoutingPolicy.WEIGHTED,
        instances=(Instance("e1", cname="www.example.com"),),
    )
    srv = start_dns(zone(web, ext, service("api", A, instances=instances(1))))
    reply = srv.udp("web.corp.local", "A")
    assert reply.rcode() == dns.rcode.NOERROR
    assert values(reply, "CNAME") == ["api.corp.local."]
    assert values(reply, "A") == ["10.0.0.1"]
    assert values(srv.udp("web.corp.local", "CNAME"), "CNAME") == ["api.corp.local."]
    # In-zone target, no record of the type: NODATA after the CNAME.
    nodata = srv.udp("web.corp.local", "AAAA")
    assert values(nodata, "CNAME") == ["api.corp.local."] and nodata.authority
    # Target outside every zone: the CNAME alone.
    outside = srv.udp("ext.corp.local", "A")
    assert outside.rcode() == dns.rcode.NOERROR
    assert values(outside, "CNAME") == ["www.example.com."]
    assert values(outside, "A") == []


def test_soa_and_ns_at_the_apex(start_dns: Start) -> None:
    soa = Soa(primary="ns1.corp.local.", hostmaster="admin.corp.local.", serial=42)
    srv = start_dns(Zone("corp.local", (), soa, ("ns1.corp.local.", "ns2.corp.local."), 3600))
    reply = srv.udp("corp.local", "SOA")
    assert values(reply, "SOA") == ["ns1.corp.local. admin.corp.local. 42 7200 900 1209600 86400"]
    assert reply.answer[0].ttl == 900
    ns = srv.udp("corp.local", "NS")
    assert sorted(values(ns, "NS")) == ["ns1.corp.local.", "ns2.corp.local."]
    assert ns.answer[0].ttl == 3600
    assert srv.udp("corp.local", "A").rcode() == dns.rcode.NOERROR


def test_nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl(start_dns: Start) -> None:
    srv = start_dns(zone(service("api", A, instances=instances(1))))
    missing = srv.udp("nope.corp.local", "A")
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.flags & dns.flags.AA
    assert not missing.answer
    [soa] = missing.authority
    assert soa.rdtype == dns.rdatatype.SOA and str(soa.name) == "corp.local."
    assert soa.ttl == 900  # min(SOA TTL 900, minimum 86400), RFC 2308
    nodata = srv.udp("api.corp.local", "SRV")
    assert nodata.rcode() == dns.rcode.NOERROR
    assert not nodata.answer
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA


def test_a_service_without_instances_does_not_exist(start_dns: Start) -> None:
    srv = start_dns(zone(service("api", A), service("down", A, instances=(Instance("x"),))))
    assert srv.udp("api.corp.local", "A").rcode() == dns.rcode.NXDOMAIN
    assert srv.udp("down.corp.local", "A").rcode() == dns.rcode.NXDOMAIN


def test_names_are_case_insensitive_and_the_question_is_echoed(start_dns: Start) -> None:
    srv = start_dns(zone(service("api", A, SRV, instances=instances(1)), name="Corp.Local"))
    reply = srv.udp("aPi.CORP.local", "A")
    assert values(reply) == ["10.0.0.1"]
    assert str(reply.question[0].name) == "aPi.CORP.local."
    assert srv.udp("TASK1.api.corp.LOCAL", "A").rcode() == dns.rcode.NOERROR


def test_any_returns_every_type_at_the_name(start_dns: Start) -> None:
    srv = start_dns(zone(service("api", A, AAAA, instances=instances(1))))
    reply = srv.udp("api.corp.local", "ANY")
    assert values(reply, "A") == ["10.0.0.1"]
    assert values(reply, "AAAA") == ["fd00::1"]


def test_a_new_revision_is_served_at_once(start_dns: Start) -> None:
    srv = start_dns(zone(service("api", A, instances=instances(2))))
    assert len(values(srv.udp("api.corp.local"))) == 2
    srv.publish(zone(service("api", A, instances=instances(1))))
    assert values(srv.udp("api.corp.local")) == ["10.0.0.1"]
    srv.publish(zone(service("api", A)))
    assert srv.udp("api.corp.local").rcode() == dns.rcode.NXDOMAIN


def test_several_zones_and_bad_entries_skipped(start_dns: Start) -> None:
    bad = Instance("x" * 70, ipv4="10.9.9.9", port=1)  # label over 63 bytes
    worse = Instance("y", ipv4="not-an-ip")
    srv = start_dns(
        zone(service("api", A, SRV, instances=(*instances(1), bad, worse))),
        zone(service("db", A, instances=instances(1, first=7)), name="data.local"),
        Zone("x" * 64 + ".local"),
    )
    assert values(srv.udp("db.data.local")) == ["10.0.0.7"]
    assert sorted(values(srv.udp("api.corp.local"))) == ["10.0.0.1", "10.9.9.9"]
    assert values(srv.udp("api.corp.local", "SRV"), "SRV") == ["1 1 8081 task1.api.corp.local."]
    assert any("skipped" in p for p in srv.server._index.problems)
