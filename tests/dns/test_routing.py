"""MULTIVALUE and WEIGHTED routing with health, as Route 53 answers for Cloud Map."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from portside.dns import wire
from portside.dns.answer import answer
from portside.dns.zone import RecordType, RoutingPolicy, Zone, Zones
from tests.dns.conftest import ServerThread, instances, service, values

A, SRV = RecordType.A, RecordType.SRV
Start = Callable[..., ServerThread]
HEALTHY = {f"10.0.0.{n}" for n in range(1, 21)}
SICK = {f"10.0.0.{n}" for n in range(21, 31)}


def mixed(policy: RoutingPolicy, healthy: int = 20, sick: int = 10) -> Zone:
    members = instances(healthy) + instances(sick, healthy=False, first=healthy + 1)
    return Zone("corp.local", (service("api", A, SRV, policy=policy, instances=members),))


def test_multivalue_returns_eight_healthy_records_varying_between_queries(start_dns: Start) -> None:
    srv = start_dns(mixed(RoutingPolicy.MULTIVALUE))
    seen: Counter[str] = Counter()
    orders = set()
    for _ in range(60):
        got = values(srv.udp("api.corp.local"))
        assert len(got) == 8 and len(set(got)) == 8
        assert set(got) <= HEALTHY
        seen.update(got)
        orders.add(tuple(got))
    assert set(seen) == HEALTHY  # every healthy instance gets its turn
    assert len(orders) > 50


def test_multivalue_with_few_healthy_returns_all_of_them_shuffled(start_dns: Start) -> None:
    srv = start_dns(mixed(RoutingPolicy.MULTIVALUE, healthy=3))
    firsts = set()
    for _ in range(40):
        reply = srv.udp("api.corp.local")
        got = [rd.to_text() for rd in reply.answer[0]]
        assert sorted(got) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        firsts.add(got[0])
    assert len(firsts) == 3  # random order, not registration order


def test_multivalue_with_none_healthy_returns_up_to_eight_unhealthy(start_dns: Start) -> None:
    srv = start_dns(mixed(RoutingPolicy.MULTIVALUE, healthy=0, sick=12))
    got = values(srv.udp("api.corp.local"))
    assert len(got) == 8
    assert set(got) <= {f"10.0.0.{n}" for n in range(1, 13)}
    srv_reply = srv.udp("api.corp.local", "SRV")
    assert len(values(srv_reply, "SRV")) == 8


def test_weighted_returns_one_random_healthy_record(start_dns: Start) -> None:
    srv = start_dns(mixed(RoutingPolicy.WEIGHTED))
    seen = set()
    for _ in range(80):
        got = values(srv.udp("api.corp.local"))
        assert len(got) == 1 and got[0] in HEALTHY
        seen.add(got[0])
    assert len(seen) > 10
    srv_reply = srv.udp("api.corp.local", "SRV")
    assert len(values(srv_reply, "SRV")) == 1
    assert len(srv_reply.additional) == 2  # that one target's A and AAAA


def test_weighted_with_none_healthy_answers_as_if_all_were(start_dns: Start) -> None:
    srv = start_dns(mixed(RoutingPolicy.WEIGHTED, healthy=0, sick=5))
    seen = {values(srv.udp("api.corp.local"))[0] for _ in range(60)}
    assert seen == {f"10.0.0.{n}" for n in range(1, 6)}


def test_health_change_is_seen_by_the_next_query(start_dns: Start) -> None:
    srv = start_dns(mixed(RoutingPolicy.MULTIVALUE, healthy=2, sick=0))
    assert sorted(values(srv.udp("api.corp.local"))) == ["10.0.0.1", "10.0.0.2"]
    members = instances(1) + instances(1, healthy=False, first=2)
    srv.publish(Zone("corp.local", (service("api", A, instances=members),)))
    assert values(srv.udp("api.corp.local")) == ["10.0.0.1"]


def test_the_resolver_is_replayable_with_a_seed() -> None:
    zones = Zones((mixed(RoutingPolicy.MULTIVALUE),), revision=1)

    def run(seed: int) -> list[list[bytes]]:
        rng = random.Random(seed)
        return [
            [rr.body for rr in answer(zones, "api.corp.local", wire.A, rng).answer]
            for _ in range(5)
        ]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_the_resolver_outside_every_zone() -> None:
    zones = Zones((mixed(RoutingPolicy.MULTIVALUE),), revision=1)
    res = answer(zones, "example.com", wire.A, random.Random(1))
    assert res.outside and res.rcode == wire.REFUSED
    assert answer(zones, "corp.local", wire.SOA, random.Random(1)).rcode == wire.NOERROR
