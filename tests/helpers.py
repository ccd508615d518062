"""Test support: a real portside server in a subprocess, and clients for it."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
IN_CI = os.environ.get("CI") == "true"


# Ports the tests choose (free_port) and the agents' dynamic host ports
# (ECS_DYNAMIC_HOST_PORT_RANGE, set by tests/conftest.py) come from below the kernel's
# ephemeral range (32768-60999 here), so nothing that binds port 0 — a server's DNS, a
# metadata endpoint, a client's socket — can be given one of them between the choice and
# its use; and from two disjoint bands, so an agent never hands a task a port a test chose.
# Each xdist worker draws from its own slice of each band.
TEST_PORTS = (20000, 26000)
AGENT_PORTS = (26000, 32000)
_handed_out: set[int] = set()


def worker_slice(band: tuple[int, int]) -> range:
    """This xdist worker's share of ``band`` (all of it outside xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    width = (band[1] - band[0]) // count
    start = band[0] + (index % count) * width
    return range(start, start + width)


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                return False
    return True


def free_port() -> int:
    """A TCP and UDP port free on every address, outside the ephemeral range, not handed out
    before by this process."""
    ports = worker_slice(TEST_PORTS)
    first = random.randrange(len(ports))
    for step in range(len(ports)):
        port = ports[(first + step) % len(ports)]
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Server:
    """A ``portside up`` process on a free port."""

    data_dir: Path
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    default_args: list[str] = field(default_factory=lambda: ["--no-agent"])
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        env = dict(os.environ)
        env.pop("PORTSIDE_DATABASE_URL", None)
        if self.database_url:
            env["PORTSIDE_DATABASE_URL"] = self.database_url
        self.log_path = self.data_dir / f"server-{self.port}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = self._spawn(log, env)
        self.wait_ready()
        return self

    def _spawn(self, log: Any, env: dict[str, str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "portside.cli.main", "up", "--port", str(self.port),
             "--data-dir", str(self.data_dir), "--dns-port", "0", *self.default_args,
             *self.extra_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    @property
    def dns_port(self) -> int:
        """The port the server's DNS answers on (it picks a free one in tests)."""
        with urllib.request.urlopen(self.endpoint + "/health", timeout=5) as resp:
            return int(json.loads(resp.read())["dns_port"])

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"portside exited {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"portside did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=90)  # it stops its local agents first: slow on a loaded machine

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def client(self, service: str = "ecs", **kw: Any) -> Any:
        return client(self.endpoint, service, **kw)

    def cli_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION=REGION,
            AWS_PAGER="",
            AWS_DISABLE_HOST_PREFIX_INJECTION="true",
        )
        return env

    def aws(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the AWS CLI against this server (``aws ecs list-clusters`` …)."""
        aws = Path(sys.executable).with_name("aws")
        return subprocess.run(
            [str(aws), "--endpoint-url", self.endpoint, "--output", "json", *args],
            capture_output=True,
            text=True,
            env=self.cli_env(),
            check=check,
            timeout=60,
        )


def client(endpoint: str, service: str = "ecs", *, key: str = "test", secret: str = "test",
           region: str = REGION) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, inject_host_prefix=False),
    )


def until(check: Any, timeout: float = 60, every: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something truthy; fail after ``timeout`` seconds.

    The default is generous on purpose: CI runs two workers on a loaded 2-core
    machine, and a long timeout costs nothing when the condition is met.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def stop_everything(ecs: Any, cluster: str = "default", timeout: float = 90) -> None:
    """Delete a cluster's services and stop its tasks, and wait until they are STOPPED.

    Agents keep their tasks running when they are stopped (as ECS's agent does),
    so a test that ran real tasks calls this before stopping its server.
    """
    for page in ecs.get_paginator("list_services").paginate(cluster=cluster):
        for arn in page["serviceArns"]:
            ecs.delete_service(cluster=cluster, service=arn, force=True)
    for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster):
        for arn in page["taskArns"]:
            ecs.stop_task(cluster=cluster, task=arn, reason="test teardown")

    def stopped() -> bool:
        arns = [a for page in ecs.get_paginator("list_tasks").paginate(
            cluster=cluster, desiredStatus="STOPPED") for a in page["taskArns"]]
        running = ecs.list_tasks(cluster=cluster)["taskArns"]
        if running:
            return False
        for i in range(0, len(arns), 100):
            tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])["tasks"]
            if any(t["lastStatus"] != "STOPPED" for t in tasks):
                return False
        return True

    until(stopped, timeout=timeout, every=0.2)
