"""`portside up` is a working single-machine ECS: local agents, a service that answers."""

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
    "port = int(os.environ['PORTSIDE_PORT_8000'])\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = os.environ.get('ECS_CONTAINER_METADATA_URI_V4', 'none').encode()\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(body)\n"
    "    def log_message(self, *a): pass\n"
    "http.server.ThreadingHTTPServer(('127.0.0.1', port), H).serve_forever()\n"
)




def test_up_with_three_process_agents_runs_a_service(tmp_path: Path) -> None:
    srv = Server(data_dir=tmp_path, default_args=[
        "--instances", "3", "--azs", "a,b,c", "--cpu", "1024", "--memory", "1024",
        "--driver", "process",
    ]).start()
    try:
        ecs = srv.client()
        def three() -> list[str] | None:
            arns = ecs.list_container_instances(cluster="default")["containerInstanceArns"]
            return list(arns) if len(arns) == 3 else None

        instances = until(three, timeout=60)
        desc = ecs.describe_container_instances(cluster="default", containerInstances=instances)
        zones = sorted(
            a["value"] for ci in desc["containerInstances"] for a in ci["attributes"]
            if a["name"] == "ecs.availability-zone"
        )
        assert zones == ["us-east-1a", "us-east-1b", "us-east-1c"]

        family = unique("web")
        ecs.register_task_definition(family=family, networkMode="bridge", containerDefinitions=[{
            "name": "web", "image": "python", "essential": True, "memory": 64, "cpu": 64,
            "entryPoint": [sys.executable, "-c"], "command": [SERVER],
            "portMappings": [{"containerPort": 8000, "hostPort": 0}],
        }])
        ecs.create_service(cluster="default", serviceName="web", taskDefinition=family,
                           desiredCount=3)

        def running() -> list[dict[str, Any]] | None:
            arns = ecs.list_tasks(cluster="default", serviceName="web")["taskArns"]
            if len(arns) != 3:
                return None
            tasks = ecs.describe_tasks(cluster="default", tasks=arns)["tasks"]
            ok = all(t["lastStatus"] == "RUNNING" for t in tasks)
            return tasks if ok else None

        tasks = until(running, timeout=90)
        # Spread over zones by default: one task per instance.
        assert len({t["containerInstanceArn"] for t in tasks}) == 3
        for t in tasks:
            (binding,) = t["containers"][0]["networkBindings"]
            url = f"http://127.0.0.1:{binding['hostPort']}/"
            body = until(lambda u=url: _get(u), timeout=30)
            assert body.startswith("http://")  # the metadata endpoint is in the environment
            with urllib.request.urlopen(body + "/task", timeout=5) as resp:
                assert t["taskArn"].encode() in resp.read()
        svc = until(lambda: next(
            (s for s in ecs.describe_services(cluster="default", services=["web"])["services"]
             if s["runningCount"] == 3), None), timeout=60)
        assert svc["deployments"][0]["taskDefinition"].endswith(f"{family}:1")
    finally:
        try:
            stop_everything(srv.client())
        finally:
            srv.stop()


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return None
