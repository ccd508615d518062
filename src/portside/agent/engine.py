"""The agent's task table: applies manifests, owns the task managers, routes events.

A ``TaskManifest`` is the control plane's whole desired state for this
instance: every task placed here that is not yet STOPPED. Applying one is
idempotent:

- a task new to the agent gets a :class:`TaskManager` (built from the task's
  record and the containers the driver still has, when the agent restarted);
- a known task whose desired status changed is told so (its manager decides);
- a task the agent runs that is absent from the manifest is stopped — the
  control plane stopped it (perhaps while this agent was away);
- a finished task absent from the manifest, with nothing left to report, is
  forgotten (its record deleted).

On the first manifest after a start, whatever an earlier run left that the
manifest does not mention is stopped and removed: tasks with a record through
a manager (so their exits are reported), stray containers directly.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from portside.agent.drivers.base import Driver, RuntimeContainer, RuntimeEvent, TaskNetwork
from portside.agent.payload import STOPPED, PayloadError, TaskSpec, parse_task
from portside.agent.reporter import Reporter
from portside.agent.service_connect import ServiceConnect
from portside.agent.services import Notifier, TaskServices
from portside.agent.state import StateDir, TaskRecord
from portside.agent.task_manager import STOPPED_BY_CONTROL_PLANE, TaskManager

log = logging.getLogger("portside.agent.engine")


class Engine:
    def __init__(
        self,
        driver: Driver,
        reporter: Reporter,
        state: StateDir,
        notifier: Notifier,
        *,
        metadata_secret: str,
        metadata_port: int = 0,
        region: str = "us-east-1",
    ) -> None:
        self.driver = driver
        self.reporter = reporter
        self.state = state
        self.metadata_secret = metadata_secret.encode()
        self.metadata_port = metadata_port
        self.region = region
        self.managers: dict[str, TaskManager] = {}
        self.tokens: dict[str, tuple[str, str]] = {}
        self._leftovers: dict[str, list[RuntimeContainer]] | None = None
        self._records: dict[str, TaskRecord] = {}
        # bridge ingress ports come from the driver's allocator when it has one (process)
        self.connect = ServiceConnect(state.root / "service-connect", driver.name,
                                      getattr(driver, "ports", None))
        self.services = TaskServices(
            driver, reporter, state, notifier, self.container_env, connect=self.connect
        )

    async def open(self) -> None:
        """Collect what an earlier run left (before the first manifest arrives)."""
        self._leftovers = await self.driver.existing()
        self._records = {r.task_arn: r for r in self.state.task_records()}
        if self._leftovers or self._records:
            log.info(
                "found %d task(s) with containers and %d task record(s) from an earlier run",
                len(self._leftovers), len(self._records),
            )

    def on_runtime_event(self, event: RuntimeEvent) -> None:
        m = self.managers.get(event.task_arn)
        if m is not None:
            m.runtime_event(event)

    # -- manifests --------------------------------------------------------

    async def apply_manifest(self, tasks: Iterable[Mapping[str, Any]]) -> None:
        wanted: dict[str, tuple[TaskSpec, Mapping[str, Any]]] = {}
        for raw in tasks:
            try:
                spec = parse_task(raw)
            except PayloadError as exc:
                log.warning("ignoring a task payload: %s", exc)
                continue
            wanted[spec.task_arn] = (spec, raw)
            self.connect.desired(spec.task_arn, raw.get("serviceConnect"))
        for arn, (spec, raw) in wanted.items():
            m = self.managers.get(arn)
            if m is None:
                self._launch(spec, raw)
            elif not m.done.is_set() and spec.desired_status != m.desired_status:
                m.desired(spec)
        for arn, m in list(self.managers.items()):
            if arn in wanted:
                continue
            if m.done.is_set():
                if self.reporter.pending(arn) == 0:
                    self._forget(arn)
            elif m.desired_status != STOPPED:
                m.desired(replace(m.spec, desired_status=STOPPED, stop_reason=STOPPED_BY_CONTROL_PLANE))
        if self._leftovers is not None:
            await self._clean_leftovers(set(wanted))

    def _launch(self, spec: TaskSpec, raw: Mapping[str, Any], *, found: list[RuntimeContainer] | None = None) -> TaskManager:
        record = self._records.pop(spec.task_arn, None) or self.state.load_task(spec.task_arn)
        if found is None:
            found = (self._leftovers or {}).pop(spec.task_arn, [])
        m = TaskManager(spec, self.services, record, found, payload=raw)
        self.managers[spec.task_arn] = m
        for c in spec.containers:
            self.tokens[self.token(spec.task_arn, c.name)] = (spec.task_arn, c.name)
        m.start()
        return m

    async def _clean_leftovers(self, wanted: set[str]) -> None:
        leftovers, self._leftovers = self._leftovers or {}, None
        records, self._records = self._records, {}
        for arn, record in records.items():
            if arn in wanted or arn in self.managers:
                continue
            found = leftovers.pop(arn, [])
            if record.known_status == "STOPPED" and not found:
                self.state.forget_task(arn)
                continue
            try:
                spec = parse_task({**record.payload, "taskArn": arn})
            except PayloadError:
                leftovers[arn] = found
                continue
            log.info("stopping %s: the control plane no longer runs it", arn)
            stop = replace(spec, desired_status=STOPPED, stop_reason=STOPPED_BY_CONTROL_PLANE)
            self._launch(stop, record.payload, found=found)
        for arn, containers in leftovers.items():
            if arn in wanted or arn in self.managers:
                continue
            log.info("removing %d stray container(s) of %s", len(containers), arn)
            for rc in containers:
                try:
                    await self.driver.stop(rc, 10)
                    await self.driver.remove(rc)
                except Exception:
                    log.exception("removing a stray container of %s", arn)
            await self.driver.teardown_network(TaskSpec(task_arn=arn, network_mode="awsvpc"))

    def _forget(self, arn: str) -> None:
        m = self.managers.pop(arn)
        self.connect.sections.pop(arn, None)
        self.state.forget_task(arn)
        self.services.notifier.forget(arn)
        for c in m.spec.containers:
            self.tokens.pop(self.token(arn, c.name), None)

    # -- views ------------------------------------------------------------

    def running_tasks(self) -> list[str]:
        return sorted(arn for arn, m in self.managers.items() if m.known == "RUNNING")

    def active(self) -> list[TaskManager]:
        return [m for m in self.managers.values() if not m.done.is_set()]

    def token(self, task_arn: str, container: str) -> str:
        msg = f"{task_arn}\n{container}".encode()
        return hmac.new(self.metadata_secret, msg, hashlib.sha256).hexdigest()[:32]

    def resolve(self, token: str) -> tuple[TaskManager, str] | None:
        found = self.tokens.get(token)
        if found is None:
            return None
        m = self.managers.get(found[0])
        return (m, found[1]) if m is not None else None

    def container_env(self, task: TaskSpec, container: str, network: TaskNetwork) -> dict[str, str]:
        """What ECS adds to every container's environment."""
        base = f"http://{network.metadata_host}:{self.metadata_port}"
        token = self.token(task.task_arn, container)
        return {
            "ECS_CONTAINER_METADATA_URI_V4": f"{base}/v4/{token}",
            "ECS_AGENT_URI": f"{base}/api/{token}",
            "AWS_EXECUTION_ENV": "AWS_ECS_EC2",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    async def shutdown(self) -> None:
        """Stop managing (containers keep running; a restarted agent adopts them)."""
        for m in self.managers.values():
            m.cancel()
