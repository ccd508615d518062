"""``portside up --dns-upstream``: names outside the Cloud Map zones go to a real upstream.

The upstream is a tiny dnspython server on loopback, started by the test: it
answers one name and records every question it gets, so the test sees both
what the client got and what reached the upstream (names in portside's own
zones must not).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rrset
import pytest

from tests.helpers import Server, unique

HOST = "127.0.0.1"


class Upstream:
    """A UDP resolver for ``outside.test`` (A 192.0.2.7); other names are NXDOMAIN."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.questions: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            name = query.question[0].name.to_text()
            self.questions.append(name)
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.RA
            if name == "outside.test.":
                reply.answer.append(dns.rrset.from_text(name, 30, "IN", "A", "192.0.2.7"))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), addr)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    yield up
    up.close()


def _ask(port: int, name: str) -> dns.message.Message:
    # generous: a forwarded question first waits out the dead upstream (2 s), and the server
    # is another process on a loaded machine
    return dns.query.udp(dns.message.make_query(name, "A"), HOST, port=port, timeout=15)


def test_up_forwards_outside_names_to_its_upstream(tmp_path: Path, upstream: Upstream) -> None:
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    dead.bind((HOST, 0))
    server = Server(data_dir=tmp_path, extra_args=[
        "--dns-upstream", f"{HOST}:{dead.getsockname()[1]}",
        "--dns-upstream", f"{HOST}:{upstream.port}",
    ]).start()
    try:
        port = server.dns_port
        reply = _ask(port, "outside.test")
        assert reply.rcode() == dns.rcode.NOERROR
        assert [r.address for rrset in reply.answer for r in rrset] == ["192.0.2.7"]
        assert reply.flags & dns.flags.RA and not reply.flags & dns.flags.AA
        assert _ask(port, "missing.test").rcode() == dns.rcode.NXDOMAIN  # the upstream's word

        sd = server.client("servicediscovery")
        zone = f"{unique('z')}.local"
        sd.create_private_dns_namespace(Name=zone, Vpc="vpc-1")
        ours = _ask(port, f"nothing.{zone}")
        assert ours.rcode() == dns.rcode.NXDOMAIN and ours.flags & dns.flags.AA
        assert upstream.questions == ["outside.test.", "missing.test."]  # our zone stayed ours
        assert "dns forwards other names to" in server.log()
    finally:
        server.stop()
        dead.close()


def test_without_upstream_outside_names_are_refused(tmp_path: Path) -> None:
    server = Server(data_dir=tmp_path).start()
    try:
        reply = _ask(server.dns_port, "outside.test")
        assert reply.rcode() == dns.rcode.REFUSED
        assert not reply.flags & dns.flags.RA
    finally:
        server.stop()


@pytest.mark.parametrize("bad", ["127.0.0.1:99999", "127.0.0.1:x", ":53", "[::1]x"])
def test_a_bad_upstream_stops_up_with_a_usage_error(tmp_path: Path, bad: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "portside.cli.main", "up", "--no-agent", "--port", "0",
         "--data-dir", str(tmp_path), "--dns-upstream", bad],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "--dns-upstream" in done.stderr
