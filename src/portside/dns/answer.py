"""The resolver: (compiled zones, name, type, rng) -> records and a response code.

Route 53 semantics for the records Cloud Map creates:

- MULTIVALUE: up to eight healthy records, a random subset in random order;
  when none is healthy, up to eight unhealthy ones ("When all records are
  unhealthy, Route 53 responds to DNS queries with up to eight unhealthy
  records").
- WEIGHTED: one record, picked at random among the healthy ones, or among all
  when none is healthy (Cloud Map gives every record the same weight).
- A name with records, but none of the queried type: NOERROR with no answer and
  the zone's SOA in the authority section (NODATA, RFC 2308); a name that does
  not exist in a zone: NXDOMAIN with the SOA; a name in no zone: ``outside``,
  which the server refuses or forwards.
- A CNAME answers every type; a target in one of the zones is followed (up to
  eight links) and the code is that of the last name (RFC 6604).

Pure: no clock, no I/O; randomness comes from the ``rng`` argument.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple

from portside.dns import wire
from portside.dns.index import Index, Node, Policy, RrSet, ZoneData, compile_zones
from portside.dns.zone import Zones

MULTIVALUE_LIMIT = 8
MAX_CNAME_CHAIN = 8


class Resolution(NamedTuple):
    rcode: int
    answer: Sequence[wire.Rr]
    authority: tuple[wire.Rr, ...] = ()
    outside: bool = False  # the name is in none of the zones
    direct: RrSet | None = None  # the one RRset, owned by the query name: the fast path


OUTSIDE = Resolution(wire.REFUSED, [], (), True)


def resolve(index: Index, key: bytes, qtype: int, rng: random.Random) -> Resolution:
    """Answer ``qtype`` at ``key`` (a lower-cased wire name)."""
    node = index.nodes.get(key)
    if node is None:
        return _missing(index, key, [])
    rrset = node.rrsets.get(qtype)
    if rrset is not None:  # the common case, first
        return Resolution(wire.NOERROR, choose(rrset, rng), (), False, rrset)
    if qtype == wire.ANY:
        every = [rr for rrset in node.rrsets.values() for rr in choose(rrset, rng)]
        return Resolution(wire.NOERROR, every, () if every else node.zone.negative)
    answer: list[wire.Rr] = []
    for _ in range(MAX_CNAME_CHAIN):
        cname = node.rrsets.get(wire.CNAME)
        if cname is None:
            return Resolution(wire.NOERROR, answer, node.zone.negative)
        link = choose(cname, rng)
        answer += link
        next_node: Node | None = index.nodes.get(link[0].target)
        if next_node is None:
            return _missing(index, link[0].target, answer)
        node = next_node
        rrset = node.rrsets.get(qtype)
        if rrset is not None:
            answer += choose(rrset, rng)
            return Resolution(wire.NOERROR, answer)
    return Resolution(wire.SERVFAIL, [])


def _missing(index: Index, key: bytes, answer: list[wire.Rr]) -> Resolution:
    zone: ZoneData | None = index.zone_of(key)
    if zone is None:
        return Resolution(wire.NOERROR, answer) if answer else OUTSIDE
    return Resolution(wire.NXDOMAIN, answer, zone.negative)


def choose(rrset: RrSet, rng: random.Random) -> Sequence[wire.Rr]:
    """The records a routing policy puts in one answer."""
    pool = rrset.healthy or rrset.unhealthy
    policy = rrset.policy
    if policy is Policy.ALL:
        return pool
    size = len(pool)
    rnd = rng.random
    if policy is Policy.WEIGHTED:
        return (pool[int(rnd() * size)],)
    if size > _SPARSE:  # a few distinct indices out of many: rejection is cheapest
        picked: dict[int, wire.Rr] = {}
        while len(picked) < MULTIVALUE_LIMIT:
            at = int(rnd() * size)
            if at not in picked:
                picked[at] = pool[at]
        return list(picked.values())
    chosen = list(pool)  # partial Fisher-Yates: a uniform random k-permutation
    count = min(size, MULTIVALUE_LIMIT)
    for i in range(min(count, size - 1)):
        j = i + int(rnd() * (size - i))
        chosen[i], chosen[j] = chosen[j], chosen[i]
    del chosen[count:]
    return chosen


_SPARSE = 4 * MULTIVALUE_LIMIT


def answer(zones: Zones, name: str, qtype: int, rng: random.Random) -> Resolution:
    """:func:`resolve` for a text name; compiles ``zones`` (the last one is kept)."""
    cached = _last.get("zones")
    if cached is None or cached[0] is not zones:
        cached = _last["zones"] = (zones, compile_zones(zones))
    return resolve(cached[1], wire.encode_name(name).lower(), qtype, rng)


_last: dict[str, tuple[Zones, Index]] = {}
