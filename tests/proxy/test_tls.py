"""mTLS between two proxies: a portside CA, encryption on the wire, refusal, rotation."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509

from portside.proxy.config import (
    AppProtocol,
    Direction,
    Endpoint,
    ListenerConfig,
    ProxyConfig,
    TlsConfig,
)
from portside.proxy.server import Proxy
from portside.proxy.tls import MAX_VALIDITY, CertificateAuthority, client_context, rotation_due
from tests.proxy.rig import backends, running, upstream

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
SECRET = b"the-plaintext-that-must-not-leak-" * 20


def test_certificates_are_short_lived_and_chain_to_the_ca() -> None:
    ca = CertificateAuthority.create("portside test CA", NOW)
    issued = ca.issue("api.local", NOW, names=("api",))
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    cert.verify_directly_issued_by(ca.cert)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == MAX_VALIDITY == dt.timedelta(7)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["api.local", "api"]
    assert not rotation_due(issued.cert_pem, NOW + dt.timedelta(days=4, hours=23))
    assert rotation_due(issued.cert_pem, NOW + dt.timedelta(days=5))
    with pytest.raises(ValueError, match="at most"):
        ca.issue("api", NOW, validity=dt.timedelta(days=8))
    other = CertificateAuthority.create("another CA", NOW)
    with pytest.raises(Exception):  # noqa: B017 — cryptography's InvalidSignature or ValueError
        cert.verify_directly_issued_by(other.cert)


def tls_files(
    tmp: Path, ca: CertificateAuthority, service: str, *, trust: CertificateAuthority | None = None
) -> TlsConfig:
    """Issue ``service`` a certificate from ``ca``; trust ``trust`` (default: ``ca``)."""
    issued = ca.issue(service, dt.datetime.now(dt.UTC))
    base = tmp / f"{service}-{id(ca)}"
    (base.parent / f"{base.name}.ca").write_bytes((trust or ca).cert_pem)
    issued.write(f"{base}.crt", f"{base}.key")
    return TlsConfig(ca_file=f"{base}.ca", cert_file=f"{base}.crt", key_file=f"{base}.key")


class Relay:
    """A TCP hop between the proxies that records every byte it carries."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.captured = bytearray()
        self.connections = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                self.captured += data
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers += [writer, up_writer]
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Endpoint]:
        def spawn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            task = asyncio.ensure_future(self._serve(r, w))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        server = await asyncio.start_server(spawn, "127.0.0.7", 0)
        try:
            yield Endpoint("127.0.0.7", server.sockets[0].getsockname()[1])
        finally:
            server.close()
            for w in self._writers:
                w.transport.abort()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()


def server_side(app: Endpoint, tls: TlsConfig) -> ProxyConfig:
    """The api task's proxy: an inbound mTLS listener in front of the application."""
    local = upstream("api-app")
    inbound = ListenerConfig(
        name="inbound", upstream="api-app", port=0, address="127.0.0.5",
        direction=Direction.INBOUND, tls=tls,
    )  # fmt: skip
    return ProxyConfig(upstreams=(local,), listeners=(inbound,), endpoints={"api-app": (app,)})


def client_side(target: Endpoint, tls: TlsConfig) -> ProxyConfig:
    """A client task's proxy: the alias ``api:80`` over mTLS to the api task."""
    up = upstream("api", tls=TlsConfig(tls.ca_file, tls.cert_file, tls.key_file, server_name="api"))
    return ProxyConfig(
        upstreams=(up,),
        listeners=(ListenerConfig(name="api:80", upstream="api", port=0),),
        endpoints={"api": (target,)},
    )


async def _post(proxy: Proxy, body: bytes) -> tuple[int, bytes]:
    host, port = proxy.address("api:80")
    async with aiohttp.ClientSession() as s, s.post(f"http://{host}:{port}/echo", data=body) as r:
        return r.status, await r.read()


