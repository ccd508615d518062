"""DNS messages on the hot path: parse a query, assemble a response.

Why not dnslib here: on this machine ``DNSRecord.parse`` of a one-question query
takes ~50 us and ``pack`` of an eight-SRV answer ~320 us, so dnslib alone would
cap the server near 3,000 queries per second against a budget of 50 us per
query. Queries are tiny and regular (RFC 1035 section 4.1: a 12-byte header, one
question, at most one OPT record), so this module reads them directly, and
responses are assembled from records encoded once per registry revision
(:mod:`portside.dns.index`); the only per-query work is choosing records and
writing compression pointers to names already in the message.

Case: lookups use the query name lower-cased (``bytes.lower`` is safe on wire
names: length bytes are below 64, never ASCII letters); the response echoes the
question exactly as sent and points its answers' owner names at it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

# Types and classes (RFC 1035, 3596, 2782, 6891).
A, NS, CNAME, SOA, AAAA, SRV, OPT, AXFR, IXFR, ANY = 1, 2, 5, 6, 28, 33, 41, 252, 251, 255
CLASS_IN, CLASS_ANY = 1, 255
# Response codes.
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, BADVERS = 0, 1, 2, 3, 4, 5, 16

QR, AA, TC, RD, RA, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0010
OPCODE_MASK, DO_BIT = 0x7800, 0x8000
CLASSIC_UDP_LIMIT = 512
TCP_LIMIT = 65535
_MAX_POINTER = 0x3FFF
_HEADER = struct.Struct("!6H")
_QTAIL = struct.Struct("!HH")
_COUNTS = struct.Struct("!5H")  # the header after the id
_OPT_FIXED = struct.Struct("!HHIH")  # type, payload size, ext-rcode/version/flags, rdlength


class Drop(Exception):
    """Not worth an answer: shorter than a header, or itself a response."""


class FormatError(Exception):
    """A readable header around a query we cannot read: answer with the header
    alone and ``rcode`` (FORMERR; NOTIMP for an opcode other than QUERY, whose
    sections, such as UPDATE's, are not laid out like a query's)."""

    def __init__(self, ident: int, flags: int, rcode: int = FORMERR) -> None:
        super().__init__("malformed query")
        self.ident, self.flags, self.rcode = ident, flags, rcode


class Edns(NamedTuple):
    """The client's OPT record (RFC 6891): its UDP payload size, version, DO bit."""

    payload: int
    version: int
    dnssec_ok: bool


class Query(NamedTuple):
    ident: int
    flags: int
    question: bytes  # the question section as sent: name, type, class
    key: bytes  # the query name in wire format, lower-cased
    qtype: int
    qclass: int
    edns: Edns | None


@dataclass(frozen=True, slots=True)
class Rr:
    """One record encoded once: everything after its owner name.

    ``owner`` is a lower-cased wire name; when it is the query name the record
    goes out as ``pointed`` (a pointer to the question, then ``body``).
    ``target`` is the lower-cased name that ends the rdata (SRV, CNAME), so later
    records owned by it can point there; ``extras`` go to the additional section
    with that target as owner (an SRV target's A/AAAA).
    """

    owner: bytes
    body: bytes
    target: bytes = b""
    extras: tuple[Rr, ...] = ()
    pointed: bytes = field(init=False, repr=False, compare=False)
    target_at: int = field(init=False, repr=False, compare=False)  # in ``pointed``
    extra_bodies: tuple[bytes, ...] = field(init=False, repr=False, compare=False)
    extras_size: int = field(init=False, repr=False, compare=False)  # with 2-byte owners

    def __post_init__(self) -> None:
        pointed = b"\xc0\x0c" + self.body
        bodies = tuple(extra.body for extra in self.extras)
        object.__setattr__(self, "pointed", pointed)
        object.__setattr__(self, "target_at", len(pointed) - len(self.target))
        object.__setattr__(self, "extra_bodies", bodies)
        object.__setattr__(self, "extras_size", sum(2 + len(body) for body in bodies))

    @property
    def rtype(self) -> int:
        return int.from_bytes(self.body[:2], "big")


