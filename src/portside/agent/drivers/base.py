"""The one protocol every runtime driver implements, and the values it trades in.

A driver turns container specs into running things — Docker containers or host
processes — and reports what happens to them as :class:`RuntimeEvent` values
through the ``emit`` callback given to :meth:`Driver.open`. It holds no task
state of its own beyond what it needs to find its containers again: the task
manager decides, the driver acts. Every method is idempotent where the agent
may repeat it after a restart: ``setup_network`` and ``create`` find what an
earlier run already made (by label, or by pid file) before making anything.

Failures a task can suffer are :class:`ContainerError` with ECS's reason text
(``CannotPullContainerError: …``, ``CannotCreateContainerError: …``,
``CannotStartContainerError: …``); anything else is a bug or an unreachable
engine and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from portside.agent.health import HealthState
from portside.agent.payload import ContainerSpec, TaskSpec

# RuntimeContainer.state
CREATED = "created"
RUNNING = "running"
EXITED = "exited"


class ContainerError(Exception):
    """A container could not be pulled, created or started; ``reason`` is ECS's text."""

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind
        self.reason = f"{kind}: {detail}"
        super().__init__(self.reason)


@dataclass(frozen=True, slots=True)
class NetworkBinding:
    container_port: int
    host_port: int
    protocol: str = "tcp"
    bind_ip: str = "0.0.0.0"


@dataclass(frozen=True, slots=True)
class TaskNetwork:
    """How a task is wired: its own address under awsvpc, and where the agent is."""

    mode: str
    metadata_host: str  # the address a container uses to reach the agent's metadata server
    address: str | None = None  # awsvpc: the task's IPv4 address
    subnet_cidr: str | None = None
    gateway: str | None = None
    mac_address: str | None = None
    sandbox_id: str | None = None  # Docker: the pause container owning the namespace
    sandbox_pid: int | None = None  # Docker: its process (nsenter -t PID -n joins the namespace)


@dataclass(frozen=True, slots=True)
class RuntimeContainer:
    task_arn: str
    name: str
    runtime_id: str
    state: str = CREATED  # created | running | exited
    exit_code: int | None = None
    docker_name: str = ""
    image: str = ""
    image_id: str | None = None
    created_at: str | None = None  # RFC 3339, as Docker reports it
    started_at: str | None = None
    finished_at: str | None = None
    bindings: tuple[NetworkBinding, ...] = ()
    health: HealthState | None = None
    pid: int | None = None
    address: str | None = None  # the container's own IPv4 address, when it has one
    labels: Mapping[str, str] = field(default_factory=dict)
    oom_killed: bool = False


@dataclass(frozen=True, slots=True)
class RuntimeEvent:
    """Something a container did on its own: it exited, or its health changed."""

    task_arn: str
    container_name: str
    runtime_id: str
    exit_code: int | None = None  # set when the container exited
    exited: bool = False
    health: HealthState | None = None
    oom_killed: bool = False


Emit = Callable[[RuntimeEvent], None]


class Driver(Protocol):
    name: str
    pulls_images: bool  # False: pull() is a no-op and tasks report no pull times

    async def open(self, emit: Emit) -> None:
        """Connect to the runtime and start reporting events through ``emit``."""

    async def close(self) -> None:
        """Stop watching; containers keep running."""

    def version(self) -> str:
        """The runtime's version (``versionInfo.dockerVersion``)."""

    def attributes(self) -> list[tuple[str, str | None]]:
        """Capability attributes to register (``ecs.capability.*`` …)."""

    def metadata_addresses(self) -> list[str]:
        """Where the metadata server must listen for containers to reach it."""

    async def existing(self) -> dict[str, list[RuntimeContainer]]:
        """Containers an earlier run of this agent left, by task ARN (for adoption)."""

    async def setup_network(self, task: TaskSpec) -> TaskNetwork:
        """Prepare (or find) the task's network; idempotent."""

    async def teardown_network(self, task: TaskSpec) -> None:
        """Release what setup_network made; idempotent."""

    async def pull(self, container: ContainerSpec) -> str | None:
        """Make the image available; return its id. Raises ContainerError."""

    async def create(
        self, task: TaskSpec, container: ContainerSpec, network: TaskNetwork, env: Mapping[str, str]
    ) -> RuntimeContainer:
        """Create (or find) the container; raises ContainerError."""

    async def start(self, rc: RuntimeContainer) -> RuntimeContainer:
        """Start it; the result carries its network bindings. Raises ContainerError."""

    async def inspect(self, rc: RuntimeContainer) -> RuntimeContainer | None:
        """Its current state, or None when it no longer exists."""

    async def stop(self, rc: RuntimeContainer, timeout: float) -> None:
        """SIGTERM (or the image's stop signal), then SIGKILL after ``timeout`` s."""

    async def remove(self, rc: RuntimeContainer) -> None:
        """Delete it; idempotent."""

    async def stats(self, rc: RuntimeContainer) -> dict[str, Any] | None:
        """Docker-format stats (``docker stats --no-stream`` JSON), or None."""


def environment(container: ContainerSpec, extra: Mapping[str, str]) -> dict[str, str]:
    """The container's environment: its definition's variables, then the agent's."""
    env = dict(container.environment)
    env.update(extra)
    return env
