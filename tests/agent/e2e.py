"""Shared pieces of the end-to-end agent tests: a control plane, agents, and clean-up.

Each test gets its own ``portside up`` (SQLite) and cluster, and starts real
``portside agent`` processes against it (tests/support/agents.py). Clean-up
stops every task through the API and, should something be left, kills what
the agents' state dirs name — only processes and containers these tests made.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Server, unique
from tests.support.agents import AgentProcess


@dataclass
class Cluster:
    server: Server
    ecs: Any
    name: str
    tmp: Path
    agents: list[AgentProcess] = field(default_factory=list)

    def agent(self, driver: str, name: str = "agent", *args: str) -> AgentProcess:
        a = AgentProcess(self.server.endpoint, self.name, self.tmp / name, driver=driver,
                         extra_args=list(args))
        self.agents.append(a)
        return a.start()

    def task_definition(self, containers: list[dict[str, Any]], network_mode: str = "bridge") -> str:
        out = self.ecs.register_task_definition(
            family=unique("e2e"), networkMode=network_mode, containerDefinitions=containers
        )
        return str(out["taskDefinition"]["taskDefinitionArn"])

    def run_task(self, td: str, **kw: Any) -> str:
        out = self.ecs.run_task(cluster=self.name, taskDefinition=td, **kw)
        assert out["failures"] == [], out["failures"]
        return str(out["tasks"][0]["taskArn"])

    def describe(self, arn: str) -> dict[str, Any]:
        return dict(self.ecs.describe_tasks(cluster=self.name, tasks=[arn])["tasks"][0])

    def wait(self, arn: str, status: str, timeout: float = 60) -> dict[str, Any]:
        return dict(until(lambda: _when(self.describe(arn), status), timeout, f"{arn} {status}", self))

    def stop_everything(self) -> None:
        arns = self.ecs.list_tasks(cluster=self.name, desiredStatus="RUNNING")["taskArns"]
        for arn in arns:
            self.ecs.stop_task(cluster=self.name, task=arn, reason="test clean-up")
        if any(a.running for a in self.agents):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                tasks = self.ecs.describe_tasks(cluster=self.name, tasks=arns)["tasks"] if arns else []
                if all(t["lastStatus"] == "STOPPED" for t in tasks):
                    break
                time.sleep(0.2)


def _when(task: dict[str, Any], status: str) -> dict[str, Any] | None:
    return task if task["lastStatus"] == status else None


def until(check: Callable[[], Any], timeout: float, what: str, cluster: Cluster | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            logs = "\n".join(a.log()[-3000:] for a in cluster.agents) if cluster else ""
            raise AssertionError(f"timed out waiting for {what}\nagent logs:\n{logs}")
        time.sleep(0.1)


@contextlib.contextmanager
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    server = Server(data_dir=tmp_path / "server").start()
    try:
        ecs = server.client("ecs")
        name = unique("e2e")
        ecs.create_cluster(clusterName=name)
        c = Cluster(server, ecs, name, tmp_path)
        try:
            yield c
        finally:
            with contextlib.suppress(Exception):
                c.stop_everything()
            for a in c.agents:
                a.stop()
                _kill_leftovers(a.state_dir)
    finally:
        server.stop()


def _kill_leftovers(state_dir: Path) -> None:
    """Kill processes and containers an agent's state dir names (only this test's)."""
    for pid_file in state_dir.glob("processes/*/*.json"):
        if pid_file.name == "network.json":
            continue
        with contextlib.suppress(OSError, ValueError, KeyError):
            doc = json.loads(pid_file.read_text())
            from portside.agent.drivers.process_spawn import is_alive

            if is_alive(doc.get("pid"), doc.get("ticks")):
                os.killpg(int(doc["pid"]), signal.SIGKILL)
    identity = state_dir / "agent.json"
    if identity.exists():
        instance_id = json.loads(identity.read_text()).get("instance_id")
        with contextlib.suppress(Exception):
            import docker

            client = docker.from_env(timeout=30)
            for c in client.containers.list(all=True, filters={"label": f"io.portside.instance-id={instance_id}"}):
                c.remove(force=True)
            client.close()


def needs_docker() -> None:
    from tests.helpers import IN_CI

    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"CI=true but no Docker engine answers: {exc}")
        pytest.skip(f"no Docker engine: {exc}")
