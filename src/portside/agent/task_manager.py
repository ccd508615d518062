"""One actor per ECS task: the only writer of the task's known status.

After amazon-ecs-agent's task_manager.go, at Python size. Everything that can
happen to a task arrives on the manager's queue — a new desired state from the
control plane (a TaskPayload), a container that exited, a health check that
changed — and only the manager's own coroutine applies it, decides the next
transition, acts through the driver, records the result in the state dir and
hands the report to the reporter. Nothing else writes the task's state, so no
lock is needed and no transition is lost or repeated.

The walk, each move reported with SubmitTaskStateChange (the containers'
states travel with it; a container change while the task is RUNNING goes
alone with SubmitContainerStateChange):

    PENDING         set up the network (awsvpc: the task's own address), pull
                    images, then create and start containers as their
                    ``dependsOn`` conditions are met
    ACTIVATING      every container has started (or, non-essential, finished);
                    the awsvpc attachment is sent to the control plane
    RUNNING         until the control plane wants it stopped or an essential
                    container exits ("Essential container in task exited")
    DEACTIVATING    the stop is decided
    STOPPING        containers stop, dependents before their dependencies,
                    each with SIGTERM then SIGKILL after its ``stopTimeout``
    DEPROVISIONING  containers are removed and the network released
    STOPPED         with every container's exit code

A failure to pull, create or start an essential container — or a dependency
that can never be met — stops the task with that container's reason
(``CannotPullContainerError: …`` and the like). A restarted agent builds the
manager from the task's record and the containers the driver still has, and
the same walk resumes where the record left it: running containers are
adopted, finished ones are not started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from portside.agent.dependencies import (
    CREATED,
    NONE,
    PULLED,
    RUNNING,
    STOPPED,
    Resolution,
    can_start,
    stop_waves,
)
from portside.agent.drivers.base import (
    ContainerError,
    RuntimeContainer,
    RuntimeEvent,
    TaskNetwork,
    environment,
)
from portside.agent.health import task_health
from portside.agent.payload import TaskSpec
from portside.agent.services import TaskServices
from portside.agent.state import TaskRecord
from portside.agent.task_state import VANISHED_REASON, ContainerRun, rank

log = logging.getLogger("portside.agent.task")
T = TypeVar("T")

ESSENTIAL_EXITED = "Essential container in task exited"
RECORDED = frozenset({"PENDING", "RUNNING", "STOPPED"})
"""Task moves written to the state dir before they are reported (see agent/state.py)."""
STOPPED_BY_CONTROL_PLANE = "Task stopped by the control plane"


class _Stop(Exception):
    """The task must stop now (requested, or an essential container is gone)."""


class _Skip(Exception):
    """A non-essential container failed; the task goes on without it."""


Event = TaskSpec | RuntimeEvent


class TaskManager:
    def __init__(
        self,
        spec: TaskSpec,
        services: TaskServices,
        record: TaskRecord | None = None,
        found: Iterable[RuntimeContainer] = (),
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.s = services
        self.payload = dict(payload or (record.payload if record else {}))
        self.known = record.known_status if record else NONE
        self.reason: str | None = record.reason if record else None
        self.containers = {c.name: ContainerRun(c) for c in spec.containers}
        self.network: TaskNetwork | None = None
        self.health = "UNKNOWN"
        self.pull_started_at: float | None = None
        self.pull_stopped_at: float | None = None
        self.execution_stopped_at: float | None = None
        self.desired_status = spec.desired_status
        self._stop_requested = spec.wants_stop
        if spec.wants_stop:
            self.reason = self.reason or spec.stop_reason or STOPPED_BY_CONTROL_PLANE
        self._essential_exit: str | None = None
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self.done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        by_name = {rc.name: rc for rc in found}
        now = time.monotonic()
        for name, c in self.containers.items():
            c.restore(record.containers.get(name) if record else None, by_name.get(name), now)
        self._note_essential_exits()

    @property
    def task_arn(self) -> str:
        return self.spec.task_arn

    # -- inbound: only enqueue -------------------------------------------

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name=f"task-{self.spec.task_id[:8]}")
        return self._task

    def cancel(self) -> None:
        """Stop managing (the agent is exiting); the containers are left as they are."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def desired(self, spec: TaskSpec) -> None:
        self._events.put_nowait(spec)

    def runtime_event(self, event: RuntimeEvent) -> None:
        self._events.put_nowait(event)

    # -- the actor --------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("task %s failed in the agent", self.task_arn)
            self.reason = self.reason or f"portside agent error: {exc}"
            with contextlib.suppress(Exception):
                await self._shut_down()
            self._move("STOPPED")
        finally:
            self.done.set()

    async def _run(self) -> None:
        if self.known != "NONE":
            self._report_task()  # restored: the control plane may not have heard the last move
        if self.known == "STOPPED":
            return
        await self._refresh()
        self._drain()
        try:
            if self._stop_requested and all(c.status == NONE for c in self.containers.values()):
                raise _Stop
            await self._start_up()
            await self._steady()
        except _Stop:
            pass
        await self._shut_down()

    async def _refresh(self) -> None:
        """Re-read adopted containers: what they did before this manager listened is not lost."""
        adopted = [c for c in self.containers.values() if c.status == RUNNING and c.runtime is not None]
        for c in adopted:
            assert c.runtime is not None
            rc = await self.s.driver.inspect(c.runtime)
            if rc is None:
                c.exited(None)
                c.reason = c.reason or VANISHED_REASON
            elif rc.state == "exited":
                c.runtime = rc
                c.exited(rc.exit_code, rc.oom_killed)
            elif rc.health is not None:
                c.health = rc.health
        self._note_essential_exits()
        if any(c.spec.health_check is not None for c in adopted):
            self._health_changed()

    async def _start_up(self) -> None:
        self._move("PENDING")
        wired = self.s.connect.network_spec(self.spec) if self.s.connect is not None else self.spec
        self.network = await self._act(None, self.s.driver.setup_network(wired))
        if self.s.connect is not None:  # the Service Connect proxy, before any container
            await self._act(None, self.s.connect.start(self.spec, self.network))
            for c in self.containers.values():  # adopted ones, after an agent restart
                rc = c.runtime if c.status == RUNNING else None
                if rc is not None and await self._connected(c, rc):  # new ingress ports
                    self._container_changed(c)
        await self._pull_all()
        while True:
            self._drain()
            self._check_stop()
            launched = False
            for c in self.containers.values():
                if not c.not_started:
                    continue
                verdict = can_start(c.spec, self._views(), time.monotonic())
                if verdict.resolution is Resolution.MET:
                    with contextlib.suppress(_Skip):
                        await self._launch(c)
                    launched = True
                elif verdict.resolution is Resolution.IMPOSSIBLE:
                    self._fail(c, f"CannotStartContainerError: {verdict.reason}")
            if all(c.status in (RUNNING, STOPPED) for c in self.containers.values()):
                self._check_stop()
                return
            if not launched:
                await self._wait(1.0)

    async def _pull_all(self) -> None:
        try:
            for c in self.containers.values():
                if c.status != NONE:
                    continue
                if self.pull_started_at is None and self.s.driver.pulls_images:
                    self.pull_started_at = time.time()
                try:
                    c.image_id = await self._act(c, self.s.driver.pull(c.spec))
                except _Skip:
                    continue
                c.status = PULLED
        finally:
            if self.pull_started_at is not None:
                self.pull_stopped_at = time.time()

    async def _launch(self, c: ContainerRun) -> None:
        assert self.network is not None
        if c.status in (NONE, PULLED) or c.runtime is None:
            env = environment(c.spec, self.s.container_env(self.spec, c.name, self.network))
            spec = c.spec
            if self.s.connect is not None:
                spec, env = self.s.connect.container(self.spec, spec, env)
            c.runtime = await self._act(c, self.s.driver.create(self.spec, spec, self.network, env))
            c.status = CREATED
        rc = await self._act(c, self.s.driver.start(c.runtime))
        if rc.state == "exited" or c.status == STOPPED:
            # It exited already: the start says so, or its exit event came (and was applied,
            # in _act) before the start's answer, which then must not make it RUNNING again.
            c.runtime = rc
            c.ever_ran = True
            if rc.state == "exited":
                c.exited(rc.exit_code, rc.oom_killed)
            self._note_essential_exits()
        else:
            c.started(rc, time.monotonic())
            await self._connected(c, rc)
        self._container_changed(c)

    async def _connected(self, c: ContainerRun, rc: RuntimeContainer) -> bool:
        """Tell Service Connect the container runs (Docker bridge: its aliases join its
        namespace; bridge: the proxy's ingress leads to it). Its ingress host ports are
        reported as the container's bindings; True when it has some."""
        if self.s.connect is None:
            return False
        extra = await self.s.connect.container_started(self.spec, c.spec, rc)
        if extra:
            c.runtime = replace(rc, bindings=rc.bindings + extra)
        return bool(extra)

    async def _steady(self) -> None:
        self._move("ACTIVATING")
        if self.network is not None and self.network.address:
            self.s.notifier.task_network(self.task_arn, self.network, list(self.containers))
        self._move("RUNNING")
        while True:
            self._drain()
            self._check_stop()
            await self._wait(None)

    async def _shut_down(self) -> None:
        if self.known == "NONE":
            for c in self.containers.values():
                c.status = STOPPED
            self._move("STOPPED")
            return
        self._move("DEACTIVATING")
        self._move("STOPPING")
        for wave in stop_waves([c.spec for c in self.containers.values()]):
            await asyncio.gather(*(self._stop_container(self.containers[n]) for n in wave))
        self.execution_stopped_at = time.time()
        self._drain()
        self._move("DEPROVISIONING")
        for c in self.containers.values():
            if c.runtime is not None:
                with contextlib.suppress(Exception):
                    await self.s.driver.remove(c.runtime)
        if self.s.connect is not None:
            with contextlib.suppress(Exception):
                await self.s.connect.stop(self.task_arn, self.spec.task_id)
        with contextlib.suppress(Exception):
            await self.s.driver.teardown_network(self.spec)
        self._move("STOPPED")

    async def _stop_container(self, c: ContainerRun) -> None:
        if c.status == STOPPED:
            return
        if c.runtime is None or c.status != RUNNING:
            c.status = STOPPED
            return
        await self.s.driver.stop(c.runtime, c.spec.effective_stop_timeout)
        rc = await self.s.driver.inspect(c.runtime)
        c.exited(rc.exit_code if rc is not None else None, bool(rc and rc.oom_killed))

    # -- events -----------------------------------------------------------

    def _apply(self, event: Event) -> None:
        if isinstance(event, TaskSpec):
            self.spec = replace(event, containers=self.spec.containers)
            self.desired_status = event.desired_status
            if event.wants_stop and not self._stop_requested:
                self._stop_requested = True
                self.reason = self.reason or event.stop_reason or STOPPED_BY_CONTROL_PLANE
                self._save()
            return
        c = self.containers.get(event.container_name)
        if c is None or c.runtime is None or c.runtime.runtime_id != event.runtime_id:
            return
        if event.exited:
            if c.status == STOPPED:
                if c.exit_code is None and event.exit_code is not None:
                    c.exit_code = event.exit_code  # the runtime knew it after all
                    self._container_changed(c)
                return
            c.exited(event.exit_code, event.oom_killed)
            self._note_essential_exits()
            self._container_changed(c)
        elif event.health is not None and c.status == RUNNING:
            health = event.health
            if health.status != c.health.status:
                c.health = replace(health, status_since=health.status_since or time.time())
                self._health_changed()
            else:
                c.health = replace(health, status_since=c.health.status_since)

    def _drain(self) -> None:
        while not self._events.empty():
            self._apply(self._events.get_nowait())

    async def _wait(self, timeout: float | None) -> None:
        """Apply the next event (waiting up to ``timeout`` s for one), then any queued behind it."""
        try:
            event = await asyncio.wait_for(self._events.get(), timeout)
        except TimeoutError:
            return
        self._apply(event)
        self._drain()

    def _check_stop(self) -> None:
        if self._stop_requested or self._essential_exit:
            raise _Stop

    def _note_essential_exits(self) -> None:
        for c in self.containers.values():
            if c.spec.essential and c.status == STOPPED and not self._essential_exit:
                self._essential_exit = c.name
                if not self._stop_requested and not self.reason:
                    self.reason = ESSENTIAL_EXITED if c.ever_ran else c.reason

    def _fail(self, c: ContainerRun, reason: str) -> None:
        c.failed(reason)
        if c.spec.essential and not self._stop_requested:
            self.reason = self.reason or reason
        self._note_essential_exits()
        self._container_changed(c)

    async def _act(self, c: ContainerRun | None, aw: Awaitable[T]) -> T:
        """Run a driver step, applying events meanwhile; a stop request or failure ends the start."""
        step = asyncio.ensure_future(aw)
        while not step.done():
            getter = asyncio.ensure_future(self._events.get())
            await asyncio.wait({step, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                self._apply(getter.result())
            else:
                getter.cancel()
            if self._stop_requested and not step.done():
                step.cancel()
                with contextlib.suppress(BaseException):
                    await step
                raise _Stop
        try:
            return step.result()
        except ContainerError as exc:
            if c is None:
                for other in self.containers.values():
                    if other.not_started:
                        other.failed(exc.reason)
                self.reason = self.reason or exc.reason
                self._note_essential_exits()
                raise _Stop from exc
            self._fail(c, exc.reason)
            if c.spec.essential:
                raise _Stop from exc
            raise _Skip from exc

    # -- state and reports -----------------------------------------------

    def _views(self) -> dict[str, Any]:
        return {name: c.view() for name, c in self.containers.items()}

    def _move(self, status: str) -> None:
        if rank(status) <= rank(self.known):
            return
        self.known = status
        if status in RECORDED:
            self._save()
        self._report_task()

    def _save(self) -> None:
        record = TaskRecord(
            task_arn=self.task_arn,
            payload=self.payload,
            known_status=self.known,
            reason=self.reason,
            containers={name: c.record() for name, c in self.containers.items()},
        )
        self.s.state.save_task(record)

    def _report_task(self) -> None:
        stopping = rank(self.known) >= rank("DEACTIVATING")
        self.s.reporter.task_changed(
            self.task_arn,
            self.known,
            reason=(self.reason or None) if stopping else None,
            containers=[c.change() for c in self.containers.values()],
            pullStartedAt=self.pull_started_at,
            pullStoppedAt=self.pull_stopped_at,
            executionStoppedAt=self.execution_stopped_at if self.known == "STOPPED" else None,
        )

    def _container_changed(self, c: ContainerRun) -> None:
        self._save()
        if self.known == "RUNNING":
            self.s.reporter.container_changed(self.task_arn, c.change())

    def _health_changed(self) -> None:
        status = task_health(
            (c.spec.essential, c.spec.health_check is not None, c.health.status)
            for c in self.containers.values()
        )
        self.health = status
        self.s.notifier.task_health(
            self.task_arn, status, [(c.name, c.health.status) for c in self.containers.values()]
        )
