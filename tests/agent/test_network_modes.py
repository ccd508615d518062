"""``host`` and ``none`` network modes end to end, with both drivers.

ECS reports a host-mode container's port mappings as network bindings whose
hostPort is the containerPort (host mode cannot remap a port); Docker publishes
nothing for a host-mode container, so the Docker driver has to say so itself.
A ``none`` task has no bindings and no network but loopback.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.e2e import Cluster, cluster, needs_docker, until
from tests.helpers import free_port
from tests.support.images import ensure_busybox_image

pytestmark = pytest.mark.slow

HTTP_SERVER = (
    "import os, http.server as h\n"
    "h.ThreadingHTTPServer(('0.0.0.0', int(os.environ['PORT'])), h.SimpleHTTPRequestHandler).serve_forever()\n"
)


@pytest.fixture(params=["process", "docker"])
def driver(request: pytest.FixtureRequest) -> str:
    if request.param == "docker":
        needs_docker()
    return str(request.param)


@pytest.fixture
def c(tmp_path: Path, driver: str) -> Iterator[Cluster]:
    with cluster(tmp_path) as c:
        c.agent(driver)
        yield c


def web(driver: str, port: int) -> dict[str, Any]:
    if driver == "docker":
        command = ["httpd", "-f", "-p", str(port), "-h", "/www"]
        image = ensure_busybox_image()
    else:
        command, image = [sys.executable, "-c", HTTP_SERVER], "python"
    return {"name": "web", "image": image, "memory": 64, "command": command,
            "portMappings": [{"containerPort": port}], "stopTimeout": 2}


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
            return int(r.status) == 200
    except OSError:
        return False


def test_host_mode_binds_the_container_port_on_the_host(c: Cluster, driver: str) -> None:
    port = free_port()
    arn = c.run_task(c.task_definition([web(driver, port)], network_mode="host"))
    task = c.wait(arn, "RUNNING")
    (container,) = task["containers"]
    assert container["networkBindings"] == [
        {"bindIP": "0.0.0.0", "containerPort": port, "hostPort": port, "protocol": "tcp"}
    ]
    until(lambda: answers(port), 60, f"the task answers on host port {port}", c)


def test_none_mode_has_no_bindings_and_no_network(c: Cluster, driver: str) -> None:
    if driver == "docker":
        box = {"image": ensure_busybox_image(), "command": ["sleep", "300"]}
    else:
        box = {"image": "python", "command": ["sleep", "300"]}
    arn = c.run_task(c.task_definition(
        [{"name": "box", "memory": 64, "stopTimeout": 2, **box}], network_mode="none"))
    task = c.wait(arn, "RUNNING")
    (container,) = task["containers"]
    assert not container.get("networkBindings")
    if driver == "docker":
        import docker

        api = docker.from_env(timeout=30)
        try:
            found = api.containers.get(container["runtimeId"])
            assert found.attrs["HostConfig"]["NetworkMode"] == "none"
            code, out = found.exec_run(["ls", "/sys/class/net"])
            assert code == 0 and out.split() == [b"lo"]
        finally:
            api.close()
    else:
        env = _environ(c, arn, "box")
        assert env["PORTSIDE_NETWORK_MODE"] == "none"
        assert "PORTSIDE_ADDRESS" not in env and "PORT" not in env


def _environ(c: Cluster, task_arn: str, name: str) -> dict[str, str]:
    """The environment the process driver gave a container's process."""
    doc = json.loads((c.agents[0].state_dir / "processes" / task_arn.rsplit("/", 1)[-1] / f"{name}.json")
                     .read_text())
    raw = Path(f"/proc/{doc['pid']}/environ").read_bytes()
    return dict(item.decode().split("=", 1) for item in raw.split(b"\0") if b"=" in item)
