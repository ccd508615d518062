"""Service Connect TLS for real: proxies talk mTLS, the wire shows no plaintext, strangers are refused.

One process agent runs an ``api`` service of two tasks whose Service Connect
port has ``tls`` (portside's authority standing in for AWS Private CA) and a
client-only service calling ``http://api:8080/<secret path>`` by its alias.
While it runs, an AF_PACKET socket on ``lo`` (root) records every TCP payload
on the machine's loopback: between the client's proxy and the api tasks'
proxies (the TLS ingress port, set apart for this test) the bytes are TLS records and
neither the request path nor the answer appears, while on the applications'
own port 8080 (application to proxy, proxy to application) both do — the
capture sees them when they are there. Then a client presenting a certificate
from another authority is refused by an api task's inbound listener, and the
same request with the client task's own certificate is answered.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import ssl
import struct
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.e2e.service_connect_rig import NETWORK, container_lines, mesh, task_definition
from tests.e2e.service_connect_rig import lines as read_lines
from tests.helpers import unique, until

pytestmark = pytest.mark.slow
linux_root = pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0,
    reason="aliases resolve through a private hosts file and the capture needs a raw socket: "
    "Linux and root",
)

SECRET_PATH = "/the-secret-path-" + unique("p")
SECRET_ANSWER = "the-secret-answer-" + unique("a")
ROTATE_VALIDITY = 21
# The TLS ingress port (ingressPortOverride): one no other test uses, so the loopback
# capture sees this test's traffic only when other Service Connect tests run beside it.
TLS_PORT = 15887

# Answers GET <SECRET_PATH> with SECRET_ANSWER and its own task's metadata URI.
API = (
    "import http.server, os\n"
    f"answer = ({SECRET_ANSWER!r} + ' ' + os.environ['ECS_CONTAINER_METADATA_URI_V4']).encode()\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def do_GET(self):\n"
    f"        ok = self.path == {SECRET_PATH!r}\n"
    "        body = answer if ok else b'wrong path'\n"
    "        self.send_response(200 if ok else 404)\n"
    "        self.send_header('Content-Length', str(len(body))); self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def log_message(self, *a): pass\n"
    "address = (os.environ['PORTSIDE_ADDRESS'], int(os.environ['PORTSIDE_PORT_8080']))\n"
    "http.server.ThreadingHTTPServer(address, H).serve_forever()\n"
)

CLIENT = (
    "import sys, time, urllib.request\n"
    "out = open(sys.argv[1], 'a', buffering=1)\n"
    "while True:\n"
    "    try:\n"
    f"        with urllib.request.urlopen('http://api:8080{SECRET_PATH}', timeout=30) as r:\n"
    "            out.write('ok ' + r.read().decode() + '\\n')\n"
    "    except Exception as e:\n"
    "        out.write('error ' + repr(e).replace('\\n', ' ') + '\\n')\n"
    "    time.sleep(0.02)\n"
)


class Capture:
    """Every TCP payload on ``lo`` (or on every interface), by port: an AF_PACKET socket."""

    def __init__(self, interface: str | None = "lo") -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        if interface is not None:
            self.sock.bind((interface, 0))
        self.sock.settimeout(0.2)
        self.by_port: dict[int, bytearray] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Capture:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def payload(self, port: int) -> bytes:
        return bytes(self.by_port.get(port, b""))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame, where = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            if where[2] == socket.PACKET_OUTGOING:
                continue  # a packet shows up leaving and arriving: keep the arriving copy
            if frame[12:14] != b"\x08\x00":
                continue  # not IPv4 (lo frames carry a zero Ethernet header with the type)
            ip = frame[14:]
            if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
                continue
            tcp = ip[(ip[0] & 0x0F) * 4:]
            sport, dport = struct.unpack("!HH", tcp[:4])
            data = tcp[(tcp[12] >> 4) * 4:]
            if data:
                for port in {sport, dport}:
                    self.by_port.setdefault(port, bytearray()).extend(data)


def _api_addresses(sd: Any, namespace: str) -> list[tuple[str, int]]:
    ns = next(n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == namespace)
    services = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns["Id"]]}])
    svc = next((s for s in services["Services"] if s["Name"] == "api"), None)
    if svc is None:
        return []
    return [(i["Attributes"]["AWS_INSTANCE_IPV4"], int(i["Attributes"]["AWS_INSTANCE_PORT"]))
            for i in sd.list_instances(ServiceId=svc["Id"])["Instances"]]


def _call(address: tuple[str, int], ca: Path, cert: Path, key: Path) -> bytes:
    """GET SECRET_PATH over mTLS, trusting ``ca`` and presenting ``cert``; the raw answer."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.load_cert_chain(str(cert), str(key))
    with socket.create_connection(address, timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="api") as tls:
        tls.sendall(f"GET {SECRET_PATH} HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n"
                    .encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        return answer


def _serial(address: tuple[str, int], tls_dir: Path) -> int | None:
    """The serial of the certificate an api task's inbound listener presents now."""
    ctx = ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))
    try:
        ctx.load_cert_chain(str(tls_dir / "cert.pem"), str(tls_dir / "key.pem"))
        with socket.create_connection(address, timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname="api") as tls:
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLError:
        return None  # our own files were being replaced (key and certificate disagree)
    assert der is not None
    return int(x509.load_der_x509_certificate(der).serial_number)


