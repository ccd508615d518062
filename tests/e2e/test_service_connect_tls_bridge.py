"""Service Connect TLS in the bridge mode for real (process driver): mTLS on the ingress host port.

One process agent runs a bridge ``api`` service of two tasks whose Service
Connect port has ``tls``; each task's proxy binds its inbound listener on an
ephemeral host port, reported as a binding and registered in Cloud Map (as
without TLS, tests/e2e/test_service_connect_bridge_ingress.py), and that
listener takes mTLS. A bridge client-only service calls ``http://api:8080/<secret
path>`` by its alias: its proxy speaks TLS to those host ports. An AF_PACKET
socket on ``lo`` records the payloads: on the registered host ports (ephemeral,
so no other test's traffic is there while they are held) the bytes are TLS
records without the path or the answer, while on the application's own host
port, behind the proxy, both appear. Then a raw TLS connection to a registered
host port with a certificate from another authority is refused, and with the
client task's own certificate it is answered.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e.service_connect_rig import lines as read_lines
from tests.e2e.service_connect_rig import linux_root, mesh
from tests.e2e.test_service_connect_bridge_ingress import (
    INGRESS_PORT,
    bridge_definition,
    check_registrations,
)
from tests.e2e.test_service_connect_tls import (
    API,
    CLIENT,
    SECRET_ANSWER,
    SECRET_PATH,
    Capture,
    _api_addresses,
    check_peer_certificates,
)
from tests.helpers import until

pytestmark = pytest.mark.slow

PCA = "arn:aws:acm-pca:us-east-1:000000000000:certificate-authority/portside-test"


@linux_root
def test_bridge_tls_ingress_host_port_takes_mtls_only(tmp_path: Path) -> None:

    with mesh(tmp_path) as m:
        ecs, sd, namespace = m.ecs, m.sd, m.namespace
        ecs.create_service(
            cluster="default", serviceName="api", desiredCount=2,
            taskDefinition=bridge_definition(m, [API], [
                {"name": "api", "containerPort": 8080, "appProtocol": "http"}]),
            serviceConnectConfiguration={"enabled": True, "namespace": namespace, "services": [
                {"portName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}],
                 "tls": {"issuerCertificateAuthority": {"awsPcaAuthorityArn": PCA}}}]},
        )
        until(lambda: len(_api_addresses(sd, namespace)) == 2, timeout=90)
        # Cloud Map holds each task's proxy's ingress host port, the one its listener bound.
        ingress = check_registrations(m, 2)
        arns = ecs.list_tasks(cluster="default", serviceName="api")["taskArns"]
        app_ports = set()
        for task in ecs.describe_tasks(cluster="default", tasks=arns)["tasks"]:
            (app,) = [c for c in task["containers"] if c["name"] == "app"]
            bindings = {b["containerPort"]: b["hostPort"] for b in app["networkBindings"]}
            app_ports.add(bindings[8080])
            assert bindings[INGRESS_PORT] in ingress

        answers = tmp_path / "answers.txt"
        with Capture() as capture:
            ecs.create_service(
                cluster="default", serviceName="client", desiredCount=1,
                taskDefinition=bridge_definition(m, [CLIENT, str(answers)], []),
                serviceConnectConfiguration={"enabled": True, "namespace": namespace},
            )
            until(lambda: len(read_lines(answers)) >= 40, timeout=90)
        found = read_lines(answers)
        assert [x for x in found if not x.startswith("ok ")] == []
        assert all(SECRET_ANSWER in x for x in found)
        assert len({x.rsplit(" ", 1)[-1] for x in found}) == 2  # both api tasks answered

        for port in ingress:  # client's proxy <-> an api task's proxy: TLS only
            between_proxies = capture.payload(port)
            assert len(between_proxies) > 10 * len(SECRET_ANSWER), port  # traffic went there
            assert between_proxies[:1] == b"\x16"  # it opens with a TLS handshake record
            assert SECRET_ANSWER.encode() not in between_proxies
            assert SECRET_PATH.encode() not in between_proxies
            assert b"HTTP/1.1" not in between_proxies
        beside_apps = b"".join(capture.payload(p) for p in app_ports)  # proxy <-> application
        assert SECRET_PATH.encode() in beside_apps and SECRET_ANSWER.encode() in beside_apps

        # A raw TLS connection to a registered host port: answered with the client task's
        # own certificate, refused with a certificate from another authority.
        address = _api_addresses(sd, namespace)[0]
        assert address[1] in ingress
        check_peer_certificates(tmp_path, ecs, address)

        # Nor does plaintext get an answer on the ingress host port.
        with socket.create_connection(address, timeout=10) as plain:
            plain.sendall(f"GET {SECRET_PATH} HTTP/1.1\r\nHost: api\r\n\r\n".encode())
            plain.settimeout(10)
            try:
                reply = plain.recv(65536)
            except ConnectionError:
                reply = b""
            assert SECRET_ANSWER.encode() not in reply and not reply.startswith(b"HTTP/1.1 200")
