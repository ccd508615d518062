"""Route 53 health checks (HealthCheckConfig) run by ``portside up`` against real listeners.

The test runs small HTTP servers on loopback addresses of its own (127.0.0.2,
127.0.0.3, …, so DNS answers tell the instances apart) and registers Cloud Map
instances pointing at them in a public DNS namespace. The server, with
``PORTSIDE_HEALTH_CHECK_INTERVAL=0.2``, probes them: an instance whose listener
answers 500 or is closed becomes UNHEALTHY after FailureThreshold failures — in
GetInstancesHealthStatus (boto3 and the AWS CLI), in DiscoverInstances and in
the A records a real DNS query gets — and HEALTHY again once it answers 2xx.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest

from portside.domain.kinds import KINDS
from portside.domain.servicediscovery.instance import Instance, instance_key
from portside.store.store import Store, sqlite_url
from tests.contract.test_servicediscovery_wire import wait_operation
from tests.helpers import Server, free_port, unique, until

INTERVAL = "0.2"


class Listener:
    """An HTTP server on ``host`` that answers ``status`` to every GET; closed and reopened
    on the same port by the test."""

    def __init__(self, host: str, status: int = 200) -> None:
        self.host, self.port, self.status = host, free_port(), status
        self.requests: list[tuple[str, str | None]] = []  # (path, Host header)
        self._server: ThreadingHTTPServer | None = None
        self.open()

    def open(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append((self.path, self.headers.get("Host")))
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("PORTSIDE_HEALTH_CHECK_INTERVAL", INTERVAL)
    srv = Server(data_dir=tmp_path).start()
    yield srv
    srv.stop()


def _public_namespace(sd: Any) -> tuple[str, str]:
    name = f"{unique('hc')}.example.com"
    op = sd.create_public_dns_namespace(Name=name)["OperationId"]
    return wait_operation(sd, op)["Targets"]["NAMESPACE"], name


def _service(sd: Any, ns_id: str, check: dict[str, Any]) -> Any:
    return sd.create_service(
        Name=unique("web"), NamespaceId=ns_id, HealthCheckConfig=check,
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 5}]},
    )["Service"]  # fmt: skip


def _register(sd: Any, service_id: str, instance_id: str, listener: Listener) -> None:
    sd.register_instance(ServiceId=service_id, InstanceId=instance_id, Attributes={
        "AWS_INSTANCE_IPV4": listener.host, "AWS_INSTANCE_PORT": str(listener.port)})


def _health(sd: Any, service_id: str) -> dict[str, str]:
    return dict(sd.get_instances_health_status(ServiceId=service_id)["Status"])


def _a_records(srv: Server, name: str) -> set[str]:
    reply = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=srv.dns_port,
                          timeout=5)  # fmt: skip
    return {rr.address for rrset in reply.answer if rrset.rdtype == dns.rdatatype.A
            for rr in rrset}  # fmt: skip


def _discovered(sd: Any, ns: str, svc: str, status: str) -> set[str]:
    got = sd.discover_instances(NamespaceName=ns, ServiceName=svc, HealthStatus=status)
    return {i["InstanceId"] for i in got["Instances"]}


def _revision(sd: Any, ns: str, svc: str) -> int:
    got = sd.discover_instances_revision(NamespaceName=ns, ServiceName=svc)
    return int(got["InstancesRevision"])


def test_http_checks_drive_health_discovery_and_dns(server: Server) -> None:
    sd = server.client("servicediscovery")
    ns_id, ns = _public_namespace(sd)
    svc = _service(sd, ns_id, {"Type": "HTTP", "ResourcePath": "/healthz", "FailureThreshold": 2})
    sid, fqdn = svc["Id"], f"{svc['Name']}.{ns}"
    steady, flaky = Listener("127.0.0.2"), Listener("127.0.0.3", status=500)
    try:
        _register(sd, sid, "steady", steady)
        _register(sd, sid, "flaky", flaky)
        revision = _revision(sd, ns, svc["Name"])
        until(lambda: _health(sd, sid) == {"steady": "HEALTHY", "flaky": "UNHEALTHY"})
        # Route 53 sends the service's DNS name (with the port) as the Host header
        assert until(lambda: steady.requests)[0] == ("/healthz", f"{fqdn}:{steady.port}")
        assert _a_records(server, fqdn) == {"127.0.0.2"}
        assert _discovered(sd, ns, svc["Name"], "HEALTHY") == {"steady"}
        assert _discovered(sd, ns, svc["Name"], "UNHEALTHY") == {"flaky"}
        assert _discovered(sd, ns, svc["Name"], "ALL") == {"steady", "flaky"}

        flaky.status = 302  # 3xx counts as healthy
        until(lambda: _health(sd, sid)["flaky"] == "HEALTHY")
        assert _a_records(server, fqdn) == {"127.0.0.2", "127.0.0.3"}

        flaky.close()
        until(lambda: _health(sd, sid)["flaky"] == "UNHEALTHY")
        assert _a_records(server, fqdn) == {"127.0.0.2"}
        cli = json.loads(server.aws("servicediscovery", "get-instances-health-status",
                                    "--service-id", sid).stdout)  # fmt: skip
        assert cli["Status"] == {"steady": "HEALTHY", "flaky": "UNHEALTHY"}

        steady.close()  # none healthy: MULTIVALUE answers the unhealthy ones, as Route 53
        until(lambda: _health(sd, sid)["steady"] == "UNHEALTHY")
        assert _a_records(server, fqdn) == {"127.0.0.2", "127.0.0.3"}
        assert _discovered(sd, ns, svc["Name"], "HEALTHY") == set()
        assert _discovered(sd, ns, svc["Name"], "HEALTHY_OR_ELSE_ALL") == {"steady", "flaky"}

        flaky.open()
        until(lambda: _health(sd, sid) == {"steady": "UNHEALTHY", "flaky": "HEALTHY"})
        assert _a_records(server, fqdn) == {"127.0.0.3"}
        # health changes leave InstancesRevision alone, as Cloud Map documents
        assert _revision(sd, ns, svc["Name"]) == revision
    finally:
        steady.close()
        flaky.close()


def test_tcp_check_needs_only_a_connection(server: Server) -> None:
    sd = server.client("servicediscovery")
    ns_id, ns = _public_namespace(sd)
    svc = _service(sd, ns_id, {"Type": "TCP", "FailureThreshold": 1})
    sid, fqdn = svc["Id"], f"{svc['Name']}.{ns}"
    db = Listener("127.0.0.4", status=500)  # the status does not matter to a TCP check
    try:
        db.close()
        _register(sd, sid, "db", db)
        until(lambda: _health(sd, sid) == {"db": "UNHEALTHY"})
        assert _a_records(server, fqdn) == {"127.0.0.4"}  # the only one: answered anyway
        db.open()
        until(lambda: _health(sd, sid) == {"db": "HEALTHY"})
        assert _discovered(sd, ns, svc["Name"], "HEALTHY") == {"db"}
        assert db.requests == []  # connected, never asked anything
        db.close()
        until(lambda: _health(sd, sid) == {"db": "UNHEALTHY"})
        assert _discovered(sd, ns, svc["Name"], "HEALTHY") == set()
        assert _stored_health(server, sid, "db") == "UNHEALTHY"  # durable, as custom health

        _register(sd, sid, "db", db)  # the same endpoint again: the status stays
        assert _health(sd, sid) == {"db": "UNHEALTHY"}
        moved = Listener("127.0.0.5")
        try:
            _register(sd, sid, "db", moved)  # a new endpoint: a new check, HEALTHY until it fails
            assert _health(sd, sid) == {"db": "HEALTHY"}
            assert _a_records(server, fqdn) == {"127.0.0.5"}
        finally:
            moved.close()
    finally:
        db.close()


def _stored_health(server: Server, service_id: str, instance_id: str) -> str | None:
    """The status as the store holds it, read by a second Store on the server's database."""
    store = Store(sqlite_url(server.data_dir), KINDS)
    try:
        inst = store.get(Instance.KIND, instance_key(service_id, instance_id))
        return None if inst is None else inst.checked_health
    finally:
        store.close()


