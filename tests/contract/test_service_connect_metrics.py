"""Service Connect counters on the server's ``GET /metrics``, as Prometheus scrapes them.

A hand-written agent (tests/contract/agent_client.py) sends ``ServiceConnectStats``
for the tasks of two real services on its session, with counters made by the
proxy's own :class:`~portside.proxy.metrics.Metrics`; the test scrapes ``/metrics``
unsigned and parses it with prometheus_client's parser.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from portside.proxy.metrics import Metrics
from tests.contract.agent_client import Agent, connect, run, setup_cluster
from tests.helpers import Server, unique, until

Labels = tuple[tuple[str, str], ...]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(data_dir=tmp_path_factory.mktemp("scmetrics")).start()
    yield server
    server.stop()


def _service(ecs: Any, cluster: str, name: str, count: int) -> list[str]:
    family = unique("sc")
    ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "app", "image": "python", "cpu": 64, "memory": 64,
        "entryPoint": [sys.executable, "-c"], "command": ["import time; time.sleep(600)"]}])
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=family,
                       desiredCount=count)
    found = until(lambda: (arns := ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"])
                  and len(arns) == count and arns, timeout=30)
    return sorted(found)


def _client_counters() -> dict[str, Any]:
    m = Metrics()
    out = m.service("api")
    for status, seconds in ((200, 0.003), (200, 0.004), (503, 0.04)):
        out.requests += 1
        out.response(status, seconds)
    out.retries, out.connections_total, out.bytes_sent = 1, 1, 300
    for key, status in (("10.0.0.1:15443", 200), ("10.0.0.1:15443", 200), ("10.0.0.2:15443", 503)):
        ep = m.endpoint("api", key)
        ep.requests += 1
        ep.response(status, 0.002)
    m.ejected[("api", "10.0.0.2:15443")] = 1
    m.ejections[("api", "10.0.0.2:15443")] = 1
    m.service("other")  # an alias of the namespace nobody calls: left out
    return m.snapshot()


def _api_counters(requests: int) -> dict[str, Any]:
    m = Metrics()
    inbound = m.service("inbound:api")
    for _ in range(requests):
        inbound.requests += 1
        inbound.response(200, 0.001)
    inbound.connections_active = 1
    return m.snapshot()


async def _scrape(agent: Agent, srv: Server) -> dict[str, dict[Labels, float]]:
    """``/metrics``: value by sample name, then by sorted labels."""
    async with agent.http.get(f"{srv.endpoint}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    out: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def _labels(**kw: str) -> Labels:
    return tuple(sorted(kw.items()))


def test_metrics_sum_every_proxy_per_service_direction_upstream_and_endpoint(srv: Server) -> None:
    ecs = srv.client()
    cluster, instance, _ = setup_cluster(ecs)
    name = cluster.rsplit("/", 1)[-1]
    api = _service(ecs, cluster, "api", 2)
    (client,) = _service(ecs, cluster, "client", 1)
    out = {"cluster": name, "service": "client", "direction": "out", "upstream": "api"}
    inbound = {"cluster": name, "service": "api", "direction": "in", "upstream": "api"}

    async def until_scraped(agent: Agent, check: Any) -> dict[str, dict[Labels, float]]:
        for _ in range(200):
            found = await _scrape(agent, srv)
            if check(found):
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(found)

    async def body() -> None:
        agent = await connect(srv, cluster, instance)
        try:
            await agent.next("Credentials")
            await agent.send({"type": "ServiceConnectStats", "at": time.time(), "tasks": {
                client: _client_counters(), api[0]: _api_counters(1), api[1]: _api_counters(2)}})
            m = await until_scraped(agent, lambda m: _labels(**out) in m.get(
                "portside_service_connect_requests_total", {}))
            requests = m["portside_service_connect_requests_total"]
            assert requests[_labels(**out)] == 3
            assert requests[_labels(**inbound)] == 3  # summed over the two api tasks
            assert m["portside_service_connect_tasks"][_labels(**inbound)] == 2
            assert not [k for k in requests if ("upstream", "other") in k]  # never used
            responses = m["portside_service_connect_responses_total"]
            assert responses[_labels(**out, **{"class": "2xx"})] == 2
            assert responses[_labels(**out, **{"class": "5xx"})] == 1
            assert m["portside_service_connect_retries_total"][_labels(**out)] == 1
            assert m["portside_service_connect_bytes_sent_total"][_labels(**out)] == 300
            assert m["portside_service_connect_connections_active"][_labels(**inbound)] == 2
            buckets = m["portside_service_connect_request_duration_seconds_bucket"]
            assert buckets[_labels(**out, le="0.005")] == 2  # 3 ms and 4 ms
            assert buckets[_labels(**out, le="0.05")] == 3  # and 40 ms
            assert buckets[_labels(**out, le="+Inf")] == 3
            assert m["portside_service_connect_request_duration_seconds_count"][
                _labels(**out)] == 3
            assert m["portside_service_connect_request_duration_seconds_sum"][
                _labels(**out)] == pytest.approx(0.047)
            good, bad = (_labels(**out, endpoint=e) for e in ("10.0.0.1:15443", "10.0.0.2:15443"))
            assert m["portside_service_connect_endpoint_requests_total"][good] == 2
            assert m["portside_service_connect_endpoint_responses_total"][
                _labels(**out, endpoint="10.0.0.2:15443", **{"class": "5xx"})] == 1
            assert m["portside_service_connect_endpoint_ejected"] == {good: 0, bad: 1}
            assert m["portside_service_connect_endpoint_ejections_total"][bad] == 1

            # The next report no longer has one api task (it stopped): its counters leave.
            await agent.send({"type": "ServiceConnectStats", "at": time.time(), "tasks": {
                client: _client_counters(), api[1]: _api_counters(2)}})
            m = await until_scraped(agent, lambda m: m["portside_service_connect_tasks"].get(
                _labels(**inbound)) == 1)
            assert m["portside_service_connect_requests_total"][_labels(**inbound)] == 2
        finally:
            await agent.close()

        # The agent's session ended: its proxies' counters are unknown, and leave at once.
        watcher = await connect(srv, cluster, instance)
        try:
            await until_scraped(watcher, lambda m: not m.get(
                "portside_service_connect_tasks", {}).get(_labels(**inbound)))
        finally:
            await watcher.close()

    run(body())

