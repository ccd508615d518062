"""The Route 53 prober against real sockets: what counts as a passing TCP, HTTP and HTTPS check.

Each case runs a small asyncio server on loopback that answers as the case
needs; HTTPS uses a certificate from a CA the prober has never seen, issued for
another name: Route 53 does not validate certificates, so the check passes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from pathlib import Path

import pytest

from portside.domain.servicediscovery.health_checks import Result, Target
from portside.proxy.tls import CertificateAuthority
from portside.runtime import route53_health
from portside.runtime.route53_health import Prober

HOST = "127.0.0.1"


def _serve_and_probe(answer: bytes | None, kind: str, path: str = "/",
                     tls: ssl.SSLContext | None = None) -> tuple[Result, list[bytes]]:  # fmt: skip
    """Start a server answering ``answer`` (None: say nothing), probe it once."""
    seen: list[bytes] = []
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        if kind != "TCP":
            seen.append(await reader.readuntil(b"\r\n\r\n"))
        if answer is not None:
            writer.write(answer)
            await writer.drain()
            writer.close()
        else:
            await asyncio.sleep(30)

    async def main() -> Result:
        server = await asyncio.start_server(handle, HOST, 0, ssl=tls)
        port = server.sockets[0].getsockname()[1]
        try:
            return await Prober(limit=2).probe(Target(kind, HOST, port, path, "web.example.com"))
        finally:
            server.close()
            for w in writers:
                w.close()
            await asyncio.sleep(0)

    return asyncio.run(main()), seen


@pytest.mark.parametrize(("status", "ok"), [(200, True), (204, True), (301, True), (399, True),
                                            (404, False), (500, False), (199, False)])
def test_http_passes_on_2xx_and_3xx(status: int, ok: bool) -> None:
    result, seen = _serve_and_probe(f"HTTP/1.1 {status} X\r\n\r\n".encode(), "HTTP", "/healthz")
    assert result.ok is ok
    request = seen[0].decode()
    assert request.startswith("GET /healthz HTTP/1.1\r\n")
    assert "\r\nHost: web.example.com\r\n" in request


def test_http_fails_on_garbage_and_on_silence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not _serve_and_probe(b"hello\r\n", "HTTP")[0].ok
    assert not _serve_and_probe(b"", "HTTP")[0].ok  # closed without a word
    monkeypatch.setattr(route53_health, "HTTP_ANSWER_TIMEOUT", 0.2)
    assert not _serve_and_probe(None, "HTTP")[0].ok


def test_tcp_needs_only_a_connection() -> None:
    assert _serve_and_probe(None, "TCP")[0].ok


def test_refused_fails() -> None:
    async def main() -> Result:
        server = await asyncio.start_server(lambda r, w: None, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        return await Prober().probe(Target("TCP", HOST, port))

    assert not asyncio.run(main()).ok


def test_https_does_not_validate_the_certificate(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    issued = CertificateAuthority.create("nobody's CA", now).issue("elsewhere.invalid", now)
    issued.write(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    result, seen = _serve_and_probe(b"HTTP/1.0 200 OK\r\n\r\n", "HTTPS", tls=tls)
    assert result.ok and seen[0].startswith(b"GET / HTTP/1.1")
    # the same server spoken to in plain HTTP is not a passing check
    plain, _ = _serve_and_probe(b"HTTP/1.0 200 OK\r\n\r\n", "HTTP", tls=tls)
    assert not plain.ok
