"""What ``portside up``, ``portside status`` and ``portside agent`` promise on the command line.

``--cpu``/``--memory`` become the local agents' registeredResources, ``up`` says
which driver it chose and why, ``status`` lists a service, and an agent's
``--attribute`` reaches DescribeContainerInstances (and attribute queries).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from portside.runtime.local_agents import docker_answers
from tests.helpers import IN_CI, Server, stop_everything, unique, until
from tests.support.agents import AgentProcess

pytestmark = pytest.mark.slow

SLEEPER = "import time\nwhile True: time.sleep(1)\n"


def _instances(ecs: Any, count: int) -> list[dict[str, Any]]:
    def registered() -> list[str] | None:
        arns = ecs.list_container_instances(cluster="default")["containerInstanceArns"]
        return list(arns) if len(arns) == count else None

    arns = until(registered, timeout=90)
    return list(ecs.describe_container_instances(
        cluster="default", containerInstances=arns)["containerInstances"])


def _resource(ci: dict[str, Any], field: str, name: str) -> int:
    return int(next(r for r in ci[field] if r["name"] == name)["integerValue"])


def test_up_says_which_driver_it_chose_and_offers_cpu_and_memory(tmp_path: Path) -> None:
    expected = "docker" if IN_CI or docker_answers() else "process"  # what auto must pick (CI has Docker)
    srv = Server(data_dir=tmp_path, default_args=[
        "--instances", "1", "--cpu", "1536", "--memory", "1234", "--no-fargate"]).start()
    try:
        (ci,) = _instances(srv.client(), 1)
        assert _resource(ci, "registeredResources", "CPU") == 1536
        assert _resource(ci, "registeredResources", "MEMORY") == 1234
        assert _resource(ci, "remainingResources", "CPU") == 1536  # nothing runs yet
        line = next(x for x in srv.log().splitlines() if "local agent(s)" in x)
        assert f"driver {expected} " in line
        assert "Docker engine answers" in line  # the reason for the choice
        # the agent writes its summary after registering: the API may show it first
        agent_log = tmp_path / "agents" / "agent-0" / "agent.log"
        until(lambda: agent_log.exists() and "driver:   " in agent_log.read_text(), timeout=60)
        assert f"driver:   {expected}" in agent_log.read_text()
    finally:
        srv.stop()


def test_status_shows_the_service_table(tmp_path: Path) -> None:
    srv = Server(data_dir=tmp_path, default_args=[
        "--instances", "1", "--driver", "process", "--no-fargate"]).start()
    try:
        ecs = srv.client()
        _instances(ecs, 1)
        name = unique("svc")
        ecs.register_task_definition(family=name, containerDefinitions=[{
            "name": "app", "image": "python", "essential": True, "memory": 32,
            "entryPoint": [sys.executable, "-c"], "command": [SLEEPER], "stopTimeout": 2}])
        ecs.create_service(cluster="default", serviceName=name, taskDefinition=name,
                           desiredCount=2)
        until(lambda: ecs.describe_services(cluster="default", services=[name])["services"][0][
            "runningCount"] == 2, timeout=90)

        out = subprocess.run(
            [sys.executable, "-m", "portside.cli.main", "status", "--endpoint", srv.endpoint],
            capture_output=True, text=True, timeout=60, check=True,
            env={**srv.cli_env(), "COLUMNS": "250"},
        ).stdout
        assert "default: services" in out, out
        (row,) = [x for x in out.splitlines() if name in x and "ACTIVE" in x]
        cells = [c.strip() for c in row.strip("│ ").split("│")]
        assert cells[:4] == [name, "ACTIVE", "2", "2"], row  # service, status, desired, running
        assert "default: tasks" in out
    finally:
        try:
            stop_everything(srv.client())
        finally:
            srv.stop()


def test_an_agent_attribute_reaches_describe_container_instances(tmp_path: Path) -> None:
    srv = Server(data_dir=tmp_path / "server").start()  # --no-agent: the test starts its own
    agent = AgentProcess(srv.endpoint, "default", tmp_path / "agent", driver="process",
                         extra_args=["--attribute", "stack=blue", "--attribute", "gpu-ready"])
    try:
        ecs = srv.client()
        ecs.create_cluster(clusterName="default")
        agent.start()
        (ci,) = ecs.describe_container_instances(
            cluster="default", containerInstances=[agent.instance_arn])["containerInstances"]
        attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
        assert attrs["stack"] == "blue"
        assert "gpu-ready" in attrs and attrs["gpu-ready"] is None  # a name-only attribute
        assert "ecs.os-type" in attrs  # the standard ones are still there
        blue = ecs.list_container_instances(cluster="default", filter="attribute:stack == blue")
        red = ecs.list_container_instances(cluster="default", filter="attribute:stack == red")
        assert blue["containerInstanceArns"] == [agent.instance_arn]
        assert red["containerInstanceArns"] == []
    finally:
        agent.stop()
        srv.stop()
