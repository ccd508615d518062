"""The process driver: each container is ``entryPoint + command`` run on the host.

No image is used (``image`` is recorded, never pulled). Each container runs
under a small shim (drivers/shim.py) in its own session — forked by the
agent's shim server (drivers/shim_server.py), which is much cheaper than a
new interpreter per container; the container process
is its own process group, which is what stop signals (SIGTERM, then SIGKILL
after ``stopTimeout``). Output goes to ``STATE_DIR/processes/<task-id>/
<container>.stdout`` and ``.stderr``. A pid file per container (``<container>
.json``: shim pid, process pid and their start times from /proc) lets a
restarted agent adopt a process that is still running instead of starting it
again; the shim writes the exit code to ``<container>.status``. A finished
task's directory (its output) is deleted three hours after it stopped.

Environment, addresses and ports: see drivers/process_env.py.

Limits. ``memory`` (the container's hard limit in MiB, or the task's for a
container without one) is enforced as RLIMIT_AS, the address-space limit:
allocation past it fails in the process (runtimes that reserve large virtual
ranges, such as the JVM or Go, need headroom). ``ulimits`` from the definition
are applied with setrlimit. Where the agent may create cgroups, each task
also gets its own with a CPU quota and a memory limit from what it reserved
(drivers/cgroups.py); elsewhere ``cpu`` counts for placement only, and the
agent's log says so when it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portside.agent.drivers.base import (
    CREATED,
    EXITED,
    RUNNING,
    ContainerError,
    Emit,
    NetworkBinding,
    RuntimeContainer,
    RuntimeEvent,
    TaskNetwork,
)
from portside.agent.drivers.cgroups import BASE as CGROUP_BASE
from portside.agent.drivers.cgroups import Cgroups, detect, task_limits
from portside.agent.drivers.proc_stats import sample, with_previous
from portside.agent.drivers.process_env import (
    AWSVPC_NET,
    mac_address,
    pick_address,
    ports_for,
    process_environment,
)
from portside.agent.drivers.process_spawn import Launch, ProcessFile, is_alive, reap, spawn
from portside.agent.drivers.shim_server import ShimServer
from portside.agent.health import HealthState, probe_loop
from portside.agent.payload import ContainerSpec, TaskSpec
from portside.agent.ports import PortAllocator

log = logging.getLogger("portside.agent.process")

MIB = 1024 * 1024
LOG_RETENTION = 3 * 3600.0
"""Seconds a finished task's output is kept (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION's default)."""


class ProcessDriver:
    name = "process"
    pulls_images = False

    def __init__(
        self, state_dir: Path, *, ports: PortAllocator | None = None, cgroups: Path | None = CGROUP_BASE
    ) -> None:
        """``cgroups``: where the cgroup filesystem is (None: limit nothing through cgroups)."""
        self.root = state_dir / "processes"
        self.ports = ports or PortAllocator()
        self._emit: Emit | None = None
        self._watchers: dict[str, asyncio.Future[int | None]] = {}
        self._health: dict[str, asyncio.Task[None]] = {}
        self._launches: dict[str, Launch] = {}
        self._stats: dict[str, dict[str, Any]] = {}
        self._addresses: dict[str, str] = {}
        self._shims = ShimServer()
        self._cgroup_base = cgroups
        self._cgroups: Cgroups | None = None

    async def open(self, emit: Emit) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._emit = emit
        self._prune(time.time() - LOG_RETENTION)
        found = detect(self._cgroup_base) if self._cgroup_base is not None else "turned off"
        if isinstance(found, str):
            log.info("no task cgroups (%s): cpu counts for placement only, memory is "
                     "enforced as RLIMIT_AS only", found)
        else:
            self._cgroups = found
            found.prune(time.time() - 60)
            log.info("task cpu and memory limits through %s", found.describe())

    def _task_cgroups(self, task: TaskSpec) -> list[str]:
        """The task's cgroup.procs files, its cgroups made (none when they cannot be)."""
        if self._cgroups is None:
            return []
        try:
            return self._cgroups.create(task.task_id, task_limits(task))
        except OSError as exc:
            log.warning("%s runs without a cgroup: %s", task.task_arn, exc)
            return []

    def _prune(self, before: float) -> None:
        """Delete the directories (logs) of tasks long finished: nothing runs there any more."""
        for d in self.root.iterdir():
            if not d.is_dir() or any(p.name != "network.json" for p in d.glob("*.json")):
                continue
            with contextlib.suppress(OSError):
                if d.stat().st_mtime < before:
                    shutil.rmtree(d)

    async def close(self) -> None:
        for task in self._health.values():
            task.cancel()
        for fut in self._watchers.values():
            fut.cancel()
        self._shims.close()

    def version(self) -> str:
        return ""

    def attributes(self) -> list[tuple[str, str | None]]:
        return [
            ("ecs.capability.task-eni", None),
            ("ecs.capability.container-health-check", None),
            ("ecs.capability.container-ordering", None),
            ("portside.driver", "process"),
        ]

    def metadata_addresses(self) -> list[str]:
        return ["127.0.0.1"]

    # -- files ------------------------------------------------------------

    def task_dir(self, task_arn: str) -> Path:
        return self.root / task_arn.rsplit("/", 1)[-1]

    def _file(self, task_arn: str, name: str) -> ProcessFile:
        return ProcessFile(self.task_dir(task_arn), name)

    # -- adoption ---------------------------------------------------------

    async def existing(self) -> dict[str, list[RuntimeContainer]]:
        found: dict[str, list[RuntimeContainer]] = {}
        if not self.root.exists():
            return found
        for pid_file in sorted(self.root.glob("*/*.json")):
            if pid_file.name == "network.json":
                continue
            pf = ProcessFile(pid_file.parent, pid_file.stem)
            doc = pf.read()
            if doc is None or "shim_pid" not in doc:
                continue  # created, never started: the task manager starts it afresh
            rc = self._runtime(doc, pf)
            for b in rc.bindings:
                self.ports.claim(b.host_port, b.protocol)
            if rc.state == RUNNING:
                self._watch(rc, doc)
            found.setdefault(rc.task_arn, []).append(rc)
        for net in self.root.glob("*/network.json"):
            try:
                doc = json.loads(net.read_text())
                self._addresses[doc["task_arn"]] = doc["address"]
            except (OSError, ValueError, KeyError):
                continue
        return found

    def _runtime(self, doc: Mapping[str, Any], pf: ProcessFile) -> RuntimeContainer:
        status = pf.status() or {}
        # the shim writes the exit code before it exits: while it lives, so does the container
        alive = "exit_code" not in status and (
            is_alive(doc.get("shim_pid"), doc.get("shim_ticks")) or is_alive(doc.get("pid"), doc.get("ticks"))
        )
        exit_code = status.get("exit_code")
        return RuntimeContainer(
            task_arn=doc["task_arn"],
            name=doc["name"],
            runtime_id=doc["runtime_id"],
            state=RUNNING if alive else EXITED if "shim_pid" in doc else CREATED,
            exit_code=None if alive else exit_code,
            docker_name=doc.get("docker_name", ""),
            image=doc.get("image", ""),
            created_at=doc.get("created_at"),
            started_at=doc.get("started_at"),
            finished_at=None if alive else status.get("finished_at") or doc.get("finished_at"),
            bindings=tuple(NetworkBinding(**b) for b in doc.get("bindings") or ()),
            pid=doc.get("pid"),
            labels={"com.amazonaws.ecs.task-arn": doc["task_arn"], "com.amazonaws.ecs.container-name": doc["name"]},
        )

    # -- network ----------------------------------------------------------

    async def setup_network(self, task: TaskSpec) -> TaskNetwork:
        if task.network_mode != "awsvpc":
            mode = task.network_mode if task.network_mode in ("host", "none") else "bridge"
            return TaskNetwork(mode, metadata_host="127.0.0.1")
        address = self._addresses.get(task.task_arn) or pick_address(
            task.task_arn, set(self._addresses.values())
        )
        self._addresses[task.task_arn] = address
        d = self.task_dir(task.task_arn)
        d.mkdir(parents=True, exist_ok=True)
        (d / "network.json").write_text(json.dumps({"task_arn": task.task_arn, "address": address}))
        return TaskNetwork(
            "awsvpc", metadata_host="127.0.0.1", address=address, subnet_cidr=str(AWSVPC_NET),
            gateway=None, mac_address=mac_address(task.task_arn),
        )

    async def teardown_network(self, task: TaskSpec) -> None:
        """Forget the task's address, and remove its cgroups: the task is over."""
        if self._cgroups is not None:
            self._cgroups.remove(task.task_id)
        self._addresses.pop(task.task_arn, None)
        with contextlib.suppress(FileNotFoundError):
            (self.task_dir(task.task_arn) / "network.json").unlink()

    # -- containers -------------------------------------------------------

    async def pull(self, container: ContainerSpec) -> str | None:
        return None

    async def create(
        self, task: TaskSpec, container: ContainerSpec, network: TaskNetwork, env: Mapping[str, str]
    ) -> RuntimeContainer:
        pf = self._file(task.task_arn, container.name)
        doc = pf.read()
        if doc is not None and "shim_pid" in doc:
            return self._runtime(doc, pf)
        if not container.argv:
            raise ContainerError(
                "CannotCreateContainerError",
                f"container {container.name!r} has neither entryPoint nor command: "
                "the process driver has nothing to run",
            )
        bindings, listen = ports_for(container, network, self.ports)
        full_env = process_environment(os.environ, env, network, listen)
        rlimits: list[tuple[str, int, int]] = [
            (f"RLIMIT_{n.upper()}", s, h) for n, s, h in container.ulimits
        ]
        memory = container.memory or task.memory
        if memory:
            rlimits.append(("RLIMIT_AS", memory * MIB, memory * MIB))
        runtime_id = hashlib.sha256(f"{task.task_arn}/{container.name}/{time.time_ns()}".encode()).hexdigest()
        doc = {
            "task_arn": task.task_arn,
            "name": container.name,
            "runtime_id": runtime_id,
            "docker_name": f"ecs-{task.family}-{task.revision}-{container.name}-{runtime_id[:20]}",
            "image": container.image,
            "created_at": _now(),
            "memory_limit": (container.memory or task.memory or 0) * MIB or None,
            "bindings": [
                {"container_port": b.container_port, "host_port": b.host_port,
                 "protocol": b.protocol, "bind_ip": b.bind_ip}
                for b in bindings
            ],
        }
        pf.write(doc)
        self._launches[runtime_id] = Launch(
            argv=list(container.argv), env=full_env, cwd=container.working_directory,
            rlimits=rlimits, health=container.health_check, memory=container.memory,
            cgroups=self._task_cgroups(task),
        )
        return self._runtime(doc, pf)

    async def start(self, rc: RuntimeContainer) -> RuntimeContainer:
        pf = self._file(rc.task_arn, rc.name)
        doc = pf.read()
        if doc is None:
            raise ContainerError("CannotStartContainerError", "the container was never created")
        if "shim_pid" in doc:
            return self._runtime(doc, pf)
        launch = self._launches.pop(rc.runtime_id, None)
        if launch is None:
            raise ContainerError("CannotStartContainerError", "the container must be created again")
        started = await spawn(launch, pf, self._shims)
        doc.update(started, started_at=_now())
        pf.write(doc)
        out = self._runtime(doc, pf)
        self._watch(out, doc)
        if launch.health is not None:
            self._health[rc.runtime_id] = asyncio.create_task(
                probe_loop(launch.health, launch.probe, lambda h: self._emit_health(out, h)),
                name=f"health-{rc.name}",
            )
        return out

    def _emit_health(self, rc: RuntimeContainer, health: HealthState) -> None:
        if self._emit is not None:
            self._emit(RuntimeEvent(rc.task_arn, rc.name, rc.runtime_id, health=health))

    def _watch(self, rc: RuntimeContainer, doc: Mapping[str, Any]) -> None:
        """Emit an exit event when the shim (and so the process) is gone."""
        if rc.runtime_id in self._watchers:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int | None] = loop.create_future()
        self._watchers[rc.runtime_id] = fut
        pf = self._file(rc.task_arn, rc.name)
        shim_pid, shim_ticks = doc.get("shim_pid"), doc.get("shim_ticks")

        def done() -> None:
            if fut.done():
                return
            status = pf.status() or {}
            code = status.get("exit_code")
            fut.set_result(code)
            probe = self._health.pop(rc.runtime_id, None)
            if probe is not None:
                probe.cancel()
            if self._emit is not None:
                self._emit(RuntimeEvent(rc.task_arn, rc.name, rc.runtime_id, exit_code=code, exited=True))

        try:
            if not is_alive(shim_pid, shim_ticks):
                raise ProcessLookupError
            pidfd = os.pidfd_open(int(shim_pid))  # type: ignore[arg-type]
        except (ProcessLookupError, OSError, TypeError):
            loop.call_soon(done)
            return

        def readable() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            reap(int(shim_pid))  # type: ignore[arg-type]
            done()

        loop.add_reader(pidfd, readable)

    async def inspect(self, rc: RuntimeContainer) -> RuntimeContainer | None:
        pf = self._file(rc.task_arn, rc.name)
        doc = pf.read()
        return None if doc is None else self._runtime(doc, pf)

    async def stop(self, rc: RuntimeContainer, timeout: float) -> None:
        doc = self._file(rc.task_arn, rc.name).read() or {}
        pid, ticks = doc.get("pid"), doc.get("ticks")
        if not is_alive(pid, ticks):
            return
        _killpg(int(pid), signal.SIGTERM)  # type: ignore[arg-type]
        if await self._exited(rc, doc, timeout):
            return
        log.info("%s still runs %g s after SIGTERM: sending SIGKILL", rc.name, timeout)
        _killpg(int(pid), signal.SIGKILL)  # type: ignore[arg-type]
        await self._exited(rc, doc, 10)

    async def _exited(self, rc: RuntimeContainer, doc: Mapping[str, Any], timeout: float) -> bool:
        """Wait up to ``timeout`` s for the container's shim to report the exit."""
        fut = self._watchers.get(rc.runtime_id)
        if fut is not None:
            return await _wait(fut, timeout)
        deadline = time.monotonic() + timeout
        while is_alive(doc.get("shim_pid"), doc.get("shim_ticks")) or is_alive(doc.get("pid"), doc.get("ticks")):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def remove(self, rc: RuntimeContainer) -> None:
        task = self._health.pop(rc.runtime_id, None)
        if task is not None:
            task.cancel()
        self._watchers.pop(rc.runtime_id, None)
        self._launches.pop(rc.runtime_id, None)
        self._stats.pop(rc.runtime_id, None)
        pf = self._file(rc.task_arn, rc.name)
        for b in (pf.read() or {}).get("bindings") or ():
            self.ports.release(int(b["host_port"]), str(b.get("protocol", "tcp")))
        pf.remove()

    async def stats(self, rc: RuntimeContainer) -> dict[str, Any] | None:
        doc = self._file(rc.task_arn, rc.name).read() or {}
        pid = doc.get("pid")
        if not is_alive(pid, doc.get("ticks")):
            return None
        current = sample(int(pid), doc.get("memory_limit"))  # type: ignore[arg-type]
        out = with_previous(current, self._stats.get(rc.runtime_id))
        self._stats[rc.runtime_id] = current
        out.update(name=rc.docker_name, id=rc.runtime_id)
        return out


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _wait(fut: asyncio.Future[int | None], timeout: float) -> bool:
    try:
        await asyncio.wait_for(asyncio.shield(fut), timeout)
    except TimeoutError:
        return False
    return True


