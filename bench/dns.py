"""DNS throughput and latency: portside's DNS server against dnsmasq, side by side.

    .venv/bin/python bench/dns.py [--seconds 5] [--clients 4] [--window 8] [--instances 8 100]
                                  [--servers portside dnsmasq] [--nice N] [--stop-runs 10]
                                  [--slice-us N] [--fifo]

``stop_to_gone`` in the output is bench/dns_stop.py: StopTask until the
stopped task's record is gone from the DNS answer, through a real control plane.

Serves the same records from both servers: for each instance count N, a Cloud
Map-style service ``_svcN._tcp.bench.local`` with A and SRV records (MULTIVALUE,
all healthy), instance ids like ECS task ids, each SRV target with its A record.
portside runs as ``python -m portside.dns`` (uvloop) pinned to one core;
dnsmasq (Debian's, ``apt-get install dnsmasq``) runs with --no-daemon, the same
records as --host-record / --srv-host lines, pinned to the same core.

The client is ``--clients`` processes pinned to the other cores, each with one
UDP socket and ``--window`` queries in flight, every query a prebuilt packet
(EDNS0, 1232-byte payload, as resolvers send) with only its id rewritten;
latency is from send to receive of that id. Total in flight is
clients x window, so by Little's law latency is about in-flight / rate.

Semantics differ on purpose: portside answers at most 8 records
(MULTIVALUE), dnsmasq all of them, so for 100 instances dnsmasq's answer does
not fit and comes back truncated (TC). Each result carries the mean answer size
and the share of truncated answers.

The machine is shared with other work: besides wall-clock queries per second,
each result has the server's own CPU seconds (from /proc) and queries per
CPU-second, which is what "qps on one core" means when the core is not all ours.
``--nice -10`` (root) raises servers and clients above other work, equally for
both servers; ``--slice-us`` also asks the scheduler for a short slice
(sched_setattr, EEVDF), and ``--fifo`` runs both servers SCHED_FIFO, which
approximates the dedicated core the target assumes (clients stay SCHED_OTHER).

Latency comes twice: ``p50_ms``/``p99_ms`` up to when the client process read
the answer, and ``*_to_kernel`` up to the kernel's receive timestamp
(SO_TIMESTAMPNS), which leaves out the client's own wait for its core. Both
include the server's waits for its core: on a shared machine, compare with
dnsmasq's figures from the same run, and with ``loadavg_before``/``_after``.
bench/dns_cp.py measures the server inside a running control plane. For scale, a bare uvloop UDP echo server answering a fixed packet
measured about 97,000 queries per CPU-second here with this client.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portside.dns.wire import encode_name

ZONE = "bench.local"
PRIORITY = 0  # nice value for both servers and the clients: --nice
TTL = 60


@dataclass(frozen=True)
class Target:
    server: str
    host: str
    port: int
    pid: int


def task_id(n: int) -> str:
    return f"{n:08x}{'a1b2c3d4' * 3}"


def zones_doc(counts: list[int]) -> list[dict[str, Any]]:
    services = [
        {
            "name": f"_svc{count}._tcp",
            "records": [{"type": "A", "ttl": TTL}, {"type": "SRV", "ttl": TTL}],
            "routing_policy": "MULTIVALUE",
            "instances": [
                {"id": task_id(n), "ipv4": _ip(n), "port": 20000 + n} for n in range(1, count + 1)
            ],
        }
        for count in counts
    ]
    return [{"name": ZONE, "services": services}]


def dnsmasq_conf(counts: list[int]) -> str:
    lines = []
    for count in counts:
        service = f"_svc{count}._tcp.{ZONE}"
        for n in range(1, count + 1):
            target = f"{task_id(n)}.{service}"
            lines.append(f"host-record={service},{_ip(n)}")
            lines.append(f"host-record={target},{_ip(n)}")
            lines.append(f"srv-host={service},{target},{20000 + n},1,1")
    return "\n".join(lines) + "\n"


def _ip(n: int) -> str:
    return f"10.{n // 65536}.{n // 256 % 256}.{n % 256}"


QTYPES = {"A": 1, "SOA": 6, "SRV": 33}


def query_packet(name: str, qtype: str) -> bytes:
    """A query with recursion desired and an EDNS0 OPT record (payload 1232)."""
    header = struct.pack("!6H", 0, 0x0100, 1, 0, 0, 1)
    question = encode_name(name) + struct.pack("!HH", QTYPES[qtype], 1)
    return header + question + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def portside(workdir: Path, counts: list[int], core: int) -> Iterator[Target]:
    path = workdir / "zones.json"
    path.write_text(json.dumps(zones_doc(counts)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "portside.dns", "--zones", str(path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        _settle(proc.pid, core)
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if not line or line[0] != "listening":
            raise RuntimeError("python -m portside.dns did not start")
        yield Target("portside", line[1], int(line[2]), proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def dnsmasq(workdir: Path, counts: list[int], core: int) -> Iterator[Target]:
    binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.path.exists(binary):
        raise SystemExit("dnsmasq is not installed: apt-get install -y dnsmasq")
    conf = workdir / "dnsmasq.conf"
    conf.write_text(dnsmasq_conf(counts))
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--no-daemon",
            f"--port={port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            f"--conf-file={conf}",
            f"--local-ttl={TTL}",
            "--pid-file=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _settle(proc.pid, core)
        _wait_answering("127.0.0.1", port)
        yield Target("dnsmasq", "127.0.0.1", port, proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


def _settle(pid: int, core: int) -> None:
    """Pin a server to its core, ahead of other work on this shared machine."""
    os.sched_setaffinity(pid, {core})
    _prioritise(pid)
    if os.environ.get("BENCH_DNS_FIFO") == "1":
        os.sched_setscheduler(pid, os.SCHED_FIFO, os.sched_param(1))


def _prioritise(pid: int) -> None:
    """--nice, and --slice-us: the scheduler slice a waking process may claim."""
    os.setpriority(os.PRIO_PROCESS, pid, _nice())
    slice_us = int(os.environ.get("BENCH_DNS_SLICE_US", 0))
    if slice_us:
        set_slice(pid, slice_us * 1000, _nice())


def _nice() -> int:
    return int(os.environ.get("BENCH_DNS_NICE", PRIORITY))


_SCHED_ATTR = struct.Struct("IIQiIQQQII")  # struct sched_attr, version 1 (56 bytes)
_SYS_SCHED_SETATTR = 314  # x86_64


def set_slice(pid: int, slice_ns: int, nice: int) -> None:
    """sched_setattr(SCHED_OTHER, nice, runtime=slice): EEVDF (Linux >= 6.6) lets a
    task with a short requested slice preempt a running one sooner when it wakes."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(
        _SCHED_ATTR.pack(_SCHED_ATTR.size, 0, 0, nice, 0, slice_ns, 0, 0, 0, 0), _SCHED_ATTR.size
    )
    if libc.syscall(_SYS_SCHED_SETATTR, pid, attr, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"sched_setattr: {os.strerror(err)}")