def test_a_check_removed_and_added_again_starts_healthy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new check forgets what an old one found. With a 10-minute interval only the first
    probe of each check runs here: FailureThreshold 1 makes the closed listener UNHEALTHY
    at once; the re-added check (threshold 2) starts HEALTHY and one failure keeps it so."""
    monkeypatch.setenv("PORTSIDE_HEALTH_CHECK_INTERVAL", "600")
    srv = Server(data_dir=tmp_path).start()
    db = Listener("127.0.0.6")
    try:
        db.close()
        sd = srv.client("servicediscovery")
        ns_id, _ = _public_namespace(sd)
        sid = _service(sd, ns_id, {"Type": "TCP", "FailureThreshold": 1})["Id"]
        _register(sd, sid, "db", db)
        until(lambda: _health(sd, sid) == {"db": "UNHEALTHY"})

        records = {"DnsRecords": [{"Type": "A", "TTL": 5}]}
        wait_operation(sd, sd.update_service(Id=sid, Service={"DnsConfig": records})["OperationId"])
        assert _health(sd, sid) == {"db": "UNKNOWN"}  # no check, no health
        wait_operation(sd, sd.update_service(Id=sid, Service={
            "DnsConfig": records, "HealthCheckConfig": {"Type": "TCP", "FailureThreshold": 2},
        })["OperationId"])
        assert _health(sd, sid) == {"db": "HEALTHY"}  # a new check (its first probe: 1 of 2)
        with pytest.raises(sd.exceptions.InvalidInput, match="cannot be changed"):
            sd.update_service(Id=sid, Service={
                "DnsConfig": records, "HealthCheckConfig": {"Type": "HTTP"}})
    finally:
        db.close()
        srv.stop()
