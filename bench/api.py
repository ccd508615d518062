"""API throughput and latency: portside against moto's server, side by side.

    .venv/bin/python bench/api.py [--requests N] [--concurrency 1 16] [--ops ...]

Starts ``portside up`` (SQLite, durable: every write is on disk before its
answer) and ``moto_server`` (in memory) on free loopback ports with fresh data
directories, creates the same cluster on both, warms both up, then for each
operation and each client count sends the same pre-signed awsJson1.1 requests
to one server and then the other, ``--repeat`` times, and prints JSON: for the
median run of each server, requests per second and p50/p99 latency, every
run's throughput, and the throughput ratio portside/moto.

Both servers get byte-for-byte the same client path: a thread per client,
one keep-alive ``http.client`` connection per thread, and requests signed
beforehand with botocore's own SigV4Auth (one signature per request, so
signing costs nothing while the clock runs). An operation portside answers
with UnknownOperationException is skipped and named under ``skipped``.

The machine is shared: the client, both servers and anything else running
compete for the same cores, so the JSON carries the load average and the
command that produced it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"
REGION = "us-east-1"
CLUSTER = "bench"
CREDENTIALS = Credentials("test", "test")
READS = ("DescribeClusters", "ListTasks")
WRITES = ("RegisterTaskDefinition",)
VENV_BIN = Path(sys.executable).parent

Body = Callable[[int, int], dict[str, Any]]  # (client, sequence) -> request body

BODIES: dict[str, Body] = {
    "DescribeClusters": lambda c, i: {"clusters": [CLUSTER]},
    "ListTasks": lambda c, i: {"cluster": CLUSTER},
    "RegisterTaskDefinition": lambda c, i: {
        "family": f"bench-{c}",
        "containerDefinitions": [
            {"name": "app", "image": "busybox:latest", "memory": 128, "essential": True}
        ],
    },
}


@dataclass(frozen=True)
class Prepared:
    headers: dict[str, str]
    body: bytes


@dataclass
class Target:
    name: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    data_dir: str = ""
    served: dict[str, bool] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign(port: int, op: str, body: dict[str, Any]) -> Prepared:
    raw = json.dumps(body).encode()
    req = AWSRequest(
        method="POST",
        url=f"http://127.0.0.1:{port}/",
        data=raw,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{TARGET_PREFIX}.{op}",
        },
    )
    SigV4Auth(CREDENTIALS, "ecs", REGION).add_auth(req)
    return Prepared(dict(req.headers.items()), raw)


def call(conn: http.client.HTTPConnection, req: Prepared) -> tuple[int, bytes]:
    conn.request("POST", "/", body=req.body, headers=req.headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def once(target: Target, op: str, body: dict[str, Any]) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
    try:
        status, raw = call(conn, sign(target.port, op, body))
    finally:
        conn.close()
    return status, json.loads(raw or b"{}")


# -- servers ---------------------------------------------------------------


def wait_ready(target: Target, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert target.proc is not None
        if target.proc.poll() is not None:
            raise RuntimeError(f"{target.name} exited with {target.proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError as exc:
            if isinstance(exc, urllib.error.HTTPError):
                return  # it answers
            time.sleep(0.1)
    raise RuntimeError(f"{target.name} did not become ready on port {target.port}")


@contextmanager
def servers() -> Iterator[tuple[Target, Target]]:
    env = {k: v for k, v in os.environ.items() if k != "PORTSIDE_DATABASE_URL"}
    portside = Target("portside", free_port(), data_dir=tempfile.mkdtemp(prefix="bench-portside-"))
    moto = Target("moto", free_port(), data_dir=tempfile.mkdtemp(prefix="bench-moto-"))
    log = open(Path(portside.data_dir) / "server.log", "wb")  # noqa: SIM115
    try:
        portside.proc = subprocess.Popen(
            [
                str(VENV_BIN / "portside"),
                "up",
                "--port",
                str(portside.port),
                "--data-dir",
                portside.data_dir,
                "--no-dns",  # the API alone: no DNS port to collide with
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        moto.proc = subprocess.Popen(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=moto.data_dir,
        )
        wait_ready(portside, f"http://127.0.0.1:{portside.port}/health")
        wait_ready(moto, f"http://127.0.0.1:{moto.port}/moto-api/")
        yield portside, moto
    except RuntimeError:
        log.flush()
        sys.stderr.write((Path(portside.data_dir) / "server.log").read_text()[-2000:])
        raise
    finally:
        log.close()
        for t in (portside, moto):
            if t.proc is not None and t.proc.poll() is None:
                t.proc.terminate()
                try:
                    t.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    t.proc.kill()
                    t.proc.wait()
            shutil.rmtree(t.data_dir, ignore_errors=True)


def setup(target: Target, ops: list[str]) -> None:
    status, out = once(target, "CreateCluster", {"clusterName": CLUSTER})
    if status != 200:
        raise RuntimeError(f"{target.name}: CreateCluster failed: {out}")
    for op in ops:
        status, out = once(target, op, BODIES[op](0, 0))
        unknown = "UnknownOperation" in str(out.get("__type", ""))
        target.served[op] = status == 200
        if status != 200 and not unknown:
            raise RuntimeError(f"{target.name}: {op} failed: {status} {out}")


# -- load ------------------------------------------------------------------


@dataclass
class Run:
    elapsed: float
    latencies: list[float]
    errors: int
    first_error: str | None


def run(target: Target, op: str, clients: int, per_client: int) -> Run:
    prepared = [
        [sign(target.port, op, BODIES[op](c, i)) for i in range(per_client)] for c in range(clients)
    ]
    conns = [
        http.client.HTTPConnection("127.0.0.1", target.port, timeout=60) for _ in range(clients)
    ]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    first_error: list[str] = []
    start = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        conn, mine, reqs = conns[n], latencies[n], prepared[n]
        start.wait()
        for req in reqs:
            t0 = time.perf_counter()
            status, raw = call(conn, req)
            mine.append(time.perf_counter() - t0)
            if status != 200:
                errors[n] += 1
                if not first_error:
                    first_error.append(f"{status} {raw[:200]!r}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    for c in conns:
        c.close()
    flat = sorted(x for lat in latencies for x in lat)
    return Run(elapsed, flat, sum(errors), first_error[0] if first_error else None)


def summary(r: Run) -> dict[str, Any]:
    def pct(p: float) -> float:
        return round(r.latencies[min(len(r.latencies) - 1, int(p * len(r.latencies)))] * 1000, 3)

    out: dict[str, Any] = {
        "requests": len(r.latencies),
        "rps": round(len(r.latencies) / r.elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": r.errors,
    }
    if r.first_error:
        out["first_error"] = r.first_error
    return out


def median(runs: list[Run]) -> dict[str, Any]:
    """The median run by throughput, with every run's throughput beside it."""
    ranked = sorted(runs, key=lambda r: len(r.latencies) / r.elapsed)
    out = summary(ranked[len(ranked) // 2])
    out["rps_runs"] = [round(len(r.latencies) / r.elapsed, 1) for r in runs]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per run (all clients)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement; the median run is reported"
    )
    parser.add_argument(
        "--warmup", type=int, default=300, help="warm-up requests per op and server"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--ops", nargs="+", default=[*READS, *WRITES], choices=[*READS, *WRITES])
    args = parser.parse_args()

    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    load_before = os.getloadavg()
    with servers() as (portside, moto):
        for t in (portside, moto):
            setup(t, args.ops)
        ops = []
        for op in args.ops:
            if not portside.served[op]:
                skipped[op] = "portside answers UnknownOperationException"
            elif not moto.served[op]:
                skipped[op] = "moto does not serve it"
            else:
                ops.append(op)
        for op in ops:
            for t in (portside, moto):
                run(t, op, 4, max(1, args.warmup // 4))
            results[op] = {}
            for clients in args.concurrency:
                per_client = max(1, args.requests // clients)
                runs: dict[str, list[Run]] = {portside.name: [], moto.name: []}
                for _ in range(args.repeat):
                    for t in (portside, moto):  # interleaved, so drift hits both
                        runs[t.name].append(run(t, op, clients, per_client))
                row: dict[str, Any] = {name: median(rs) for name, rs in runs.items()}
                row["rps_ratio"] = round(row["portside"]["rps"] / row["moto"]["rps"], 2)
                results[op][str(clients)] = row

    def met(ops: tuple[str, ...], factor: float) -> bool | None:
        ratios = [row["rps_ratio"] for op in ops if op in results for row in results[op].values()]
        return all(r >= factor for r in ratios) if ratios else None

    print(
        json.dumps(
            {
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "machine": {
                    "cpus": os.cpu_count(),
                    "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg(),
                },
                "portside": "portside up (SQLite, synchronous=FULL: durable writes)",
                "moto": "moto_server (in memory)",
                "requests_per_run": args.requests,
                "runs_per_measurement": args.repeat,
                "results": results,
                "skipped": skipped,
                "targets": {
                    "reads_at_least_2x_moto": met(READS, 2.0),
                    "writes_at_least_moto": met(WRITES, 1.0),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
