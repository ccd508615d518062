"""The launcher protocol: start an instance, stop it, say whether it is still there.

A launcher does what EC2 and the instance's init system do around the ECS
agent; it decides nothing. Calls block (they run in a worker thread) and fail
with :class:`LaunchError`, whose message becomes the cause of a scaling
activity, never a crash of the loop.

How an instance becomes a container instance: the agent it runs registers
with ``ec2InstanceId`` equal to the instance id, or with the custom attribute
``portside.instance-id`` set to it (:data:`INSTANCE_ATTRIBUTE`); the loop then
marks the instance InService and the container instance as the capacity
provider's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from portside.controllers.capacity_model import GroupInstance, InstanceGroup, InstanceSpec

INSTANCE_ATTRIBUTE = "portside.instance-id"
"""The container instance attribute naming the group instance it runs on."""


class LaunchError(Exception):
    """A launcher could not start or stop an instance; the message says why."""


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """Everything a launcher needs to start (or stop) one instance."""

    group: InstanceGroup
    instance: GroupInstance
    spec: InstanceSpec
    cluster: str
    """The name of the cluster the instance joins (the one naming the group's provider)."""
    endpoint: str
    """The control plane's URL, as an agent on this machine reaches it."""
    region: str


@dataclass(frozen=True, slots=True)
class Exited:
    """An instance's agent process ended on its own."""

    code: int | None
    detail: str


class Launcher(Protocol):
    def launch(self, req: LaunchRequest) -> None:
        """Start the instance (again, after a control plane restart: adopt what it left)."""
        ...

    def terminate(self, req: LaunchRequest) -> None:
        """Stop the instance for good (it has been drained and deregistered)."""
        ...

    def tracks(self, instance_id: str) -> bool:
        """Whether this launcher has the instance in hand (False after a restart)."""
        ...

    def exited(self, instance_id: str) -> Exited | None:
        """Why an instance it started is gone on its own, or None while it runs."""
        ...

    def close(self) -> None:
        """The control plane stops: let go of what this launcher runs."""
        ...