def parse_query(data: bytes) -> Query:
    if len(data) < 12:
        raise Drop
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if flags & QR:
        raise Drop
    if flags & OPCODE_MASK:
        raise FormatError(ident, flags, NOTIMP)
    if qdcount != 1 or ancount or nscount or arcount > 1:
        raise FormatError(ident, flags)
    end = _name_end(data, 12)
    if end < 0 or end + 4 > len(data):
        raise FormatError(ident, flags)
    qtype, qclass = _QTAIL.unpack_from(data, end)
    pos = end + 4
    edns = None
    if arcount:
        edns, pos = _parse_opt(data, pos, ident, flags)
    if pos != len(data):
        raise FormatError(ident, flags)
    return Query(ident, flags, data[12 : end + 4], data[12:end].lower(), qtype, qclass, edns)


def _name_end(data: bytes, pos: int) -> int:
    """Where an uncompressed name starting at ``pos`` ends, or -1 if it is invalid."""
    size = len(data)
    start = pos
    while pos < size:
        length = data[pos]
        if length == 0:
            return pos + 1 if pos + 1 - start <= 255 else -1
        if length > 63:  # a compression pointer cannot point back into a header
            return -1
        pos += length + 1
    return -1


def _parse_opt(data: bytes, pos: int, ident: int, flags: int) -> tuple[Edns, int]:
    if pos + 11 > len(data) or data[pos] != 0:
        raise FormatError(ident, flags)
    rtype, payload, ttl, rdlength = _OPT_FIXED.unpack_from(data, pos + 1)
    if rtype != OPT or pos + 11 + rdlength > len(data):
        raise FormatError(ident, flags)
    return Edns(payload, (ttl >> 16) & 0xFF, bool(ttl & DO_BIT)), pos + 11 + rdlength


def udp_limit(query: Query, server_max: int) -> int:
    """The largest UDP response this client accepts (RFC 6891 section 6.2.5)."""
    if query.edns is None:
        return CLASSIC_UDP_LIMIT
    return max(CLASSIC_UDP_LIMIT, min(query.edns.payload, server_max))


def opt_record(query: Query, server_max: int, rcode: int = NOERROR) -> bytes:
    if query.edns is None:
        return b""
    ttl = ((rcode >> 4) << 24) | (DO_BIT if query.edns.dnssec_ok else 0)
    return b"\x00" + _OPT_FIXED.pack(OPT, server_max, ttl, 0)


def response(
    query: Query,
    rcode: int,
    answer: Sequence[Rr],
    authority: Sequence[Rr],
    limit: int,
    server_max: int,
    flags: int = AA,
) -> bytes:
    """The response to ``query``, at most ``limit`` bytes.

    If answer and authority do not fit, the response carries only the question
    and the TC bit (the client retries over TCP); additional records are added
    while they fit and silently dropped after (RFC 2181 section 9).
    """
    opt = opt_record(query, server_max, rcode) if query.edns else b""
    key, question = query.key, query.question
    names: dict[bytes, int] = {}
    out = [b"", question]
    size = 12 + len(question)
    for section in (answer, authority):
        for rr in section:
            wire = rr.pointed if rr.owner == key else _owner(rr.owner, names, key, size) + rr.body
            out.append(wire)
            target = rr.target
            if target:
                at = size + len(wire) - len(target)
                if at <= _MAX_POINTER and target not in names:
                    names[target] = at
            size += len(wire)
    an, ns, ar = len(answer), len(authority), 0
    budget = limit - len(opt)
    if size > budget:
        flags |= TC
        del out[2:]
        an = ns = 0
    else:
        for rr in answer:
            if rr.extras:
                owner = _owner(rr.target, names, key, _MAX_POINTER + 1)
                need = sum(len(owner) + len(body) for body in rr.extra_bodies)
                if size + need <= budget:  # a target's addresses all, or none
                    out.append(owner + owner.join(rr.extra_bodies))
                    size += need
                    ar += len(rr.extra_bodies)
    if opt:
        out.append(opt)
        ar += 1
    out[0] = _header(query, flags, rcode, 1, an, ns, ar)
    return b"".join(out)


class Template(NamedTuple):
    """What a positive, direct response to one query packet keeps between queries:
    everything but the id and the records chosen."""

    flags: int  # the response's flags word
    question: bytes
    opt: bytes
    limit: int


def template(query: Query, limit: int, server_max: int, flags: int = AA) -> Template:
    word = flags | QR | (query.flags & (OPCODE_MASK | RD | CD))
    opt = opt_record(query, server_max) if query.edns else b""
    return Template(word, query.question, opt, limit)