def check_peer_certificates(tmp_path: Path, ecs: Any, address: tuple[str, int]) -> Path:
    """A raw mTLS request to an api task's inbound listener at ``address``: answered with
    the client task's own certificate, refused with one from another authority. Returns
    the client task's certificate directory."""
    from portside.proxy.tls import CertificateAuthority

    (client_task,) = ecs.list_tasks(cluster="default", serviceName="client")["taskArns"]
    (tls_dir,) = tmp_path.glob(f"**/service-connect/{client_task.rsplit('/', 1)[-1]}/tls")
    answer = _call(address, tls_dir / "ca.pem", tls_dir / "cert.pem", tls_dir / "key.pem")
    assert answer.startswith(b"HTTP/1.1 200") and SECRET_ANSWER.encode() in answer

    now = dt.datetime.now(dt.UTC)
    issued = CertificateAuthority.create("rogue", now).issue("client", now)
    issued.write(str(tmp_path / "rogue.crt"), str(tmp_path / "rogue.key"))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        refused = _call(address, tls_dir / "ca.pem", tmp_path / "rogue.crt",
                        tmp_path / "rogue.key")
        assert refused == b""  # TLS 1.3: the refusal may arrive as a closed stream
        raise ConnectionError("closed without an answer")
    return Path(tls_dir)


