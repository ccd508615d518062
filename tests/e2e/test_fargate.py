"""`portside up` runs FARGATE services on its Fargate pool: real processes, Fargate's shape."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Server, stop_everything, unique, until

pytestmark = pytest.mark.slow

SERVER = (
    "import http.server, os\n"
    "addr = (os.environ['PORTSIDE_ADDRESS'], int(os.environ['PORTSIDE_PORT_8000']))\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(b'fargate')\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(addr, H).serve_forever()\n"
)


def test_up_runs_a_fargate_service(tmp_path: Path) -> None:
    srv = Server(data_dir=tmp_path, default_args=["--instances", "1", "--driver", "process"]).start()
    cluster = unique("apps")
    try:
        ecs = srv.client()
        ecs.create_cluster(clusterName=cluster, capacityProviders=["FARGATE", "FARGATE_SPOT"])
        family = unique("web")
        ecs.register_task_definition(
            family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu="256", memory="1024",
            containerDefinitions=[{
                "name": "web", "image": "python", "essential": True,
                "entryPoint": [sys.executable, "-c"], "command": [SERVER],
                "portMappings": [{"containerPort": 8000}],
            }],
        )
        ecs.create_service(
            cluster=cluster, serviceName="web", taskDefinition=family, desiredCount=2,
            capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
        )

        def running() -> list[dict[str, Any]] | None:
            arns = ecs.list_tasks(cluster=cluster, serviceName="web")["taskArns"]
            if len(arns) != 2:
                return None
            tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
            return tasks if all(t["lastStatus"] == "RUNNING" for t in tasks) else None

        tasks = until(running, timeout=90)
        for t in tasks:
            assert t["launchType"] == "FARGATE"
            assert t["capacityProviderName"] == "FARGATE_SPOT"
            assert "containerInstanceArn" not in t
            assert t["platformVersion"] == "1.4.0"
            assert t["platformFamily"] == "Linux"
            (eni,) = [a for a in t["attachments"] if a["type"] == "ElasticNetworkInterface"]
            details = {d["name"]: d["value"] for d in eni["details"]}
            address = details["privateIPv4Address"]
            body = until(lambda a=address: _get(f"http://{a}:8000/"), timeout=30)
            assert body == "fargate"
        # The pool is not a container instance the user sees; the EC2 agent is.
        assert len(ecs.list_container_instances(cluster="default")["containerInstanceArns"]) == 1
    finally:
        try:
            stop_everything(srv.client(), cluster=cluster)
        finally:
            srv.stop()


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return None


@pytest.mark.docker
def test_up_runs_a_fargate_task_in_docker(tmp_path: Path) -> None:
    from tests.agent.e2e import needs_docker
    from tests.support.images import ensure_busybox_image

    needs_docker()
    image = ensure_busybox_image()
    srv = Server(data_dir=tmp_path, default_args=["--instances", "1", "--driver", "docker"]).start()
    cluster = unique("apps")
    try:
        ecs = srv.client()
        ecs.create_cluster(clusterName=cluster)
        td = ecs.register_task_definition(
            family=unique("web"), networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu="256", memory="512",
            containerDefinitions=[{
                "name": "web", "image": image, "essential": True, "stopTimeout": 2,
                "command": ["httpd", "-f", "-p", "80", "-h", "/"],
                "portMappings": [{"containerPort": 80}],
            }],
        )["taskDefinition"]["taskDefinitionArn"]

        def run() -> list[dict[str, Any]] | None:  # the pool may still be registering
            out = ecs.run_task(cluster=cluster, taskDefinition=td, launchType="FARGATE",
                               networkConfiguration={"awsvpcConfiguration": {"subnets": ["s-1"]}})
            return out["tasks"] or None

        (task,) = until(run, timeout=60, every=1)

        def running() -> dict[str, Any] | None:
            (t,) = ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]])["tasks"]
            return t if t["lastStatus"] == "RUNNING" else None

        t = until(running, timeout=90)
        assert (t["launchType"], t["platformVersion"]) == ("FARGATE", "1.4.0")
        assert "containerInstanceArn" not in t
        (eni,) = t["attachments"]
        address = {d["name"]: d["value"] for d in eni["details"]}["privateIPv4Address"]
        assert until(lambda: _answers(f"http://{address}:80/"), timeout=30)
    finally:
        try:
            stop_everything(srv.client(), cluster=cluster)
        finally:
            srv.stop()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # httpd answered
    except OSError:
        return False