def _wait_answering(host: str, port: int) -> None:
    query = query_packet(ZONE, "SOA")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        for _ in range(50):
            sock.sendto(query, (host, port))
            try:
                sock.recv(4096)
                return
            except TimeoutError:
                continue
    raise RuntimeError(f"nothing answers DNS on {host}:{port}")


SO_TIMESTAMPNS = 35  # Linux: the kernel's receive time of each datagram (not in Python's socket)


def client(
    host: str, port: int, packet: bytes, seconds: float, window: int, cores: set[int], out: Any
) -> None:
    """One client process: ``window`` queries in flight for ``seconds``.

    Each answer gets two latencies: up to when this process read it (what an
    application sees, including waits for this client's own turn on a shared
    core), and up to when the kernel received it (SO_TIMESTAMPNS: the server's
    and the loopback's share, without the client's scheduling).
    """
    os.sched_setaffinity(0, cores)
    _prioritise(0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.connect((host, port))
    sock.settimeout(0.25)
    template = bytearray(packet)
    sent_at: dict[int, int] = {}
    latencies: list[int] = []
    kernel_latencies: list[int] = []
    sizes = truncated = lost = 0
    next_id = 0
    clock = time.time_ns  # CLOCK_REALTIME, the clock of SO_TIMESTAMPNS
    ancillary = socket.CMSG_SPACE(16)
    timespec = struct.Struct("qq")
    end = clock() + int(seconds * 1e9)

    def send() -> None:
        nonlocal next_id
        next_id = (next_id + 1) & 0xFFFF
        struct.pack_into("!H", template, 0, next_id)
        sent_at[next_id] = clock()
        sock.send(template)

    for _ in range(window):
        send()
    while clock() < end:
        try:
            reply, cmsgs, _flags, _addr = sock.recvmsg(65535, ancillary)
        except TimeoutError:
            lost += len(sent_at)
            sent_at.clear()
            for _ in range(window):
                send()
            continue
        now = clock()
        start = sent_at.pop(struct.unpack_from("!H", reply)[0], None)
        if start is None:
            continue
        latencies.append(now - start)
        for level, kind, data in cmsgs:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = timespec.unpack_from(data)
                kernel_latencies.append(sec * 1_000_000_000 + nsec - start)
        sizes += len(reply)
        truncated += (reply[2] >> 1) & 1
        send()
    out.put((latencies, sizes, truncated, lost, kernel_latencies))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    target: Target, name: str, qtype: str, args: argparse.Namespace, cores: set[int]
) -> dict[str, Any]:
    packet = query_packet(name, qtype)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [
        ctx.Process(
            target=client,
            args=(target.host, target.port, packet, args.seconds, args.window, cores, queue),
        )
        for _ in range(args.clients)
    ]
    cpu0, wall0 = cpu_seconds(target.pid), time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    wall, cpu = time.perf_counter() - wall0, cpu_seconds(target.pid) - cpu0
    for p in procs:
        p.join()
    latencies = sorted(x for r in results for x in r[0])
    kernel = sorted(x for r in results for x in r[4])
    answered = len(latencies)
    return {
        "server": target.server,
        "query": f"{qtype} {name}",
        "answered": answered,
        "qps": round(answered / args.seconds),
        "p50_ms": _quantile_ms(latencies, 0.5),
        "p99_ms": _quantile_ms(latencies, 0.99),
        "p50_ms_to_kernel": _quantile_ms(kernel, 0.5),
        "p99_ms_to_kernel": _quantile_ms(kernel, 0.99),
        "p999_ms_to_kernel": _quantile_ms(kernel, 0.999),
        "server_cpu_s": round(cpu, 2),
        "qps_per_server_cpu_s": round(answered / cpu) if cpu else None,
        "mean_answer_bytes": round(sum(r[1] for r in results) / answered) if answered else None,
        "truncated_share": round(sum(r[2] for r in results) / answered, 3) if answered else None,
        "lost": sum(r[3] for r in results),
        "wall_s": round(wall, 2),
    }