def _upstream_connections(admin: Path) -> int:
    """Connections the client task's proxy opened to api endpoints (its Prometheus text)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(admin))
        s.sendall(b"GET /metrics HTTP/1.0\r\nHost: proxy\r\n\r\n")
        text = b""
        while chunk := s.recv(65536):
            text += chunk
    prefix = 'portside_proxy_endpoint_connections_total{service="api",'
    return sum(int(line.rsplit(" ", 1)[1]) for line in text.decode().splitlines()
               if line.startswith(prefix))


@linux_root
def test_tls_between_proxies_encrypts_and_refuses_another_authority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    # Certificates valid 21 s, so rotated every 15 s (5/7 of it) while the test watches.
    monkeypatch.setenv("PORTSIDE_SERVICE_CONNECT_CERT_VALIDITY", str(ROTATE_VALIDITY))
    with mesh(tmp_path, "process") as m:
        ecs, sd, namespace = m.ecs, m.sd, m.namespace
        network = NETWORK
        pca = "arn:aws:acm-pca:us-east-1:000000000000:certificate-authority/portside-test"
        api = task_definition(ecs, [API], [
            {"name": "api", "containerPort": 8080, "appProtocol": "http"}])
        ecs.create_service(
            cluster="default", serviceName="api", taskDefinition=api, desiredCount=2,
            networkConfiguration=network,
            serviceConnectConfiguration={"enabled": True, "namespace": namespace, "services": [
                {"portName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}],
                 "ingressPortOverride": TLS_PORT,
                 "tls": {"issuerCertificateAuthority": {"awsPcaAuthorityArn": pca}}}]},
        )
        until(lambda: len(_api_addresses(sd, namespace)) == 2, timeout=90)
        # Callers reach a TLS port through its proxies' mTLS listener, not the application.
        assert {port for _, port in _api_addresses(sd, namespace)} == {TLS_PORT}

        answers = tmp_path / "answers.txt"
        client = task_definition(ecs, [CLIENT, str(answers)], [])
        with Capture() as capture:
            ecs.create_service(
                cluster="default", serviceName="client", taskDefinition=client, desiredCount=1,
                networkConfiguration=network,
                serviceConnectConfiguration={"enabled": True, "namespace": namespace},
            )
            until(lambda: len(read_lines(answers)) >= 40, timeout=90)
        lines = read_lines(answers)
        assert [x for x in lines if not x.startswith("ok ")] == []
        assert all(SECRET_ANSWER in x for x in lines)
        assert len({x.rsplit(" ", 1)[-1] for x in lines}) == 2  # both api tasks answered

        between_proxies = capture.payload(TLS_PORT)
        assert len(between_proxies) > 40 * len(SECRET_ANSWER)  # the traffic went this way
        assert between_proxies[:1] == b"\x16"  # it opens with a TLS handshake record
        assert SECRET_ANSWER.encode() not in between_proxies
        assert SECRET_PATH.encode() not in between_proxies
        assert b"HTTP/1.1" not in between_proxies
        beside_apps = capture.payload(8080)  # application <-> its own proxy: plaintext
        assert SECRET_PATH.encode() in beside_apps and SECRET_ANSWER.encode() in beside_apps

        # A client with a certificate from another authority is refused by the inbound
        # listener; with the client task's own certificate the same request is answered.
        address = _api_addresses(sd, namespace)[0]
        tls_dir = check_peer_certificates(tmp_path, ecs, address)
        # The agent keeps the tasks' private keys in their proxies' 0600 files only.
        holders = [f for f in (tmp_path / "agents").glob("**/*")
                   if f.is_file() and b"PRIVATE KEY" in f.read_bytes()]
        assert holders and all(f.relative_to(f.parents[1]) == Path("tls/key.pem")
                               for f in holders), holders
        assert all(f.stat().st_mode & 0o077 == 0 for f in holders)

        # Rotation: twice the api tasks' proxies present a new certificate; the stream of
        # requests sees no error and the pooled connections between the proxies stay.
        client_dir = tls_dir.parent
        admin = next(iter(client_dir.glob("admin.sock")), None) or Path(
            tempfile.gettempdir()) / f"portside-sc-{client_dir.name[:16]}.sock"
        opened, before = _upstream_connections(admin), len(read_lines(answers))
        assert 1 <= opened <= 4, opened  # pooled: not one per request
        serials = [until(lambda: _serial(address, tls_dir))]
        for _ in range(2):
            serials.append(until(lambda: (s := _serial(address, tls_dir)) not in (None, *serials)
                                 and s, timeout=3 * ROTATE_VALIDITY))
        until(lambda: len(read_lines(answers)) >= before + 100, timeout=60)
        lines = read_lines(answers)
        assert [x for x in lines if not x.startswith("ok ")] == []
        assert _upstream_connections(admin) == opened

        # Nor does plaintext get an answer on the TLS port.
        with socket.create_connection(address, timeout=10) as plain:
            plain.sendall(f"GET {SECRET_PATH} HTTP/1.1\r\nHost: api\r\n\r\n".encode())
            plain.settimeout(10)
            try:
                reply = plain.recv(65536)
            except ConnectionError:
                reply = b""
            assert SECRET_ANSWER.encode() not in reply and not reply.startswith(b"HTTP/1.1 200")



# busybox: httpd answering /cgi-bin/<secret> with the secret answer and the container's hostname
BUSYBOX_API = (
    "mkdir -p /www/cgi-bin && "
    f"printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho {SECRET_ANSWER} "
    f"$(hostname)\\n' > /www/cgi-bin/{SECRET_PATH.strip('/')} && "
    f"chmod +x /www/cgi-bin/{SECRET_PATH.strip('/')} && exec httpd -f -p 8080 -h /www"
)
# busybox: one HTTP/1.0 request per connection through nc; "ok ANSWER HOSTNAME" or "error".
BUSYBOX_CLIENT = (
    "while true; do "
    f"r=$( (printf 'GET /cgi-bin{SECRET_PATH} HTTP/1.0\\r\\n\\r\\n'; sleep 0.2) "
    "| nc api 8080 | tail -n 1); "
    "if [ -n \"$r\" ]; then echo \"ok $r\"; else echo error; fi; sleep 0.05; done"
)


@linux_root
@pytest.mark.docker
def test_tls_between_docker_task_proxies(tmp_path: Path) -> None:
    """The same with Docker awsvpc tasks (plain TCP port: busybox httpd's CGI answers are
    close-delimited); the capture listens on every interface (the task network's bridge)."""
    from tests.agent.e2e import needs_docker
    from tests.support.images import ensure_busybox_image

    needs_docker()
    import docker

    image = ensure_busybox_image()
    with contextlib.closing(docker.from_env(timeout=30)) as engine, mesh(tmp_path, "docker") as m:
        ecs, sd, namespace = m.ecs, m.sd, m.namespace
        network = NETWORK

        def busybox(script: str, ports: list[dict[str, Any]]) -> str:
            family = unique("sctls")
            ecs.register_task_definition(
                family=family, networkMode="awsvpc", cpu="256", memory="128",
                containerDefinitions=[{
                    "name": "app", "image": image, "essential": True, "memory": 64,
                    "command": ["sh", "-c", script], "portMappings": ports,
                }],
            )
            return family

        pca = "arn:aws:acm-pca:us-east-1:000000000000:certificate-authority/portside-test"
        ecs.create_service(
            cluster="default", serviceName="api", desiredCount=2, networkConfiguration=network,
            taskDefinition=busybox(BUSYBOX_API, [{"name": "api", "containerPort": 8080}]),
            serviceConnectConfiguration={"enabled": True, "namespace": namespace, "services": [
                {"portName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}],
                 "ingressPortOverride": TLS_PORT,
                 "tls": {"issuerCertificateAuthority": {"awsPcaAuthorityArn": pca}}}]},
        )
        until(lambda: len(_api_addresses(sd, namespace)) == 2, timeout=90)
        assert {port for _, port in _api_addresses(sd, namespace)} == {TLS_PORT}
        with Capture(None) as capture:
            ecs.create_service(
                cluster="default", serviceName="client", desiredCount=1,
                networkConfiguration=network, taskDefinition=busybox(BUSYBOX_CLIENT, []),
                serviceConnectConfiguration={"enabled": True, "namespace": namespace},
            )
            (client_task,) = until(lambda: ecs.list_tasks(
                cluster="default", serviceName="client")["taskArns"], timeout=60)

            def output() -> list[str]:
                return container_lines(engine, client_task)

            try:
                until(lambda: len(output()) >= 30, timeout=90)
            except AssertionError:
                logs = [f.read_text()[-2000:] for f in tmp_path.glob("**/proxy.log")]
                raise AssertionError((output()[-10:], logs)) from None
        lines = output()
        assert [x for x in lines if not x.startswith("ok ")] == []
        assert all(SECRET_ANSWER in x for x in lines)
        assert len({x.rsplit(" ", 1)[-1] for x in lines}) == 2  # both api tasks answered
        between_proxies = capture.payload(TLS_PORT)
        assert len(between_proxies) > 30 * len(SECRET_ANSWER)
        assert between_proxies[:1] == b"\x16"
        assert SECRET_ANSWER.encode() not in between_proxies
        assert SECRET_PATH.encode() not in between_proxies
