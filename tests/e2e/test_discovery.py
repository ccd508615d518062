"""Cloud Map with real tasks: `dig SRV` finds the tasks, health and stops change the answer."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import dns.message
import dns.query
import pytest

from tests.e2e.discovery_rig import srv_registry
from tests.helpers import Server, stop_everything, unique, until

pytestmark = pytest.mark.slow

# Answers GET / with its task's metadata URI.
APP = (
    "import http.server, os\n"
    "port = int(os.environ['PORTSIDE_PORT_8000'])\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers()\n"
    "        self.wfile.write(os.environ['ECS_CONTAINER_METADATA_URI_V4'].encode())\n"
    "    def log_message(self, *a): pass\n"
    "http.server.ThreadingHTTPServer(('0.0.0.0', port), H).serve_forever()\n"
)


def _srv(server: Server, name: str) -> list[tuple[str, int]]:
    reply = dns.query.udp(dns.message.make_query(name, "SRV"), "127.0.0.1",
                          port=server.dns_port, timeout=10)
    targets = {str(r.target): r.port for rrset in reply.answer for r in rrset}
    addresses = {str(rr.name): r.address for rr in reply.additional for r in rr
                 if rr.rdtype == dns.rdatatype.A}
    return sorted((addresses.get(t, "?"), p) for t, p in targets.items())


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return None


def test_service_tasks_answer_srv_and_leave_on_failure(tmp_path: Path) -> None:
    srv = Server(data_dir=tmp_path, default_args=[
        "--instances", "1", "--cpu", "2048", "--memory", "2048", "--driver", "process"]).start()
    try:
        ecs, sd = srv.client(), srv.client("servicediscovery")
        zone, reg = srv_registry(sd, ttl=5)
        flag = tmp_path / "unhealthy-"  # + a task's host port: that task's check fails
        family = unique("web")
        ecs.register_task_definition(family=family, containerDefinitions=[{
            "name": "web", "image": "python", "essential": True, "memory": 64,
            "entryPoint": [sys.executable, "-c"], "command": [APP],
            "portMappings": [{"containerPort": 8000, "hostPort": 0}],
            "healthCheck": {"command": ["CMD-SHELL", f"test ! -e {flag}$PORTSIDE_PORT_8000"],
                            "interval": 5, "timeout": 2, "retries": 1, "startPeriod": 0},
        }])
        until(lambda: ecs.list_container_instances(cluster="default")["containerInstanceArns"],
              timeout=60)
        ecs.create_service(
            cluster="default", serviceName="web", taskDefinition=family, desiredCount=3,
            serviceRegistries=[{"registryArn": reg["Arn"], "containerName": "web",
                                "containerPort": 8000}],
        )
        name = f"web.{zone}"
        records = until(lambda: (lambda r: r if len(r) == 3 else None)(_srv(srv, name)),
                        timeout=90)
        metadata = set()
        for address, port in records:
            body = until(lambda a=address, p=port: _get(f"http://{a}:{p}/"), timeout=60)
            metadata.add(body)
        assert len(metadata) == 3  # three different tasks answered

        sick = records[0][1]
        Path(f"{flag}{sick}").touch()  # that task's health check fails from now on
        until(lambda: sick not in [p for _, p in _srv(srv, name)], timeout=60)

        arns = ecs.list_tasks(cluster="default", serviceName="web")["taskArns"]
        gone = arns[0].rsplit("/", 1)[-1]
        ecs.stop_task(cluster="default", task=arns[0])
        until(lambda: all(gone not in i["Id"] for i in sd.list_instances(
            ServiceId=reg["Id"])["Instances"]), timeout=60)
    finally:
        try:
            stop_everything(srv.client())
        finally:
            srv.stop()
