"""What a task manager knows about its task's containers, and how it says so.

:class:`ContainerRun` is one container as its task manager sees it: the known
status (NONE → PULLED → CREATED → RUNNING → STOPPED), the runtime container,
exit code, reason and health. It converts to what the other parts need — a
:class:`ContainerView` for dependency checks, a ContainerStateChange for the
API (ECS's camelCase, the agent's API boundary), a record for the state dir —
and back from a record and a runtime container when an agent restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portside.agent.dependencies import CREATED, NONE, PULLED, RUNNING, STOPPED, ContainerView
from portside.agent.drivers import base
from portside.agent.drivers.base import RuntimeContainer
from portside.agent.health import HealthState
from portside.agent.payload import ContainerSpec
from portside.agent.state import ContainerRecord

TASK_LIFECYCLE = (
    "NONE",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
)
_RANK = {s: i for i, s in enumerate(TASK_LIFECYCLE)}

OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
VANISHED_REASON = "The container was gone when the agent restarted"


def rank(status: str) -> int:
    return _RANK.get(status, 0)


@dataclass
class ContainerRun:
    spec: ContainerSpec
    status: str = NONE
    runtime: RuntimeContainer | None = None
    exit_code: int | None = None
    reason: str | None = None
    health: HealthState = field(default_factory=HealthState)
    ever_ran: bool = False
    started_mono: float | None = None
    image_id: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def not_started(self) -> bool:
        return self.status in (NONE, PULLED, CREATED)

    def view(self) -> ContainerView:
        return ContainerView(
            status=self.status,
            exit_code=self.exit_code,
            health=self.health.status,
            has_health_check=self.spec.health_check is not None,
            ever_ran=self.ever_ran,
            started_at=self.started_mono,
            start_timeout=self.spec.start_timeout,
        )

    def started(self, rc: RuntimeContainer, now: float) -> None:
        self.runtime = rc
        self.status = RUNNING
        self.ever_ran = True
        self.started_mono = now
        if rc.health is not None:
            self.health = rc.health

    def exited(self, exit_code: int | None, oom: bool = False) -> None:
        self.status = STOPPED
        if exit_code is not None or self.exit_code is None:
            self.exit_code = exit_code
        if oom and not self.reason:
            self.reason = OOM_REASON

    def failed(self, reason: str) -> None:
        """It could not be pulled, created or started: STOPPED without having run."""
        self.status = STOPPED
        self.reason = self.reason or reason

    def api_status(self) -> str:
        """The container's lastStatus as ECS reports it: PENDING, RUNNING or STOPPED."""
        if self.status in (RUNNING, STOPPED):
            return self.status
        return "PENDING"

    def change(self) -> dict[str, Any]:
        """A ContainerStateChange (camelCase, for SubmitTaskStateChange's ``containers``)."""
        rc = self.runtime
        out: dict[str, Any] = {"containerName": self.name, "status": self.api_status()}
        if rc is not None:
            out["runtimeId"] = rc.runtime_id
            if rc.bindings:
                out["networkBindings"] = [
                    {"bindIP": b.bind_ip, "containerPort": b.container_port,
                     "hostPort": b.host_port, "protocol": b.protocol}
                    for b in rc.bindings
                ]
        if self.image_id and self.image_id.startswith("sha256:"):
            out["imageDigest"] = self.image_id
        if self.status == STOPPED and self.exit_code is not None:
            out["exitCode"] = self.exit_code
        if self.reason:
            out["reason"] = self.reason[:1024]
        return out

    def record(self) -> ContainerRecord:
        return ContainerRecord(
            status=self.status,
            exit_code=self.exit_code,
            runtime_id=self.runtime.runtime_id if self.runtime else None,
            reason=self.reason,
            ever_ran=self.ever_ran,
        )

    def restore(self, rec: ContainerRecord | None, rc: RuntimeContainer | None, now: float) -> None:
        """Take up a container an earlier run of the agent knew (``rec``) or left (``rc``)."""
        if rc is not None:
            self.runtime = rc
            if rc.state == base.RUNNING:
                self.started(rc, now)
            elif rc.state == base.EXITED:
                self.ever_ran = bool(rec and rec.ever_ran) or rc.started_at is not None
                self.exited(rc.exit_code, rc.oom_killed)
            else:
                self.status = CREATED
            if rec is not None and rec.reason and not self.reason:
                self.reason = rec.reason
            return
        if rec is None:
            return
        if rec.status in (RUNNING, STOPPED) or rec.ever_ran:
            self.ever_ran = rec.ever_ran or rec.status == RUNNING
            self.status = STOPPED
            self.exit_code = rec.exit_code
            self.reason = rec.reason or (VANISHED_REASON if rec.status == RUNNING else None)
