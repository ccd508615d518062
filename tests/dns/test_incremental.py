"""The DNS view kept current commit by commit equals one rebuilt from scratch.

:class:`portside.runtime.dns_registry.CloudMapRegistry` rebuilds only the
services a commit touched, and :class:`portside.dns.index.Compiler` re-encodes
only the services whose objects changed. Both shortcuts are checked here
against the full rebuild after every step of a seeded random walk of Cloud Map
calls on a real store: namespaces come and go and change their SOA TTL,
services are created and deleted, instances are registered, re-registered,
deregistered and flip health.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portside.dns.index import Compiler, Index, compile_zones
from portside.dns.zone import Zones
from portside.domain.kinds import KINDS
from portside.domain.scope import Scope
from portside.domain.servicediscovery import discovery, instances, namespaces, services
from portside.domain.servicediscovery.dns_view import dns_view
from portside.domain.servicediscovery.errors import ResourceInUse
from portside.domain.servicediscovery.operation import Operation
from portside.runtime.dns_registry import CloudMapRegistry, zone_of
from portside.store.store import Store, sqlite_url

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SCOPES = (Scope("000000000000", "us-east-1"), Scope("111111111111", "eu-west-1"))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(sqlite_url(tmp_path), KINDS)


def _same_index(a: Index, b: Index) -> None:
    assert a.nodes.keys() == b.nodes.keys()
    for key, node in b.nodes.items():
        assert a.nodes[key].rrsets == node.rrsets, key
        assert a.nodes[key].zone == node.zone, key
    assert a.zones == b.zones


class Walk:
    """Random Cloud Map calls, keeping track of what exists."""

    def __init__(self, store: Store, seed: int) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.namespaces: list[tuple[Scope, str]] = []
        self.services: list[tuple[Scope, str, bool]] = []  # scope, id, custom health
        self.instances: list[tuple[Scope, str, str]] = []  # scope, service id, instance id
        self.serial = 0

    def step(self) -> None:
        rng = self.rng
        moves = [self.create_namespace]
        if self.namespaces:
            moves += [self.create_service, self.update_namespace, self.delete_namespace]
        if self.services:
            moves += [self.register] * 6 + [self.delete_service]
        if self.instances:
            moves += [self.deregister] * 3 + [self.flip_health] * 3
        rng.choice(moves)()

    def _op_target(self, op_id: str) -> str:
        op = self.store.get(Operation.KIND, op_id)
        return str(op.targets["NAMESPACE"])

    def create_namespace(self) -> None:
        self.serial += 1
        scope = self.rng.choice(SCOPES)
        name = f"z{self.serial}.local"
        if self.rng.random() < 0.2:
            op = namespaces.create_http_namespace(self.store, scope, NOW, name=name)
        else:
            op = namespaces.create_private_dns_namespace(
                self.store, scope, NOW, name=name, vpc="vpc-1"
            )
        self.namespaces.append((scope, self._op_target(op)))

    def update_namespace(self) -> None:
        scope, ns_id = self.rng.choice(self.namespaces)
        ns = self.store.get("sd_namespace", ns_id)
        if not ns.is_dns:
            return
        ttl = self.rng.randint(1, 100)
        namespaces.update_private_dns_namespace(
            self.store, scope, NOW, id=ns_id,
            namespace={"properties": {"dns_properties": {"soa": {"ttl": ttl}}}},
        )

    def delete_namespace(self) -> None:
        scope, ns_id = self.rng.choice(self.namespaces)
        try:
            namespaces.delete_namespace(self.store, scope, NOW, id=ns_id)
        except ResourceInUse:
            return
        self.namespaces.remove((scope, ns_id))

    def create_service(self) -> None:
        self.serial += 1
        scope, ns_id = self.rng.choice(self.namespaces)
        is_dns = self.store.get("sd_namespace", ns_id).is_dns
        custom = self.rng.random() < 0.5
        types = self.rng.choice([["A"], ["SRV"], ["A", "SRV"]])
        svc = services.create_service(
            self.store, scope, NOW, name=f"s{self.serial}", namespace_id=ns_id,
            dns_config={"dns_records": [{"type": t, "ttl": 5} for t in types]} if is_dns else None,
            health_check_custom_config={} if custom else None,
        )
        self.services.append((scope, svc.id, custom))

    def delete_service(self) -> None:
        scope, svc_id, custom = self.rng.choice(self.services)
        try:
            services.delete_service(self.store, scope, id=svc_id)
        except ResourceInUse:
            return
        self.services.remove((scope, svc_id, custom))

    def register(self) -> None:
        scope, svc_id, _ = self.rng.choice(self.services)
        inst = f"i{self.rng.randint(0, 6)}"
        instances.register_instance(
            self.store, scope, NOW, service_id=svc_id, instance_id=inst,
            attributes={"AWS_INSTANCE_IPV4": f"10.0.0.{self.rng.randint(1, 250)}",
                        "AWS_INSTANCE_PORT": str(self.rng.randint(1, 9000))},
        )
        if (scope, svc_id, inst) not in self.instances:
            self.instances.append((scope, svc_id, inst))

    def deregister(self) -> None:
        scope, svc_id, inst = self.rng.choice(self.instances)
        instances.deregister_instance(self.store, scope, NOW, service_id=svc_id, instance_id=inst)
        self.instances.remove((scope, svc_id, inst))

    def flip_health(self) -> None:
        scope, svc_id, inst = self.rng.choice(self.instances)
        if not next(c for s, i, c in self.services if i == svc_id):
            return
        status = self.rng.choice(["HEALTHY", "UNHEALTHY"])
        discovery.update_instance_custom_health_status(
            self.store, scope, service_id=svc_id, instance_id=inst, status=status
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_view_and_index_match_a_full_rebuild(store: Store, seed: int) -> None:
    registry = CloudMapRegistry(store)
    compiler = Compiler()
    walk = Walk(store, seed)
    revisions = [registry.current().revision]
    for _ in range(400):
        walk.step()
        zones = registry.current()
        revisions.append(zones.revision)
        full = Zones(tuple(zone_of(ns) for ns in dns_view(store)), zones.revision)
        assert zones == full
        _same_index(compiler.compile(zones), compile_zones(full))
    assert revisions == sorted(revisions)
    assert len(walk.instances) > 5 and len(walk.namespaces) > 2  # the walk did build something


def test_a_registry_started_on_a_full_store_sees_it(store: Store) -> None:
    walk = Walk(store, 4)
    for _ in range(100):
        walk.step()
    zones = CloudMapRegistry(store).current()
    assert zones.zones == tuple(zone_of(ns) for ns in dns_view(store))
    assert any(s.instances for z in zones.zones for s in z.services)
