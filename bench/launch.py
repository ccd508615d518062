"""Service launch rate: CreateService to every task RUNNING, process and Docker drivers.

    .venv/bin/python bench/launch.py [--process 50] [--docker 20] [--instances 3]
                                     [--repeat 1] [--skip-docker] [--skip-process]

For each driver: ``portside up`` with a fresh data directory (SQLite,
``synchronous=FULL``), ``--instances N`` local agents with room for every
task, and no DNS server. Once every agent is connected it registers a task
definition (one ``sleep 3600`` container, bridge network, stopTimeout 2 s:
``/bin/sleep`` on the host for the process driver, the locally built busybox
image for Docker), then calls CreateService with the desired count and waits
until every task is RUNNING. ``--repeat N`` launches N services one after
the other on the same server and reports the median (every run under
``runs``).

Times come from the control plane's own records, so polling adds no error:
from the service's ``createdAt`` to the first task's ``startedAt`` (first
RUNNING), to the last task's ``createdAt`` (all placed: does the controller
launch in one batch or trickle?) and to the last ``startedAt`` (all RUNNING).
``tasks_per_second`` is desired count / all RUNNING; ``client_seconds`` is the
same span as the benchmark saw it (CreateService sent to the poll that found
every task RUNNING, polling every 50 ms). ECS documents 250 tasks per minute
(about 4 per second) for services on EC2; portside's targets on this machine
are 20/s with processes and 4/s with Docker.

Wall-clock rates on a shared machine move with its load, so each run also
carries the CPU seconds the server, the agents, and the agents' descendants
(the process driver's shims and tasks) spent on the launch — steadier
figures for comparing changes. For Docker, ``docker_engine_alone`` is the
ceiling: the engine creating and starting the same containers (image,
command, memory limit, bridge network) all at once through the Docker SDK,
without portside, measured just before.

Each run ends with DeleteService (force) and waits for every task to reach
STOPPED (``stop_seconds``); the server (and with it its agents) is then
stopped, and the benchmark looks for anything left behind — processes whose
command line or environment carries the run's marker, containers of the
run's task definition family — reports them under ``leftovers`` and removes
them. The machine is shared, so the JSON carries the load average and the
command that produced it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
CLUSTER = "default"
POLL = 0.05
ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"process": 20.0, "docker": 4.0}
ECS_DOCUMENTED = 250 / 60


@dataclass
class Up:
    """A running ``portside up`` with local agents."""

    driver: str
    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes]
    marker: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        return boto3.client(
            "ecs", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id="test", aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 3}),
        )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(check: Callable[[], Any], timeout: float, what: str, every: float = POLL) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


@contextmanager
def portside_up(driver: str, instances: int, per_instance: int) -> Iterator[Up]:
    """``portside up`` with ``instances`` agents of ``driver``, each with room for ``per_instance`` tasks."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-launch-{driver}-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PORTSIDE_DATABASE_URL"}
    args = [
        sys.executable, "-m", "portside.cli.main", "up", "--port", str(port),
        "--data-dir", str(data_dir), "--no-dns", "--driver", driver,
        "--instances", str(instances), "--azs", "a,b,c",
        "--cpu", str(max(1024, 16 * per_instance)), "--memory", str(max(1024, 32 * per_instance)),
    ]  # fmt: skip
    with open(data_dir / "server.log", "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    up = Up(driver, port, data_dir, proc, marker=f"portside-bench-{uuid.uuid4().hex[:12]}")
    try:
        until(lambda: _health(up), 60, "the server")
        ecs = up.client()

        def connected() -> bool:
            arns = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
            if len(arns) < instances:
                return False
            found = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=arns)
            return all(ci["agentConnected"] for ci in found["containerInstances"])

        until(connected, 60, f"{instances} connected agents", every=0.2)
        yield up
    except Exception:
        sys.stderr.write((data_dir / "server.log").read_text()[-3000:])
        raise
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not os.environ.get("BENCH_KEEP_DATA"):  # BENCH_KEEP_DATA=1 keeps logs and the store
            shutil.rmtree(data_dir, ignore_errors=True)


