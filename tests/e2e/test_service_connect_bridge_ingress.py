"""Service Connect in the Docker bridge mode: callers go through the api task's proxy.

As ECS does, the agent binds each bridge api task's inbound listener on an
ephemeral host port, in front of the application's container, and reports it
with the container's network bindings (``containerPort`` = the ingress port);
Cloud Map registers that host port — not the application's own — so a bridge
client's proxy reaches the api through the api task's proxy, and ``portside
top`` shows the traffic the api receives (``in`` rows). With Docker (busybox,
the client's alias in its container's own namespace) and with the process
driver (the application on its allocated host port, aliases through a private
hosts file).
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import json
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.service_connect_rig import (
    API,
    CLIENT,
    Mesh,
    container_lines,
    lines,
    linux_root,
    mesh,
    registered,
)
from tests.helpers import unique, until

pytestmark = pytest.mark.slow

INGRESS_PORT = 15443  # the default ingress port (domain/ecs/service_connect.py INGRESS_BASE)

# busybox httpd answering /cgi-bin/id with the container's hostname (one per task)
BUSYBOX_API = (
    "mkdir -p /www/cgi-bin && "
    "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\nhostname\\n' > /www/cgi-bin/id && "
    "chmod +x /www/cgi-bin/id && exec httpd -f -p 8080 -h /www"
)
# one HTTP/1.0 request per connection to the alias api:8080; "ok HOSTNAME" or "error"
BUSYBOX_CLIENT = (
    "while true; do "
    "r=$(printf 'GET /cgi-bin/id HTTP/1.0\\r\\n\\r\\n' | nc api 8080 | tail -n 1); "
    "if [ -n \"$r\" ]; then echo \"ok $r\"; else echo error; fi; sleep 0.05; done"
)


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("proxy", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def proxy_listeners(root: Path, task_arn: str) -> dict[str, Any]:
    """The task's proxy's listeners as bound (``GET /listeners`` on its admin socket)."""
    task_id = task_arn.rsplit("/", 1)[-1]
    found = list(root.glob(f"**/service-connect/{task_id}/admin.sock"))
    path = found[0] if found else Path(tempfile.gettempdir()) / f"portside-sc-{task_id[:16]}.sock"
    conn = _UnixHTTP(str(path))
    try:
        conn.request("GET", "/listeners")
        return dict(json.loads(conn.getresponse().read()))
    finally:
        conn.close()


def _bindings(task: dict[str, Any]) -> dict[int, int]:
    """containerPort -> hostPort of the task's ``app`` container."""
    (app,) = [c for c in task["containers"] if c["name"] == "app"]
    return {b["containerPort"]: b["hostPort"] for b in app.get("networkBindings") or ()}


def check_registrations(m: Mesh, count: int) -> set[int]:
    """Cloud Map holds, for each api task, its proxy's ingress host port: the binding the
    agent reported for the ingress port, the port the proxy's inbound listener has bound —
    not the application's own host port. Returns those ports."""
    arns = m.ecs.list_tasks(cluster="default", serviceName="api")["taskArns"]
    tasks = m.ecs.describe_tasks(cluster="default", tasks=arns)["tasks"]
    found = m.sd.discover_instances(NamespaceName=m.namespace, ServiceName="api")["Instances"]
    ports = {i["InstanceId"]: int(i["Attributes"]["AWS_INSTANCE_PORT"]) for i in found}
    assert len(tasks) == count and len(ports) == count
    for task in tasks:
        bindings = _bindings(task)
        assert set(bindings) == {8080, INGRESS_PORT}, bindings
        ingress = bindings[INGRESS_PORT]
        assert ports[task["taskArn"].rsplit("/", 1)[-1]] == ingress
        assert ingress != bindings[8080]
        bound = proxy_listeners(m.root, task["taskArn"])["inbound:api"]
        assert bound == {"address": "0.0.0.0", "port": ingress}, bound
    return set(ports.values())


def check_top(m: Mesh, count: int, registered_ports: set[int]) -> None:
    """portside top: the client's calls out, and the api tasks' calls in, through the
    inbound listeners of every api task's proxy, on the ports Cloud Map registered."""
    both = {("client", "out", "api"), ("api", "in", "api")}
    last: list[dict[str, Any]] = [{}]

    def shown() -> dict[str, Any] | None:
        d = last[0] = m.top_json()
        rows = {(r["service"], r["direction"], r["upstream"]): r for r in d["services"]}
        complete = set(rows) == both and all(r["requestsPerSecond"] > 0 for r in d["services"])
        # a proxy that missed a stats round is left out of it: wait for all of them
        return d if complete and rows[("api", "in", "api")]["tasks"] == count else None

    try:
        doc = until(shown, timeout=120, every=1)
    except AssertionError:
        raise AssertionError(f"portside top never showed {both}: {last[0]}") from None
    rows = {(r["service"], r["direction"], r["upstream"]): r for r in doc["services"]}
    inbound = rows[("api", "in", "api")]
    assert inbound["requests"] > 0 and inbound["responses"]["2xx"] > 0, inbound
    assert inbound["tasks"] == count, inbound
    client_endpoints = {r["endpoint"] for r in doc["endpoints"] if r["service"] == "client"}
    assert {int(e.rsplit(":", 1)[1]) for e in client_endpoints} == registered_ports, \
        client_endpoints


