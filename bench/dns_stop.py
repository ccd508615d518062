"""How long a stopped task stays in DNS: StopTask until its SRV record is gone.

Used by bench/dns.py (``stop_to_gone`` in its JSON). A real ``portside up``
(no agent) with its DNS server; a Cloud Map namespace and SRV service; an ECS
service with that registry whose tasks the benchmark reports RUNNING through
SubmitTaskStateChange, as an agent would. Each run stops one task and polls
the DNS server over UDP every millisecond until the task's record is gone.
Cloud Map's default TTL is 60 s: a resolver could keep a stale answer that long.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

import boto3
import dnslib
from botocore.config import Config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int, name: str, qtype: str) -> int:
    packet = dnslib.DNSRecord.question(name, qtype).pack()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        s.sendto(packet, ("127.0.0.1", port))
        reply = dnslib.DNSRecord.parse(s.recv(4096))
    return len(reply.rr)


def _wait(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.01)
    raise RuntimeError("timed out")


def measure_stop_latency(runs: int = 10) -> dict[str, Any]:
    api, dns_port = _free_port(), _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-dns-stop-") as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "portside.cli.main", "up", "--port", str(api), "--data-dir",
             tmp, "--dns-port", str(dns_port), "--no-agent"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PORTSIDE_SQLITE_SYNC": os.environ.get("PORTSIDE_SQLITE_SYNC", "FULL")},
        )
        try:
            endpoint = f"http://127.0.0.1:{api}"
            _wait(lambda: _healthy(endpoint))
            return _run(endpoint, dns_port, runs)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint + "/health", timeout=1):
            return True
    except OSError:
        return False


def _run(endpoint: str, dns_port: int, runs: int) -> dict[str, Any]:
    kw: dict[str, Any] = dict(
        endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(inject_host_prefix=False),
    )
    ecs, sd = boto3.client("ecs", **kw), boto3.client("servicediscovery", **kw)
    op = sd.create_private_dns_namespace(Name="bench.local", Vpc="vpc-1")["OperationId"]
    ns = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    reg = sd.create_service(Name="web", NamespaceId=ns, HealthCheckCustomConfig={},
                            DnsConfig={"DnsRecords": [{"Type": "SRV", "TTL": 60}]})["Service"]
    ecs.create_cluster(clusterName="bench")
    ecs.register_container_instance(
        cluster="bench",
        totalResources=[{"name": "CPU", "type": "INTEGER", "integerValue": 100000},
                        {"name": "MEMORY", "type": "INTEGER", "integerValue": 100000}],
    )
    ecs.register_task_definition(family="web", containerDefinitions=[{
        "name": "web", "image": "x", "memory": 16, "portMappings": [{"containerPort": 80}]}])
    ecs.create_service(cluster="bench", serviceName="web", taskDefinition="web",
                       desiredCount=runs + 1,
                       serviceRegistries=[{"registryArn": reg["Arn"], "containerName": "web",
                                           "containerPort": 80}])
    arns = _wait(lambda: (lambda a: a if len(a) == runs + 1 else None)(
        ecs.list_tasks(cluster="bench", serviceName="web")["taskArns"]))
    for i, arn in enumerate(arns):
        ecs.submit_task_state_change(
            cluster="bench", task=arn, status="RUNNING",
            containers=[{"containerName": "web", "status": "RUNNING", "runtimeId": str(i),
                         "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80,
                                              "hostPort": 30000 + i, "protocol": "tcp"}]}])
    name = "web.bench.local"
    for arn in arns:  # every task registered (its SRV target resolves)
        _wait(lambda a=arn: _answers(dns_port, f"{a.rsplit('/', 1)[-1]}.{name}", "A"))
    seconds: list[float] = []
    for arn in arns[:runs]:
        # Each SRV target has its own A record while the task is registered.
        target = f"{arn.rsplit('/', 1)[-1]}.{name}"
        _wait(lambda t=target: _answers(dns_port, t, "A"))
        t0 = time.perf_counter()
        ecs.stop_task(cluster="bench", task=arn)
        while _answers(dns_port, target, "A"):
            time.sleep(0.001)
        seconds.append(time.perf_counter() - t0)
    return {
        "runs": runs,
        "p50_ms": round(statistics.median(seconds) * 1000, 2),
        "max_ms": round(max(seconds) * 1000, 2),
        "cloud_map_default_ttl_s": 60,
        "how": "StopTask until the task's SRV target name no longer resolves (polled every 1 ms)",
    }


if __name__ == "__main__":
    import json

    print(json.dumps(measure_stop_latency(int(sys.argv[1]) if len(sys.argv) > 1 else 10)))
