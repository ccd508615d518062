"""The hand-written wire codec: names, the fast path, and dnspython's reading of both."""

from __future__ import annotations

import dns.flags
import dns.message
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portside.dns import wire
from portside.dns.index import compile_zones
from portside.dns.zone import Instance, RecordType, Zone, Zones
from tests.dns.conftest import service

TASKS = tuple(
    Instance(f"{n:032x}", ipv4=f"10.0.0.{n}", ipv6=f"fd00::{n:x}" if n % 2 else None, port=n)
    for n in range(1, 13)
)
INDEX = compile_zones(
    Zones(
        (Zone("corp.local", (service("api", RecordType.A, RecordType.SRV, instances=TASKS),)),), 1
    )
)
KEY = wire.encode_name("api.corp.local")
SRVS = INDEX.nodes[KEY].rrsets[wire.SRV].healthy


def query(edns: int | None, name: str = "Api.Corp.Local") -> wire.Query:
    if edns is None:
        msg = dns.message.make_query(name, "SRV")
    else:
        msg = dns.message.make_query(name, "SRV", use_edns=0, payload=edns)
    return wire.parse_query(msg.to_wire())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(range(len(SRVS))), min_size=1, max_size=8, unique=True),
    st.sampled_from([None, 512, 700, 1232, 4096]),
    st.sampled_from([512, 600, 900, 1232, 65535]),
)
def test_the_fast_path_writes_the_same_bytes_as_the_general_one(
    picks: list[int], edns: int | None, limit: int
) -> None:
    q = query(edns)
    records = [SRVS[i] for i in picks]
    fast = wire.direct_response(q, records, limit, 1232)
    slow = wire.response(q, wire.NOERROR, records, (), limit, 1232)
    assert fast == slow
    assert len(fast) <= limit
    reply = dns.message.from_wire(fast)
    if not reply.flags & dns.flags.TC:
        assert len(reply.answer[0]) == len(picks)
        for rrset in reply.additional:
            assert str(rrset.name).lower().endswith(".api.corp.local.")


def test_names_encode_and_decode() -> None:
    assert wire.encode_name("a.b.") == b"\x01a\x01b\x00"
    assert wire.encode_name("a.b") == b"\x01a\x01b\x00"
    assert wire.encode_name(".") == b"\x00"
    assert wire.decode_name(b"\x03api\x04corp\x00") == "api.corp."
    for bad in ("a..b", "x" * 64 + ".local", ".".join(["x" * 63] * 4), "caf\u00e9.local"):
        with pytest.raises(ValueError):
            wire.encode_name(bad)


def test_the_query_is_read_with_its_case_and_edns() -> None:
    q = query(1232)
    assert q.key == KEY
    assert q.question.startswith(b"\x03Api\x04Corp\x05Local\x00")
    assert q.qtype == wire.SRV and q.qclass == wire.CLASS_IN
    assert q.edns == wire.Edns(1232, 0, False)
    assert wire.udp_limit(q, 1232) == 1232
    assert wire.udp_limit(query(None), 1232) == 512
    assert wire.udp_limit(query(4096), 1232) == 1232
