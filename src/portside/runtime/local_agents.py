"""Local agents for ``portside up``: container instances on this machine.

Each agent is its own ``portside agent`` process with its own state directory,
so ``--instances 3 --azs a,b,c`` gives three container instances in three
zones, and a crash of one leaves the others running. Unless ``--no-fargate``,
one more agent is the Fargate pool (docs/fargate.md): hidden from the API, it
runs the FARGATE tasks. They stop with the control plane. With ``--credentials``
they register with the file's first key pair (the dev pair is refused then),
passed in their environment so it shows on no command line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def docker_answers() -> bool:
    """Whether a Docker engine answers on this machine (within ten seconds: an engine busy
    creating containers can be slow to answer; one that is absent fails at once)."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no socket, no permission, engine down: all mean "no"
        return False


def zone_names(azs: str, region: str) -> list[str]:
    """``a,b,c`` → ``us-east-1a, us-east-1b, us-east-1c``; full names pass through."""
    out = []
    for z in (z.strip() for z in azs.split(",")):
        if not z:
            continue
        out.append(z if len(z) > 2 else f"{region}{z}")
    return out or [f"{region}a"]


def agent_args(
    endpoint: str, cluster: str, driver: str, state_dir: Path, region: str, zone: str, *,
    cpu: int | None = None, memory: int | None = None, instance_type: str | None = None,
    attributes: tuple[tuple[str, str], ...] = (),
) -> list[str]:  # fmt: skip
    """The ``portside agent`` command line for one local container instance."""
    args = [
        sys.executable, "-m", "portside.cli.main", "agent",
        "--endpoint", endpoint, "--cluster", cluster, "--driver", driver,
        "--state-dir", str(state_dir), "--region", region, "--az", zone,
    ]  # fmt: skip
    if cpu is not None:
        args += ["--cpu", str(cpu)]
    if memory is not None:
        args += ["--memory", str(memory)]
    if instance_type is not None:
        args += ["--instance-type", instance_type]
    for name, value in attributes:
        args += ["--attribute", f"{name}={value}"]
    return args


def spawn_agent(
    args: list[str], state_dir: Path, keys: tuple[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start an agent in its own session, logging to ``STATE_DIR/agent.log``.

    ``keys`` (the bootstrap pair; None: the agent's default) go in its environment,
    never on a command line.
    """
    env = dict(os.environ)
    if keys is not None:
        env.update(PORTSIDE_AGENT_ACCESS_KEY=keys[0], PORTSIDE_AGENT_SECRET_KEY=keys[1])
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "agent.log", "ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # fmt: skip


@dataclass
class LocalAgents:
    endpoint: str
    data_dir: Path
    driver: str
    region: str = "us-east-1"
    keys: tuple[str, str] | None = None
    """The bootstrap key pair agents register with (None: the agent's default, test/test)."""
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, count: int, zones: list[str], cpu: int | None, memory: int | None) -> list[str]:
        """Start ``count`` agents round-robin over ``zones``; return their log paths."""
        logs = []
        for i in range(count):
            state = self.data_dir / "agents" / f"agent-{i}"
            args = agent_args(self.endpoint, "default", self.driver, state, self.region,
                              zones[i % len(zones)], cpu=cpu, memory=memory)  # fmt: skip
            self.procs.append(spawn_agent(args, state, self.keys))
            logs.append(str(state / "agent.log"))
        return logs

    def start_fargate_pool(self, zone: str) -> str:
        """The hidden agent that runs FARGATE tasks with the machine's capacity
        (domain/ecs/fargate.py); return its log path."""
        from portside.domain.ecs.fargate import POOL_ATTRIBUTE

        state = self.data_dir / "agents" / "fargate-pool"
        args = agent_args(self.endpoint, "default", self.driver, state, self.region, zone,
                          instance_type="fargate", attributes=((POOL_ATTRIBUTE, "true"),))
        self.procs.append(spawn_agent(args, state, self.keys))
        return str(state / "agent.log")

    def stop(self, timeout: float = 20) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()


def ensure_default_cluster(app: Any, region: str) -> None:
    """The cluster local agents join exists before they start (ECS's ``default``)."""
    from datetime import UTC, datetime

    from portside.domain.ecs.clusters import create_cluster
    from portside.domain.scope import Scope

    create_cluster(
        app.store, Scope(app.settings.account_id, region), datetime.now(UTC), cluster_name="default"
    )
