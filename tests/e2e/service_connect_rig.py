"""Shared set-up of the Service Connect end-to-end tests (process driver).

A portside server with one local agent, an HTTP namespace, an ``api`` service
of small Python HTTP servers (client-server port ``api``, alias ``api:8080``)
and a client-only service whose task GETs ``http://api:8080/...`` in a loop
through its own proxy, writing one line per request to a file.

The api servers can be steered from the test through a control directory
(``API`` with a second argument): ``hits-<key>`` grows by one byte per request
a task receives, ``fail-<key>`` makes it answer 503, and ``GET /slow/<s>``
answers after ``s`` seconds. ``<key>`` is :func:`key_of` the task's answer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Server, stop_everything, unique, until

linux_root = pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0,
    reason="aliases resolve through a private hosts file or a network namespace: Linux and root",
)

# Answers GET / with its own task's metadata URI (one per task); steered by argv[1] if given.
API = (
    "import hashlib, http.server, os, sys, time\n"
    "answer = os.environ['ECS_CONTAINER_METADATA_URI_V4'].encode()\n"
    "key = hashlib.sha1(answer).hexdigest()[:12]\n"
    "control = sys.argv[1] if len(sys.argv) > 1 else None\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def do_GET(self):\n"
    "        status = 200\n"
    "        if control:\n"
    "            with open(os.path.join(control, 'hits-' + key), 'ab') as f: f.write(b'.')\n"
    "            if os.path.exists(os.path.join(control, 'fail-' + key)): status = 503\n"
    "        if self.path.startswith('/slow/'): time.sleep(float(self.path[6:]))\n"
    "        self.send_response(status)\n"
    "        self.send_header('Content-Length', str(len(answer))); self.end_headers()\n"
    "        self.wfile.write(answer)\n"
    "    def log_message(self, *a): pass\n"
    "address = (os.environ['PORTSIDE_ADDRESS'], int(os.environ['PORTSIDE_PORT_8080']))\n"
    "http.server.ThreadingHTTPServer(address, H).serve_forever()\n"
)

# GETs http://api:8080<argv[2] or /> forever; one line per request: "ok <answer>" or
# "error <reason>" (an HTTP error reads "error <HTTPError 504: 'Gateway Timeout'>").
CLIENT = (
    "import sys, time, urllib.request\n"
    "out = open(sys.argv[1], 'a', buffering=1)\n"
    "path = sys.argv[2] if len(sys.argv) > 2 else '/'\n"
    "while True:\n"
    "    try:\n"
    "        with urllib.request.urlopen('http://api:8080' + path, timeout=30) as r:\n"
    "            out.write('ok ' + r.read().decode() + '\\n')\n"
    "    except Exception as e:\n"
    "        out.write('error ' + repr(e).replace('\\n', ' ') + '\\n')\n"
    "    time.sleep(0.01)\n"
)

NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}


def key_of(answer: str) -> str:
    """The control-file key of the api task that answers ``answer``."""
    return hashlib.sha1(answer.encode()).hexdigest()[:12]


def lines(path: Path) -> list[str]:
    try:
        return [x for x in path.read_text().splitlines() if x]
    except OSError:
        return []


def hits(control: Path, key: str) -> int:
    try:
        return (control / f"hits-{key}").stat().st_size
    except OSError:
        return 0


def container_lines(engine: Any, task_arn: str) -> list[str]:
    """The non-empty output lines of a Docker task's containers (its pause container left
    out). Read through the raw API, and a container removed between the listing and the
    read is skipped: a per-container inspect of a vanished one would raise."""
    import docker

    texts = []
    for c in engine.api.containers(
        all=True, filters={"label": f"com.amazonaws.ecs.task-arn={task_arn}"}
    ):
        if any("pause" in name for name in c.get("Names") or ()):
            continue
        with contextlib.suppress(docker.errors.NotFound):
            texts.append(engine.api.logs(c["Id"]).decode())
    return [x for text in texts for x in text.splitlines() if x]


def task_definition(ecs: Any, argv: list[str], ports: list[dict[str, Any]]) -> str:
    family = unique("sc")
    ecs.register_task_definition(
        # half a CPU: the task's cpu is a hard quota where the agent may write cgroups, and
        # a quarter of one starves a Python process on a loaded machine
        family=family, networkMode="awsvpc", cpu="512", memory="128",
        containerDefinitions=[{
            "name": "app", "image": "python", "essential": True, "memory": 64,
            "entryPoint": [sys.executable, "-c"], "command": argv, "portMappings": ports,
        }],
    )
    return family


def registered(sd: Any, namespace: str, name: str = "api") -> int:
    """How many instances Cloud Map holds for service ``name`` of ``namespace``."""
    namespaces = sd.list_namespaces()["Namespaces"]
    ns = next(n for n in namespaces if n["Name"] == namespace)
    services = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns["Id"]]}])
    svc = next((s for s in services["Services"] if s["Name"] == name), None)
    if svc is None:
        return 0
    return len(sd.list_instances(ServiceId=svc["Id"])["Instances"])


@dataclass
class Mesh:
    """A running server with a namespace; ``api`` and ``client`` services added on demand."""

    srv: Server
    ecs: Any
    sd: Any
    namespace: str
    root: Path

    def api(self, argv: list[str], count: int = 3, *, timeout: dict[str, int] | None = None,
            tags: list[dict[str, str]] | None = None) -> None:
        """The ``api`` service: ``count`` tasks, registered in Cloud Map before this returns."""
        service: dict[str, Any] = {
            "portName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}]}
        if timeout:
            service["timeout"] = timeout
        definition = task_definition(self.ecs, argv, [
            {"name": "api", "containerPort": 8080, "appProtocol": "http"}])
        self.ecs.create_service(
            cluster="default", serviceName="api", taskDefinition=definition,
            desiredCount=count, networkConfiguration=NETWORK,
            serviceConnectConfiguration={
                "enabled": True, "namespace": self.namespace, "services": [service]},
            **({"tags": tags} if tags else {}),
        )
        until(lambda: len(self.ecs.list_tasks(cluster="default", serviceName="api",
                                               desiredStatus="RUNNING")["taskArns"]) == count
              and registered(self.sd, self.namespace) == count, timeout=90)

    def client(self, answers: Path, path: str = "/") -> str:
        """The client-only service; returns its task's ARN once it runs."""
        definition = task_definition(self.ecs, [CLIENT, str(answers), path], [])
        self.ecs.create_service(
            cluster="default", serviceName="client", taskDefinition=definition, desiredCount=1,
            networkConfiguration=NETWORK,
            serviceConnectConfiguration={"enabled": True, "namespace": self.namespace},
        )
        (arn,) = until(lambda: self.ecs.list_tasks(
            cluster="default", serviceName="client", desiredStatus="RUNNING")["taskArns"],
            timeout=60)
        return str(arn)

    def top(self, *args: str) -> str:
        """``portside top --once ARGS`` against this server: its standard output."""
        return subprocess.run(
            [sys.executable, "-m", "portside.cli.main", "top", "--once",
             "--endpoint", self.srv.endpoint, *args],
            capture_output=True, text=True, timeout=60, env=self.srv.cli_env(), check=True,
        ).stdout

    def top_json(self) -> dict[str, Any]:
        return dict(json.loads(self.top("--json")))

    def proxy_pid_file(self, task_arn: str) -> Path:
        task_id = task_arn.rsplit("/", 1)[-1]
        (found,) = until(lambda: list(self.root.glob(f"**/service-connect/{task_id}/proxy.pid")))
        return Path(found)


@contextlib.contextmanager
def mesh(tmp_path: Path, driver: str = "process") -> Iterator[Mesh]:
    """A server with one local agent (``driver``) and an HTTP namespace; all stopped on exit."""
    srv = Server(data_dir=tmp_path, default_args=[
        "--instances", "1", "--cpu", "4096", "--memory", "4096", "--driver", driver]).start()
    try:
        ecs, sd = srv.client(), srv.client("servicediscovery")
        namespace = unique("sc")
        op = sd.create_http_namespace(Name=namespace)["OperationId"]
        until(lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS")
        until(lambda: ecs.list_container_instances(cluster="default")["containerInstanceArns"],
              timeout=90)
        yield Mesh(srv, ecs, sd, namespace, tmp_path)
    finally:
        with contextlib.suppress(Exception):  # the test's own failure matters more
            stop_everything(srv.client())
        srv.stop()
