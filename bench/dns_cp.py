"""DNS latency of a real control plane (``portside up``), idle and while its API is busy.

    .venv/bin/python bench/dns_cp.py [--seconds 4] [--instances 8] [--api-clients 2] [--nice -10]

bench/dns.py measures the DNS server on its own (``python -m portside.dns``).
Here the server is the one ``portside up --dns-port`` starts beside the API,
the store and the controllers, fed from Cloud Map through the API: a private
DNS namespace ``bench.local``, a service ``_svc._tcp`` with A and SRV records
and ``--instances`` instances registered with RegisterInstance.

Two phases, the same DNS clients as bench/dns.py (same columns, including the
latency to the kernel's receive timestamp):

- ``idle``: only DNS queries;
- ``busy``: meanwhile ``--api-clients`` processes call the API in a loop:
  RegisterInstance / DeregisterInstance on another Cloud Map service of the
  namespace (each a commit that changes the DNS data), and UpdateService on
  an ECS service flipping its desired count between 0 and 10 (controller passes,
  task placement, commits). The API calls made per second are reported.

The control plane is pinned to the first core, clients to the others, all at
``--nice`` (root for negative values).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config


def _load_dns_bench() -> Any:
    """bench/dns.py, beside this file (by path: ``dns`` is dnspython's name)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("dns_bench", Path(__file__).with_name("dns.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["dns_bench"] = module
    spec.loader.exec_module(module)
    return module


dnsbench = _load_dns_bench()


def _clients(endpoint: str) -> tuple[Any, Any]:
    kw: dict[str, Any] = dict(
        endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(inject_host_prefix=False, retries={
            "max_attempts": 1}),
    )
    return boto3.client("ecs", **kw), boto3.client("servicediscovery", **kw)


def _wait(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = check()
        except Exception:
            got = None
        if got:
            return got
        time.sleep(0.05)
    raise RuntimeError("timed out")


def _setup(endpoint: str, instances: int) -> dict[str, str]:
    ecs, sd = _clients(endpoint)
    op = sd.create_private_dns_namespace(Name=dnsbench.ZONE, Vpc="vpc-1")["OperationId"]
    ns = _wait(lambda: sd.get_operation(OperationId=op)["Operation"]["Targets"].get("NAMESPACE"))
    records = {"DnsRecords": [{"Type": "A", "TTL": 60}, {"Type": "SRV", "TTL": 60}]}
    svc = sd.create_service(Name="_svc._tcp", NamespaceId=ns, DnsConfig=records)["Service"]
    for n in range(1, instances + 1):
        sd.register_instance(
            ServiceId=svc["Id"], InstanceId=dnsbench.task_id(n),
            Attributes={"AWS_INSTANCE_IPV4": dnsbench._ip(n), "AWS_INSTANCE_PORT": str(20000 + n)},
        )
    churn = sd.create_service(Name="churn", NamespaceId=ns, DnsConfig={
        "DnsRecords": [{"Type": "A", "TTL": 60}]})["Service"]
    ecs.create_cluster(clusterName="bench")
    ecs.register_container_instance(
        cluster="bench",
        totalResources=[{"name": "CPU", "type": "INTEGER", "integerValue": 100000},
                        {"name": "MEMORY", "type": "INTEGER", "integerValue": 100000}],
    )
    ecs.register_task_definition(family="web", containerDefinitions=[{
        "name": "web", "image": "x", "memory": 16}])
    ecs.create_service(cluster="bench", serviceName="web", taskDefinition="web", desiredCount=0)
    return {"churn": churn["Id"]}


def _api_load(endpoint: str, churn: str, seconds: float, core: set[int], seed: int,
              out: Any) -> None:
    os.sched_setaffinity(0, core)
    os.setpriority(os.PRIO_PROCESS, 0, dnsbench._nice())
    ecs, sd = _clients(endpoint)
    calls = errors = i = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        i += 1
        iid = f"churn-{seed}-{i % 20}"
        try:
            if i % 3 == 0:
                ecs.update_service(cluster="bench", service="web", desiredCount=(i // 3 % 2) * 10)
            elif i % 3 == 1:
                sd.register_instance(ServiceId=churn, InstanceId=iid,
                                     Attributes={"AWS_INSTANCE_IPV4": f"10.9.{seed}.{i % 20}"})
            else:
                sd.deregister_instance(ServiceId=churn, InstanceId=f"churn-{seed}-{(i - 1) % 20}")
        except Exception:
            errors += 1
        calls += 1
    out.put((calls, errors))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--instances", type=int, default=8)
    parser.add_argument("--api-clients", type=int, default=2)
    parser.add_argument("--nice", type=int, default=0)
    args = parser.parse_args()
    os.environ["BENCH_DNS_NICE"] = str(args.nice)
    cores = sorted(os.sched_getaffinity(0))
    server_core, client_cores = cores[0], set(cores[1:]) or {cores[0]}
    api, dns_port = dnsbench.free_port(), dnsbench.free_port()
    results: list[dict[str, Any]] = []
    load = {"before": os.getloadavg()}
    api_calls: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-dns-cp-") as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "portside.cli.main", "up", "--port", str(api), "--data-dir",
             tmp, "--dns-port", str(dns_port), "--no-agent"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            dnsbench._settle(proc.pid, server_core)
            endpoint = f"http://127.0.0.1:{api}"
            _wait(lambda: _clients(endpoint)[0].list_clusters() is not None)
            ids = _setup(endpoint, args.instances)
            target = dnsbench.Target("portside up", "127.0.0.1", dns_port, proc.pid)
            dnsbench._wait_answering(target.host, target.port)
            name = f"_svc._tcp.{dnsbench.ZONE}"
            for qtype in ("A", "SRV"):
                row = dnsbench.measure(target, name, qtype, args, client_cores)
                results.append({"phase": "idle", **row})
            ctx = mp.get_context("fork")
            for qtype in ("A", "SRV"):
                queue = ctx.Queue()
                loaders = [
                    ctx.Process(target=_api_load, args=(endpoint, ids["churn"], args.seconds + 1,
                                                        client_cores, n, queue))
                    for n in range(args.api_clients)
                ]
                for p in loaders:
                    p.start()
                time.sleep(0.5)
                row = dnsbench.measure(target, name, qtype, args, client_cores)
                done = [queue.get() for _ in loaders]
                for p in loaders:
                    p.join()
                calls = sum(d[0] for d in done)
                api_calls[qtype] = {"api_calls_per_s": round(calls / (args.seconds + 1), 1),
                                    "api_errors": sum(d[1] for d in done)}
                results.append({"phase": "busy", **row, **api_calls[qtype]})
        finally:
            proc.terminate()
            proc.wait(30)
    load["after"] = os.getloadavg()
    print(json.dumps({
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "server_core": server_core, "client_cores": sorted(client_cores),
        "in_flight": args.clients * args.window, "nice": args.nice,
        "loadavg": load, "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