def _quantile_ms(sorted_ns: list[int], q: float) -> float | None:
    if not sorted_ns:
        return None
    return round(sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * q))] / 1e6, 3)


def _stop_to_gone(runs: int) -> dict[str, Any] | None:
    if runs <= 0:
        return None
    from dns_stop import measure_stop_latency  # bench/dns_stop.py, beside this file

    return measure_stop_latency(runs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--instances", type=int, nargs="+", default=[8, 100])
    parser.add_argument("--servers", nargs="+", default=["portside", "dnsmasq"])
    parser.add_argument(
        "--nice", type=int, default=PRIORITY, help="niceness of servers and clients (<0: root)"
    )
    parser.add_argument(
        "--slice-us", type=int, default=0,
        help="scheduler slice requested for servers and clients (sched_setattr; 0: default)",
    )
    parser.add_argument(
        "--fifo", action="store_true",
        help="run the servers (not the clients) SCHED_FIFO: a core of their own, as if dedicated",
    )
    parser.add_argument("--stop-runs", type=int, default=10,
                        help="StopTask-to-gone-from-DNS measurements (0: skip)")
    args = parser.parse_args()
    os.environ["BENCH_DNS_NICE"] = str(args.nice)
    os.environ["BENCH_DNS_SLICE_US"] = str(args.slice_us)
    os.environ["BENCH_DNS_FIFO"] = "1" if args.fifo else "0"
    cores = sorted(os.sched_getaffinity(0))
    server_core = cores[0]
    client_cores = set(cores[1:]) or {server_core}
    starters = {"portside": portside, "dnsmasq": dnsmasq}
    results: list[dict[str, Any]] = []
    loadavg = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-dns-") as tmp:
        for server in args.servers:
            with starters[server](Path(tmp), args.instances, server_core) as target:
                for count in args.instances:
                    name = f"_svc{count}._tcp.{ZONE}"
                    for qtype in ("A", "SRV"):
                        results.append(measure(target, name, qtype, args, client_cores))
    ratios = {}
    for row in results:
        if row["server"] != "portside":
            continue
        other = next(
            (r for r in results if r["server"] == "dnsmasq" and r["query"] == row["query"]), None
        )
        if other and other["qps"] and other["qps_per_server_cpu_s"]:
            ratios[row["query"]] = {
                "qps": round(row["qps"] / other["qps"], 2),
                "qps_per_server_cpu_s": round(
                    row["qps_per_server_cpu_s"] / other["qps_per_server_cpu_s"], 2
                ),
            }
    print(
        json.dumps(
            {
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "cores": len(cores),
                "server_core": server_core,
                "client_cores": sorted(client_cores),
                "in_flight": args.clients * args.window,
                "nice": args.nice,
                "slice_us": args.slice_us or None,
                "servers_sched_fifo": args.fifo,
                "loadavg_before": loadavg,
                "loadavg_after": os.getloadavg(),
                "results": results,
                "ratio_portside_to_dnsmasq": ratios,
                "stop_to_gone": _stop_to_gone(args.stop_runs),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