def direct_response(
    query: Query, answer: Sequence[Rr], limit: int, server_max: int, flags: int = AA
) -> bytes:
    """:func:`response` for the common case: a positive answer, every record owned
    by the query name (one RRset, as :func:`~portside.dns.answer.resolve` marks
    ``direct``). Same bytes, fewer steps."""
    ident = query.ident.to_bytes(2, "big")
    out = assemble(ident, template(query, limit, server_max, flags), answer)
    if out is None:
        return response(query, NOERROR, answer, (), limit, server_max, flags)
    return out


def assemble(ident: bytes, tpl: Template, answer: Sequence[Rr]) -> bytes | None:
    """The direct response from a template, or None if it needs truncating."""
    question, opt, limit = tpl.question, tpl.opt, tpl.limit
    base = 12 + len(question)
    records = b"".join([rr.pointed for rr in answer])
    size = base + len(records) + len(opt)
    if size > limit or size > _MAX_POINTER:
        return None
    out = [b"", question, records]
    ar = 0
    if answer and answer[0].target:
        at = base
        for rr in answer:
            if rr.extra_bodies and size + rr.extras_size <= limit:
                pointer = (0xC000 | (at + rr.target_at)).to_bytes(2, "big")
                out.append(pointer + pointer.join(rr.extra_bodies))
                size += rr.extras_size
                ar += len(rr.extra_bodies)
            at += len(rr.pointed)
    if opt:
        out.append(opt)
        ar += 1
    out[0] = ident + _COUNTS.pack(tpl.flags, 1, len(answer), 0, ar)
    return b"".join(out)


def _owner(owner: bytes, names: dict[bytes, int], key: bytes, offset: int) -> bytes:
    """The owner name as a pointer when it is already in the message."""
    if owner == key:
        return b"\xc0\x0c"
    at = names.get(owner)
    if at is None and key.endswith(owner):
        at = 12 + len(key) - len(owner)
    if at is not None:
        return (0xC000 | at).to_bytes(2, "big")
    if offset <= _MAX_POINTER:
        names[owner] = offset
    return owner


def _header(query: Query, flags: int, rcode: int, qd: int, an: int, ns: int, ar: int) -> bytes:
    flags |= QR | (query.flags & (OPCODE_MASK | RD | CD)) | (rcode & 0xF)
    return _HEADER.pack(query.ident, flags, qd, an, ns, ar)


def error_response(query: Query, rcode: int, server_max: int, flags: int = 0) -> bytes:
    """An empty response with ``rcode`` (REFUSED, NOTIMP, SERVFAIL, BADVERS)."""
    opt = opt_record(query, server_max, rcode)
    return b"".join((_header(query, flags, rcode, 1, 0, 0, 1 if opt else 0), query.question, opt))


def format_error(err: FormatError) -> bytes:
    """FORMERR (or NOTIMP) with no question: the header is all that was read."""
    flags = QR | (err.flags & (OPCODE_MASK | RD | CD)) | err.rcode
    return _HEADER.pack(err.ident, flags, 0, 0, 0, 0)


def relayed(reply: bytes) -> bytes:
    """An upstream's reply as a forwarder passes it on: recursion available, not authoritative."""
    flags = (int.from_bytes(reply[2:4], "big") | RA) & ~AA
    return reply[:2] + flags.to_bytes(2, "big") + reply[4:]


def encode_name(name: str) -> bytes:
    """A domain name in wire format (RFC 1035 section 3.1); ValueError if invalid."""
    text = name.rstrip(".") if name not in (".", "") else ""
    out = bytearray()
    for label in text.split(".") if text else ():
        raw = label.encode("ascii")
        if not 0 < len(raw) <= 63:
            raise ValueError(f"invalid DNS label {label!r} in {name!r}")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > 255:
        raise ValueError(f"DNS name longer than 255 bytes: {name!r}")
    return bytes(out)


def decode_name(wire: bytes) -> str:
    """The text form of an uncompressed wire name, with the trailing dot."""
    labels, pos = [], 0
    while wire[pos]:
        labels.append(wire[pos + 1 : pos + 1 + wire[pos]].decode("ascii", "backslashreplace"))
        pos += 1 + wire[pos]
    return ".".join(labels) + "."
