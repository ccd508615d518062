"""The ``local`` launcher: each instance is a ``portside agent`` process on this machine.

The agent offers the instance type's CPU units and memory (its
:class:`~portside.controllers.capacity_model.InstanceSpec`), registers with
``ecs.availability-zone`` = the instance's zone and ``ecs.instance-type``, and
with the instance id as its ``ec2InstanceId`` (its state directory is seeded
with that identity) and as the attribute ``portside.instance-id``.

Each instance keeps a state directory, ``DATA_DIR/instances/<instance id>``
(the agent's identity, task records and ``agent.log``). Stopping the control
plane stops the agents (SIGTERM; their tasks keep running, as with any
portside agent); started again, the control plane starts each live instance's
agent again from its state directory, so it re-registers as the same container
instance and adopts its tasks. (If the control plane died without stopping
them, the agents found still running, by the pid file in their state
directories, are taken over instead.) Terminating an instance stops its agent
and removes the directory.

Settings: ``PORTSIDE_LAUNCHER_DRIVER`` (``auto``, ``docker`` or ``process``;
auto picks docker when an engine answers).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

from portside.agent.drivers.process_spawn import is_alive, start_ticks
from portside.agent.state import AgentIdentity, StateDir
from portside.runtime.launchers.base import INSTANCE_ATTRIBUTE, Exited, LaunchError, LaunchRequest
from portside.runtime.local_agents import agent_args, docker_answers, spawn_agent

STOP_TIMEOUT = 20.0
"""Seconds an agent gets to exit on SIGTERM before it is killed."""
PID_FILE = "agent.pid"
"""In the state directory: the agent's pid and start time, so a control plane
started after a ``kill -9`` finds the agent still running instead of starting a second."""


class _Agent:
    """One instance's agent process: our child, or one a previous control plane started."""

    def __init__(self, pid: int, ticks: int | None, proc: subprocess.Popen[bytes] | None = None):
        self.pid, self.ticks, self.proc = pid, ticks, proc

    def returncode(self) -> int | None:
        """None while it runs; its exit code (-1 when unknown) once it is gone."""
        if self.proc is not None:
            return self.proc.poll()
        return None if is_alive(self.pid, self.ticks) else -1

    def signal(self, sig: int) -> None:
        if self.returncode() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT`."""
        self.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.returncode() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.returncode() is None:
            self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()


class LocalLauncher:
    def __init__(self, data_dir: Path, driver: str = "auto",
                 keys: tuple[str, str] | None = None):  # fmt: skip
        self.root = data_dir / "instances"
        self.driver = driver
        self.keys = keys
        """The bootstrap key pair agents register with (None: the agent's default)."""
        self.agents: dict[str, _Agent] = {}

    def state_dir(self, instance_id: str) -> Path:
        return self.root / instance_id

    def launch(self, req: LaunchRequest) -> None:
        iid = req.instance.instance_id
        old = self.agents.get(iid)
        if old is not None and old.returncode() is None:
            return
        state = self.state_dir(iid)
        left = _pid_file(state)
        if left is not None and is_alive(*left):  # a control plane killed with -9 left it
            self.agents[iid] = _Agent(left[0], left[1])
            return
        try:
            sd = StateDir(state)
            sd.prepare()
            if not sd.identity_path.exists():
                sd.save_identity(AgentIdentity(instance_id=iid, metadata_secret=secrets.token_hex(32)))
            if self.driver == "auto":
                self.driver = "docker" if docker_answers() else "process"
            args = agent_args(
                req.endpoint, req.cluster, self.driver, state, req.region,
                req.instance.availability_zone, cpu=req.spec.cpu, memory=req.spec.memory,
                instance_type=req.spec.name, attributes=((INSTANCE_ATTRIBUTE, iid),),
            )  # fmt: skip
            proc = spawn_agent(args, state, self.keys)
            agent = _Agent(proc.pid, start_ticks(proc.pid), proc)
            (state / PID_FILE).write_text(json.dumps({"pid": agent.pid, "ticks": agent.ticks}))
            self.agents[iid] = agent
        except OSError as exc:
            raise LaunchError(f"cannot start a local agent for {iid}: {exc}") from None

    def terminate(self, req: LaunchRequest) -> None:
        iid = req.instance.instance_id
        agent = self.agents.pop(iid, None)
        left = _pid_file(self.state_dir(iid))
        if agent is None and left is not None:
            agent = _Agent(*left)
        if agent is not None:
            agent.stop()
        shutil.rmtree(self.state_dir(iid), ignore_errors=True)

    def tracks(self, instance_id: str) -> bool:
        return instance_id in self.agents

    def exited(self, instance_id: str) -> Exited | None:
        agent = self.agents.get(instance_id)
        code = agent.returncode() if agent is not None else None
        if code is None:
            return None
        log = self.state_dir(instance_id) / "agent.log"
        return Exited(code, f"its agent exited with code {code} (log: {log}){_tail(log)}")

    def close(self) -> None:
        for agent in self.agents.values():
            agent.signal(signal.SIGTERM)
        for agent in self.agents.values():
            agent.stop()
        self.agents.clear()


def _pid_file(state: Path) -> tuple[int, int | None] | None:
    try:
        doc = json.loads((state / PID_FILE).read_text())
        return int(doc["pid"]), doc.get("ticks")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _tail(log: Path, limit: int = 300) -> str:
    """The log's last line, for the activity's cause."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, os.path.getsize(log) - 4096))
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f": {lines[-1][-limit:]}" if lines else ""