async def test_mtls_between_proxies_encrypts_and_refuses_other_authorities(tmp_path: Path) -> None:
    ca = CertificateAuthority.create("portside", NOW)
    rogue = CertificateAuthority.create("rogue", NOW)
    async with (
        backends(1) as (app,),
        running(server_side(app.endpoint, tls_files(tmp_path, ca, "api"))) as b,
    ):
        relay = Relay(b.address("inbound"))
        async with relay.running() as hop:
            async with running(client_side(hop, tls_files(tmp_path, ca, "web"))) as a:
                assert await _post(a, SECRET) == (200, SECRET)
                assert relay.captured[:1] == b"\x16"  # a TLS handshake record
                assert len(relay.captured) > 2 * len(SECRET)
                assert b"plaintext" not in relay.captured and b"/echo" not in relay.captured
                assert b"x-backend" not in relay.captured
            # a client whose certificate comes from another CA (even one trusting ours)
            impostor = tls_files(tmp_path, rogue, "web", trust=ca)
            async with running(client_side(hop, impostor)) as a2:
                status, _ = await _post(a2, SECRET)
                assert status == 503
            # a client that trusts only another CA refuses the api task's certificate
            async with running(client_side(hop, tls_files(tmp_path, rogue, "web2"))) as a3:
                status, _ = await _post(a3, SECRET)
                assert status == 503
                assert a3.metrics.endpoint("api", hop.key).connect_failures >= 1
        assert app.requests == 1  # only the genuine client got through


async def test_rotation_keeps_connections_and_new_ones_use_the_new_certificate(
    tmp_path: Path,
) -> None:
    ca = CertificateAuthority.create("portside", NOW)
    server_tls = tls_files(tmp_path, ca, "api")
    client_tls = tls_files(tmp_path, ca, "web")
    async with backends(1) as (app,), running(server_side(app.endpoint, server_tls)) as b:
        relay = Relay(b.address("inbound"))
        async with relay.running() as hop, running(client_side(hop, client_tls)) as a:
            assert (await _post(a, b"one"))[0] == 200
            before = await asyncio.to_thread(_peer_serial, b.address("inbound"), client_tls)
            fresh = ca.issue("api", dt.datetime.now(dt.UTC))
            fresh.write(server_tls.cert_file, server_tls.key_file)
            assert b.refresh_tls() == 1
            assert (await _post(a, b"two"))[0] == 200  # the pooled connection lives on
            assert relay.connections == 1
            after = await asyncio.to_thread(_peer_serial, b.address("inbound"), client_tls)
            assert after == fresh.serial != before


def _peer_serial(address: tuple[str, int], tls: TlsConfig) -> int:
    import socket

    ctx: ssl.SSLContext = client_context(tls)
    with socket.create_connection(address) as raw, ctx.wrap_socket(raw, server_hostname="api") as s:
        der = s.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der).serial_number


async def test_tcp_over_tls_ends_when_the_server_closes(tmp_path: Path) -> None:
    """TLS cannot carry a half-close: a client's FIN is held back (its answer follows) and the
    server's FIN closes the client's side once the answer is through (busybox httpd and nc)."""
    ca = CertificateAuthority.create("portside", NOW)

    async def answer_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        writer.write(b"answer to " + line)
        await writer.drain()
        writer.close()

    app = await asyncio.start_server(answer_and_close, "127.0.0.6", 0)
    app_port = app.sockets[0].getsockname()[1]
    server_tls, client_tls = tls_files(tmp_path, ca, "api"), tls_files(tmp_path, ca, "web")
    inbound = ListenerConfig(name="inbound", upstream="api-app", port=0, address="127.0.0.5",
                             direction=Direction.INBOUND, tls=server_tls)
    server = ProxyConfig(upstreams=(upstream("api-app", protocol=AppProtocol.TCP),),
                         listeners=(inbound,),
                         endpoints={"api-app": (Endpoint("127.0.0.6", app_port),)})
    try:
        async with running(server) as b:
            host, port = b.address("inbound")
            tls = TlsConfig(client_tls.ca_file, client_tls.cert_file, client_tls.key_file, "api")
            client = ProxyConfig(
                upstreams=(upstream("api", protocol=AppProtocol.TCP, tls=tls),),
                listeners=(ListenerConfig(name="api:80", upstream="api", port=0),),
                endpoints={"api": (Endpoint(host, port),)},
            )
            async with running(client) as a:
                reader, writer = await asyncio.open_connection(*a.address("api:80"))
                writer.write(b"question\n")
                writer.write_eof()  # like nc when its stdin ends, before the answer
                async with asyncio.timeout(30):  # a guard against a hang, not a measurement
                    assert await reader.read() == b"answer to question\n"  # then EOF
                writer.close()
    finally:
        app.close()
        await app.wait_closed()
