"""A real ``portside agent`` process for end-to-end tests.

    agent = AgentProcess(server.endpoint, cluster, tmp_path / "agent", driver="process").start()
    ...
    agent.kill()      # SIGKILL: tasks keep running, as when a machine's agent dies
    agent.start()     # the same state dir: it re-registers and adopts its tasks
    agent.stop()      # SIGTERM

``start`` returns once the agent has registered and opened its session; the
container instance ARN is then in ``agent.instance_arn``. The agent's log is
``STATE_DIR/../agent-<n>.log``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

_REGISTERED = re.compile(r"registered as (arn:\S+)")


@dataclass
class AgentProcess:
    endpoint: str
    cluster: str
    state_dir: Path
    driver: str = "process"
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    instance_arn: str | None = None
    log_path: Path | None = None
    starts: int = 0

    def start(self, timeout: float = 60) -> AgentProcess:
        self.starts += 1
        self.state_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = self.state_dir.parent / f"{self.state_dir.name}-{self.starts}.log"
        env = dict(os.environ)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "portside.cli.main", "agent", "--endpoint", self.endpoint,
                 "--cluster", self.cluster, "--driver", self.driver, "--state-dir", str(self.state_dir),
                 *self.extra_args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"portside agent exited {self.proc.returncode}:\n{self.log()}")
            text = self.log()
            found = _REGISTERED.search(text)
            if found and "session open" in text.split(found.group(0), 1)[1]:
                self.instance_arn = found.group(1)
                return
            time.sleep(0.05)
        raise RuntimeError(f"portside agent did not connect:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
