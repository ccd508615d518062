"""A service's deployment limits, checked on every look while its tasks are replaced.

ECS keeps a rollout or a drain between ``minimumHealthyPercent`` (rounded up)
RUNNING tasks and ``maximumPercent`` (rounded down) tasks that exist. Waiting
only for the end state would let a rollout that broke the limits on the way
pass, so the e2e tests poll with ``within_limits_until``: each poll counts the
tasks not yet STOPPED, the RUNNING ones meant to keep running, and the
workloads the driver really runs (Docker containers, or processes found by an
environment marker), and asserts the limits on each.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Limits:
    desired: int
    minimum_healthy_percent: int
    maximum_percent: int

    @property
    def min_running(self) -> int:
        return math.ceil(self.desired * self.minimum_healthy_percent / 100)

    @property
    def max_alive(self) -> int:
        return math.floor(self.desired * self.maximum_percent / 100)


@dataclass
class Census:
    alive: list[dict[str, Any]]
    """The service's tasks that have not STOPPED (pending, running, or stopping)."""
    running: list[dict[str, Any]]
    """RUNNING tasks that are meant to keep running."""
    workloads: Set[object]
    """What the driver really runs for the service (container task ARNs, process ids)."""

    def __str__(self) -> str:
        rows = [f"{t['taskArn'][-8:]} {t['lastStatus']}/{t['desiredStatus']} "
                f"{t['taskDefinitionArn'][-2:]} {t.get('containerInstanceArn', '')[-8:]}"
                for t in self.alive]
        return (f"{len(self.alive)} alive, {len(self.running)} running, "
                f"{len(self.workloads)} workloads: {rows}")


def census(ecs: Any, service: str, workloads: Callable[[], Set[object]],
           cluster: str = "default") -> Census:
    """The service's tasks and workloads now."""
    # Desired RUNNING first: a task asked to stop in between is then seen in both lists.
    arns: dict[str, None] = {}
    for desired in ("RUNNING", "STOPPED"):
        for page in ecs.get_paginator("list_tasks").paginate(
                cluster=cluster, serviceName=service, desiredStatus=desired):
            arns.update(dict.fromkeys(page["taskArns"]))
    listed = list(arns)
    tasks = [t for i in range(0, len(listed), 100)
             for t in ecs.describe_tasks(cluster=cluster, tasks=listed[i:i + 100])["tasks"]]
    alive = [t for t in tasks if t["lastStatus"] != "STOPPED"]
    running = [t for t in alive
               if t["lastStatus"] == "RUNNING" and t["desiredStatus"] == "RUNNING"]
    return Census(alive, running, workloads())


def within_limits_until(
    ecs: Any, service: str, limits: Limits, workloads: Callable[[], Set[object]],
    done: Callable[[Census], bool], timeout: float, cluster: str = "default",
) -> Census:
    """Poll until ``done(census)``, checking the deployment limits on every poll."""
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        now = census(ecs, service, workloads, cluster)
        polls += 1
        assert len(now.alive) <= limits.max_alive, f"poll {polls}: {now}"
        assert len(now.workloads) <= limits.max_alive, f"poll {polls}: {now.workloads}"
        assert len(now.running) >= limits.min_running, f"poll {polls}: {now}"
        if done(now):
            return now
        assert time.monotonic() < deadline, f"not done within {timeout} s: {now}"
        time.sleep(0.2)


def processes(marker: str) -> set[int]:
    """Live (not zombie) processes with ``E2E_MARKER=marker`` in their environment."""
    out: set[int] = set()
    needle = f"E2E_MARKER={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                out.add(int(entry.name))
    return out
