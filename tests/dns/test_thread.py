"""DnsThread: the server on a thread and event loop of its own (as ``portside up`` runs it)."""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.query
import pytest

from portside.dns.server import DnsSettings
from portside.dns.thread import DnsThread
from portside.dns.zone import RecordType, StaticRegistry, Zone
from tests.dns.conftest import HOST, instances, service, values


def _ask(port: int, name: str) -> list[str]:
    reply = dns.query.udp(dns.message.make_query(name, "A"), HOST, port=port, timeout=10)
    return values(reply)


def _dns_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "portside-dns"]


def test_serves_from_its_own_thread_and_sees_each_new_revision() -> None:
    registry = StaticRegistry((Zone("corp.local", (service("api", RecordType.A,
                                                          instances=instances(1)),)),))
    server = DnsThread(registry, DnsSettings(host=HOST, port=0)).start()
    try:
        assert _dns_threads()
        assert _ask(server.port, "api.corp.local") == ["10.0.0.1"]
        registry.publish((Zone("corp.local", (service("api", RecordType.A,
                                                      instances=instances(2, first=5)),)),))
        assert sorted(_ask(server.port, "api.corp.local")) == ["10.0.0.5", "10.0.0.6"]
    finally:
        server.stop()
    assert not _dns_threads()


# uvloop leaves its transport object unclosed when the bind fails (reported at its
# deallocation); the socket itself was never bound.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_port_in_use_raises_and_leaves_no_thread() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind((HOST, 0))
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            DnsThread(StaticRegistry(), DnsSettings(host=HOST, port=port)).start()
    assert not _dns_threads()
