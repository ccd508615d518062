"""An agent without a control plane: the real engine, task managers and drivers.

The control plane's API is replaced by :class:`RecordingEcs`, a plain object
with the one method the reporter calls (``call``) that records every report
and acknowledges it, and the session's outbox by :class:`RecordingNotifier`.
Everything below them — the engine, the task managers, the drivers, the
metadata server, the real processes and containers — is what ``portside
agent`` runs.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portside.agent.drivers.base import Driver, TaskNetwork
from portside.agent.engine import Engine
from portside.agent.main import start_metadata
from portside.agent.metadata import MetadataServer
from portside.agent.reporter import Reporter
from portside.agent.state import StateDir

CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/rig"


class RecordingEcs:
    """Acknowledges every ECS call and remembers it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_next = 0

    async def call(self, operation: str, params: dict[str, Any], *, bootstrap: bool = False) -> dict[str, Any]:
        from portside.agent.ecs_client import EcsError

        if self.fail_next:
            self.fail_next -= 1
            raise EcsError("ServerException", "try again", 500)
        self.calls.append((operation, json.loads(json.dumps(params))))
        return {"acknowledgment": "ACK"}

    def task_reports(self, task_arn: str) -> list[dict[str, Any]]:
        return [p for op, p in self.calls if op == "SubmitTaskStateChange" and p["task"] == task_arn]

    def statuses(self, task_arn: str) -> list[str]:
        return [p["status"] for p in self.task_reports(task_arn)]

    def last(self, task_arn: str) -> dict[str, Any]:
        return self.task_reports(task_arn)[-1]

    def container(self, task_arn: str, name: str) -> dict[str, Any]:
        """The container's state in the latest task report."""
        return next(c for c in self.last(task_arn)["containers"] if c["containerName"] == name)


@dataclass
class RecordingNotifier:
    health: list[tuple[str, str, list[tuple[str, str]]]] = field(default_factory=list)
    networks: list[tuple[str, TaskNetwork, list[str]]] = field(default_factory=list)

    def task_health(self, task_arn: str, status: str, containers: list[tuple[str, str]]) -> None:
        self.health.append((task_arn, status, containers))

    def task_network(self, task_arn: str, network: TaskNetwork, containers: list[str]) -> None:
        self.networks.append((task_arn, network, containers))

    def forget(self, task_arn: str) -> None:
        pass


@dataclass
class Rig:
    """One agent's worth of machinery over ``state_dir`` with ``driver``."""

    state_dir: Path
    driver: Driver
    ecs: RecordingEcs = field(default_factory=RecordingEcs)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    engine: Engine | None = None
    metadata: MetadataServer | None = None
    crashed: bool = False

    async def __aenter__(self) -> Rig:
        state = StateDir(self.state_dir)
        state.prepare()
        identity = state.load_identity()
        await self.driver.open(lambda e: self.engine.on_runtime_event(e) if self.engine else None)
        self.metadata = MetadataServer(lambda t: self.engine.resolve(t) if self.engine else None, self.driver)
        # as the agent does: the port it had, else (another process took that ephemeral
        # port while it was away) a new one
        port = await start_metadata(self.metadata, self.driver, identity.metadata_port or 0, None)
        identity.metadata_port = port
        state.save_identity(identity)
        self.engine = Engine(
            self.driver, Reporter(self.ecs, CLUSTER), state, self.notifier,
            metadata_secret=identity.metadata_secret, metadata_port=port,
        )
        await self.engine.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.engine is not None and not self.crashed:
            await self.engine.apply_manifest([])  # stop everything the test left running
            await asyncio.wait_for(
                asyncio.gather(*(m.done.wait() for m in self.engine.managers.values())), 60
            )
        await self.crash()

    async def crash(self) -> None:
        """Stop the agent the way a kill does: managers gone, containers left running."""
        if self.crashed:
            return
        self.crashed = True
        if self.engine is not None:
            await self.engine.shutdown()
            await asyncio.sleep(0)
            await self.engine.reporter.close()
        if self.metadata is not None:
            await self.metadata.stop()
        await self.driver.close()

    @property
    def e(self) -> Engine:
        assert self.engine is not None
        return self.engine

    async def run(self, *payloads: dict[str, Any]) -> None:
        await self.e.apply_manifest(list(payloads))

    async def until(self, check: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
        """Poll ``check`` until truthy; generous by default (CI machines are loaded)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = check()
            except (AssertionError, KeyError, IndexError, StopIteration):
                result = None
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or check}; reports: {self.ecs.calls[-5:]}")
            await asyncio.sleep(0.05)

    async def status(self, arn: str, status: str, timeout: float = 60) -> dict[str, Any]:
        try:
            await self.until(lambda: status in self.ecs.statuses(arn), timeout, f"{arn} {status}")
        except AssertionError as exc:  # say where that task got to, for a failure seen once
            m = self.e.managers.get(arn)
            where = "no manager" if m is None else (
                f"known {m.known}, containers "
                f"{ {n: c.status for n, c in m.containers.items()} }, "
                f"its run task {'done' if m._task is None or m._task.done() else 'running'}"
                + (f": {m._task.exception()!r}" if m._task is not None and m._task.done()
                   and not m._task.cancelled() and m._task.exception() else ""))
            raise AssertionError(f"{exc}; its statuses: {self.ecs.statuses(arn)}; {where}") from None
        await self.e.reporter.flush(5)
        return next(p for p in self.ecs.task_reports(arn) if p["status"] == status)


def task_arn(prefix: str = "t") -> str:
    return f"arn:aws:ecs:us-east-1:000000000000:task/rig/{prefix}{uuid.uuid4().hex[:24]}"


def payload(containers: list[dict[str, Any]], network_mode: str = "bridge", **extra: Any) -> dict[str, Any]:
    return {
        "taskArn": task_arn(),
        "clusterArn": CLUSTER,
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/rig:1",
        "family": "rig",
        "revision": 1,
        "version": 1,
        "desiredStatus": "RUNNING",
        "networkMode": network_mode,
        "launchType": "EC2",
        "availabilityZone": "us-east-1a",
        "containers": containers,
        **extra,
    }


def stopped(p: dict[str, Any], reason: str = "Task stopped by user") -> dict[str, Any]:
    return {**p, "desiredStatus": "STOPPED", "stopReason": reason, "stopCode": "UserInitiated"}


async def http_get(url: str, timeout: float = 60) -> bytes:
    """GET url from the test (in a thread), retrying until it answers."""
    deadline = time.monotonic() + timeout

    def once() -> bytes:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bytes(r.read())

    while True:
        try:
            return await asyncio.to_thread(once)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
