"""Local agents for ``portside up``: container instances on this machine.

Each agent is its own ``portside agent`` process with its own state directory,
so ``--instances 3 --azs a,b,c`` gives three container instances in three
zones, and a crash of one leaves the others running. They stop with the
control plane.
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
    """Whether a Docker engine answers on this machine (within two seconds)."""
    try:
        import docker

        client = docker.from_env(timeout=2)
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


@dataclass
class LocalAgents:
    endpoint: str
    data_dir: Path
    driver: str
    region: str = "us-east-1"
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, count: int, zones: list[str], cpu: int | None, memory: int | None) -> list[str]:
        """Start ``count`` agents round-robin over ``zones``; return their log paths."""
        logs = []
        for i in range(count):
            state = self.data_dir / "agents" / f"agent-{i}"
            state.mkdir(parents=True, exist_ok=True)
            args = [
                sys.executable, "-m", "portside.cli.main", "agent",
                "--endpoint", self.endpoint, "--cluster", "default", "--driver", self.driver,
                "--state-dir", str(state), "--region", self.region, "--az", zones[i % len(zones)],
            ]
            if cpu is not None:
                args += ["--cpu", str(cpu)]
            if memory is not None:
                args += ["--memory", str(memory)]
            log = state / "agent.log"
            with open(log, "ab") as out:
                self.procs.append(
                    subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                     env=dict(os.environ), start_new_session=True)
                )
            logs.append(str(log))
        return logs

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