def _health(up: Up) -> bool:
    if up.proc.poll() is not None:
        raise RuntimeError(f"portside exited with {up.proc.returncode}")
    try:
        with urllib.request.urlopen(up.endpoint + "/health", timeout=1):
            return True
    except OSError:
        return False


def container_definition(driver: str, marker: str) -> dict[str, Any]:
    common: dict[str, Any] = {
        "name": "sleeper", "essential": True, "cpu": 16, "memory": 32, "stopTimeout": 2,
        "environment": [{"name": "PORTSIDE_BENCH", "value": marker}],
    }  # fmt: skip
    if driver == "docker":
        sys.path.insert(0, str(ROOT))
        from tests.support.images import ensure_busybox_image

        return {**common, "image": ensure_busybox_image(), "command": ["sleep", "3600"]}
    sleep = shutil.which("sleep") or "/bin/sleep"
    return {**common, "image": "host", "entryPoint": [sleep], "command": ["3600"]}


def _seconds(a: datetime, b: datetime) -> float:
    return round((b - a).total_seconds(), 3)


def describe_all(ecs: Any, arns: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(arns), 100):
        out += ecs.describe_tasks(cluster=CLUSTER, tasks=arns[i : i + 100])["tasks"]
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes used so far (their own, not their children's)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def processes(up: Up) -> dict[str, list[int]]:
    """The server's pid, its agents' (its children) and the agents' descendants (shims, tasks)."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                parents[int(proc.name)] = int((proc / "stat").read_bytes().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    agents = [pid for pid, ppid in parents.items() if ppid == up.proc.pid]
    below: list[int] = []
    frontier = set(agents)
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier}
        below += frontier
    return {"server": [up.proc.pid], "agents": agents, "agent_children": below}


def launch(up: Up, desired: int, family: str, run: int) -> dict[str, Any]:
    """One CreateService to all RUNNING, then DeleteService to all STOPPED."""
    ecs = up.client()
    name = f"bench-{run}"
    pids = processes(up)
    cpu_before = {k: cpu_seconds(v) for k, v in pids.items()}
    sent = time.monotonic()
    created = ecs.create_service(
        cluster=CLUSTER, serviceName=name, taskDefinition=family, desiredCount=desired
    )["service"]

    def all_running() -> list[dict[str, Any]] | None:
        svc = ecs.describe_services(cluster=CLUSTER, services=[name])["services"][0]
        if svc["runningCount"] < desired:
            return None
        arns = ecs.list_tasks(cluster=CLUSTER, serviceName=name, desiredStatus="RUNNING")["taskArns"]
        tasks = describe_all(ecs, arns)
        running = [t for t in tasks if t["lastStatus"] == "RUNNING"]
        return running if len(running) >= desired else None

    tasks = until(all_running, 300, f"{desired} RUNNING tasks")
    client_seconds = round(time.monotonic() - sent, 3)
    pids["agent_children"] = processes(up)["agent_children"]  # the shims and tasks started since
    cpu = {f"{k}_cpu_seconds": round(cpu_seconds(v) - cpu_before[k], 2) for k, v in pids.items()}
    start = created["createdAt"]
    first = min(t["startedAt"] for t in tasks)
    last = max(t["startedAt"] for t in tasks)
    placed = max(t["createdAt"] for t in tasks)
    all_s = _seconds(start, last)
    result: dict[str, Any] = {
        "desired": desired,
        "first_running_seconds": _seconds(start, first),
        "all_placed_seconds": _seconds(start, placed),
        "all_running_seconds": all_s,
        "tasks_per_second": round(desired / all_s, 1) if all_s > 0 else None,
        "client_seconds": client_seconds,
        "instances_used": len({t["containerInstanceArn"] for t in tasks}),
        **cpu,
    }
    arns = [t["taskArn"] for t in tasks]
    began = time.monotonic()
    ecs.delete_service(cluster=CLUSTER, service=name, force=True)
    until(
        lambda: all(t["lastStatus"] == "STOPPED" for t in describe_all(ecs, arns)),
        300, "the tasks to stop", every=0.2,
    )  # fmt: skip
    result["stop_seconds"] = round(time.monotonic() - began, 3)
    return result


def leftovers(up: Up, family: str) -> dict[str, list[str]]:
    """Processes and containers of this run still alive after the server stopped (then removed)."""
    found: dict[str, list[str]] = {"processes": [], "containers": []}
    needles = (up.marker.encode(), str(up.data_dir).encode())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            blob = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if any(n in blob for n in needles):
            found["processes"].append(proc.name)
            with suppress(OSError):
                os.kill(int(proc.name), signal.SIGKILL)
    if up.driver == "docker":
        label = f"label=com.amazonaws.ecs.task-definition-family={family}"
        ids = subprocess.run(
            ["docker", "ps", "-aq", "--filter", label], capture_output=True, text=True, timeout=30
        ).stdout.split()
        found["containers"] = ids
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, timeout=120)
    return found


def docker_engine(desired: int, image: str, label: str) -> dict[str, Any]:
    """The engine alone: create and start ``desired`` such containers at once, no portside.

    The same image, command, memory limit and bridge network, through the
    Docker SDK with a thread per container, then removed: what the engine
    manages on this machine right now, beside portside's figure.
    """
    import docker

    client = docker.from_env(timeout=120, max_pool_size=max(10, desired))
    key, _, value = label.partition("=")  # "KEY=VALUE": also the filter that finds them again

    def one(i: int) -> None:
        created = client.api.create_container(
            image, command=["sleep", "3600"], labels={key: value},
            host_config=client.api.create_host_config(mem_limit=32 * 1024 * 1024),
        )  # fmt: skip
        client.api.start(created["Id"])

    began = time.monotonic()
    try:
        with ThreadPoolExecutor(desired) as pool:
            list(pool.map(one, range(desired)))
        seconds = time.monotonic() - began
    finally:
        for c in client.api.containers(all=True, filters={"label": label}):
            client.api.remove_container(c["Id"], force=True)
        client.close()
    return {"seconds": round(seconds, 3), "tasks_per_second": round(desired / seconds, 1)}


def bench(driver: str, desired: int, instances: int, repeat: int) -> dict[str, Any]:
    per_instance = -(-desired // instances)
    runs: list[dict[str, Any]] = []
    with portside_up(driver, instances, per_instance) as up:
        family = f"bench-{up.marker[-12:]}"
        ecs = up.client()
        ecs.register_task_definition(
            family=family, networkMode="bridge",
            containerDefinitions=[container_definition(driver, up.marker)],
        )  # fmt: skip
        engine = None
        if driver == "docker":
            image = container_definition(driver, up.marker)["image"]
            engine = docker_engine(desired, image, f"io.portside.bench={up.marker}")
        for i in range(repeat):
            runs.append(launch(up, desired, family, i))
    left = leftovers(up, family)
    shutil.rmtree(up.data_dir, ignore_errors=True)
    ranked = sorted(runs, key=lambda r: r["all_running_seconds"])
    out: dict[str, Any] = {
        "driver": driver,
        "instances": instances,
        **ranked[len(ranked) // 2],
        "target_tasks_per_second": TARGETS[driver],
    }
    out["met"] = (out["tasks_per_second"] or 0) >= TARGETS[driver]
    if engine is not None:
        out["docker_engine_alone"] = engine
    if repeat > 1:
        out["runs"] = runs
    out["leftovers"] = left
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--process", type=int, default=50, help="desired count, process driver")
    parser.add_argument("--docker", type=int, default=20, help="desired count, Docker driver")
    parser.add_argument("--instances", type=int, default=3, help="local agents per driver")
    parser.add_argument("--repeat", type=int, default=1, help="launches per driver; the median is reported")
    parser.add_argument("--skip-process", action="store_true")
    parser.add_argument("--skip-docker", action="store_true")
    args = parser.parse_args()

    load_before = os.getloadavg()
    results: list[dict[str, Any]] = []
    if not args.skip_process:
        results.append(bench("process", args.process, args.instances, args.repeat))
    if not args.skip_docker:
        results.append(bench("docker", args.docker, args.instances, args.repeat))
    print(json.dumps({
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "store": "SQLite, synchronous=FULL",
        "ecs_documented_tasks_per_second": round(ECS_DOCUMENTED, 2),
        "results": results,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