def bridge_definition(m: Mesh, argv: list[str], ports: list[dict[str, Any]]) -> str:
    """A process-driver task definition in the bridge mode (the rig's are awsvpc)."""
    family = unique("sc")
    m.ecs.register_task_definition(
        family=family, networkMode="bridge", cpu="256", memory="128",
        containerDefinitions=[{
            "name": "app", "image": "python", "essential": True, "memory": 64,
            "entryPoint": [sys.executable, "-c"], "command": argv, "portMappings": ports,
        }],
    )
    return family


@linux_root
def test_process_bridge_callers_reach_the_api_through_its_proxys_ingress_host_port(
    tmp_path: Path,
) -> None:
    answers = tmp_path / "answers.txt"
    with mesh(tmp_path) as m:
        m.ecs.create_service(
            cluster="default", serviceName="api", desiredCount=2,
            taskDefinition=bridge_definition(m, [API], [
                {"name": "api", "containerPort": 8080, "appProtocol": "http"}]),
            serviceConnectConfiguration={"enabled": True, "namespace": m.namespace, "services": [
                {"portName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}]}]},
        )
        until(lambda: registered(m.sd, m.namespace) == 2, timeout=90)
        ports = check_registrations(m, 2)
        m.ecs.create_service(
            cluster="default", serviceName="client", desiredCount=1,
            taskDefinition=bridge_definition(m, [CLIENT, str(answers)], []),
            serviceConnectConfiguration={"enabled": True, "namespace": m.namespace},
        )
        until(lambda: len(lines(answers)) >= 100, timeout=90)
        found = lines(answers)
        assert [x for x in found if not x.startswith("ok ")] == []
        assert len(collections.Counter(found)) == 2  # both api tasks answered
        check_top(m, 2, ports)


@linux_root
@pytest.mark.docker
def test_bridge_callers_reach_the_api_through_its_proxys_ingress_host_port(tmp_path: Path) -> None:
    from tests.agent.e2e import needs_docker
    from tests.support.images import ensure_busybox_image

    needs_docker()
    import docker

    image = ensure_busybox_image()
    with contextlib.closing(docker.from_env(timeout=30)) as api_client, \
            mesh(tmp_path, "docker") as m:
        ecs, sd, namespace = m.ecs, m.sd, m.namespace

        def busybox(script: str, ports: list[dict[str, Any]]) -> str:
            family = unique("sc")
            ecs.register_task_definition(
                family=family, networkMode="bridge", cpu="256", memory="128",
                containerDefinitions=[{
                    "name": "app", "image": image, "essential": True, "memory": 64,
                    "command": ["sh", "-c", script], "portMappings": ports,
                }],
            )
            return family

        ecs.create_service(
            cluster="default", serviceName="api", desiredCount=2,
            taskDefinition=busybox(BUSYBOX_API, [
                {"name": "api", "containerPort": 8080, "appProtocol": "http"}]),
            serviceConnectConfiguration={"enabled": True, "namespace": namespace, "services": [
                {"portName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}]}]},
        )
        until(lambda: registered(sd, namespace) == 2, timeout=120)
        registered_ports = check_registrations(m, 2)

        ecs.create_service(
            cluster="default", serviceName="client", desiredCount=1,
            taskDefinition=busybox(BUSYBOX_CLIENT, []),
            serviceConnectConfiguration={"enabled": True, "namespace": namespace},
        )
        (client_task,) = until(lambda: ecs.list_tasks(
            cluster="default", serviceName="client")["taskArns"], timeout=30)

        def output() -> list[str]:
            return container_lines(api_client, client_task)

        until(lambda: sum(x.startswith("ok ") for x in output()) >= 60, timeout=120)
        got = output()
        # the alias answers a moment after the client's container starts (its namespace
        # exists only then); from the first answer on nothing fails
        first = next(i for i, x in enumerate(got) if x.startswith("ok "))
        assert [x for x in got[first:] if not x.startswith("ok ")] == []
        spread = collections.Counter(got[first:])
        assert len(spread) == 2, spread  # both api tasks answered

        check_top(m, 2, registered_ports)
