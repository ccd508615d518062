"""What a task manager needs from the rest of the agent, in one place.

The driver acts on containers, the reporter carries state changes to the
control plane's API, the state dir keeps the task's record, the notifier sends
what travels on the session (task health, awsvpc addresses), and
``container_env`` adds what ECS puts in every container's environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from portside.agent.drivers.base import Driver, TaskNetwork
from portside.agent.payload import TaskSpec
from portside.agent.reporter import Reporter
from portside.agent.service_connect import ServiceConnect
from portside.agent.state import StateDir


class Notifier(Protocol):
    def task_health(self, task_arn: str, status: str, containers: list[tuple[str, str]]) -> None: ...

    def task_network(self, task_arn: str, network: TaskNetwork, containers: list[str]) -> None: ...

    def forget(self, task_arn: str) -> None: ...


@dataclass
class TaskServices:
    driver: Driver
    reporter: Reporter
    state: StateDir
    notifier: Notifier
    container_env: Callable[[TaskSpec, str, TaskNetwork], Mapping[str, str]]
    connect: ServiceConnect | None = None  # Service Connect proxies (agent/service_connect.py)
