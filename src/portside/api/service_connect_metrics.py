"""Service Connect traffic on ``GET /metrics``: every proxy's counters, summed per ECS service.

Each proxy serves its own counters on its admin socket only (a Unix socket in
the agent's state directory, out of a scraper's reach). Its agent sends them to
the control plane every few seconds (``ServiceConnectStats``), which keeps the
newest sample of every task (runtime/service_connect_stats.py). This collector
sums those samples the way ``portside top`` groups them
(domain/ecs/service_connect_top.py): per ``cluster`` (name), ECS ``service``,
``direction`` (``out``: calls the service's tasks make through an alias;
``in``: calls they receive on their inbound listener) and ``upstream`` (the
discovery name) — and, for the ``portside_service_connect_endpoint_*``
families, per ``endpoint`` (``address:port``) too. Upstreams never used are
left out, as in ``top``.

The families mirror the proxy's own (proxy/metrics.py): requests, responses by
status ``class``, the request duration histogram (same buckets), retries,
timeouts, open and opened connections, connect failures and bytes; endpoints
add ``ejected`` (how many of the service's proxies eject the endpoint now) and
``ejections_total``. ``portside_service_connect_tasks`` says how many task
proxies a row sums. A sum drops when a task stops (its counters leave with it):
Prometheus' ``rate()`` reads that as a counter reset, which is what it is.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.service_connect_top import TaskSamples, direction, idle
from portside.proxy.metrics import BUCKETS, CLASSES
from portside.store.store import Store

if TYPE_CHECKING:
    from portside.runtime.service_connect_stats import ProxyStatsBook

PREFIX = "portside_service_connect_"

# (name without _total, help, counter?, the proxy's field)
_SCALARS = (
    ("requests", "Requests the proxies started.", True, "requests"),
    ("retries", "Retries the proxies attempted.", True, "retries"),
    ("timeouts", "Requests that hit the per-request timeout.", True, "timeouts"),
    ("connections_active", "Open connections.", False, "connections_active"),
    ("connections", "Connections opened.", True, "connections_total"),
    ("connect_failures", "Connections that could not be opened.", True, "connect_failures"),
    ("bytes_received", "Bytes received on this side.", True, "bytes_received"),
    ("bytes_sent", "Bytes sent on this side.", True, "bytes_sent"),
)


@dataclass(slots=True)
class Sums:
    """One row's counters summed over the task proxies that reported it."""

    tasks: int = 0
    scalars: dict[str, int] = field(default_factory=dict)
    responses: list[int] = field(default_factory=lambda: [0] * len(CLASSES))
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    latency_sum: float = 0.0
    ejected: int = 0
    ejections: int = 0

    def add(self, stats: Mapping[str, Any]) -> None:
        self.tasks += 1
        for _, _, _, key in _SCALARS:
            self.scalars[key] = self.scalars.get(key, 0) + int(stats.get(key, 0))
        by_class = stats.get("responses") or {}
        self.responses = [n + int(by_class.get(c, 0)) for n, c in zip(self.responses, CLASSES,
                                                                     strict=True)]
        counts = [int(n) for n in stats.get("latency_buckets") or ()]
        if len(counts) == len(self.buckets):  # another bucket layout cannot be summed
            self.buckets = [a + b for a, b in zip(self.buckets, counts, strict=True)]
            self.latency_sum += float(stats.get("latency_sum", 0.0))
        self.ejected += int(stats.get("ejected", 0))
        self.ejections += int(stats.get("ejections", 0))


ServiceKey = tuple[str, str, str, str]  # cluster, service, direction, upstream
EndpointKey = tuple[str, str, str, str, str]  # ... and endpoint


def sums(
    clusters: Iterable[tuple[str, Iterable[TaskSamples]]],
) -> tuple[dict[ServiceKey, Sums], dict[EndpointKey, Sums]]:
    """Per-row sums of the newest samples of each cluster's tasks (pure)."""
    services: dict[ServiceKey, Sums] = {}
    endpoints: dict[EndpointKey, Sums] = {}
    for cluster, tasks in clusters:
        for t in tasks:
            stats = t.latest.stats
            for name, s in (stats.get("services") or {}).items():
                if not idle(s):
                    services.setdefault((cluster, t.service, *direction(name)), Sums()).add(s)
            for key, s in (stats.get("endpoints") or {}).items():
                name, _, endpoint = str(key).partition("/")
                if not idle(s):
                    ek = (cluster, t.service, *direction(name), endpoint)
                    endpoints.setdefault(ek, Sums()).add(s)
    return services, endpoints


class ServiceConnectCollector(Collector):
    """Reads the stats book at each scrape (wall-clock time, as the book records)."""

    def __init__(self, store: Store, book: ProxyStatsBook) -> None:
        self.store, self.book = store, book

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        clusters = sorted((c for c in self.store.all(Cluster.KIND).values() if c.active),
                          key=lambda c: c.cluster_arn)
        services, endpoints = sums(
            (c.cluster_name, self.book.cluster(self.store, c.cluster_arn, now)) for c in clusters)
        yield from _families(PREFIX, ["cluster", "service", "direction", "upstream"], services)
        yield from _families(f"{PREFIX}endpoint_",
                             ["cluster", "service", "direction", "upstream", "endpoint"], endpoints)
        labels = ["cluster", "service", "direction", "upstream", "endpoint"]
        ejected = GaugeMetricFamily(f"{PREFIX}endpoint_ejected", "How many of the service's "
                                    "proxies eject the endpoint now (outlier detection).",
                                    labels=labels)
        ejections = CounterMetricFamily(f"{PREFIX}endpoint_ejections", "Times the service's "
                                        "proxies ejected the endpoint.", labels=labels)
        for key, s in sorted(endpoints.items()):
            ejected.add_metric(list(key), s.ejected)
            ejections.add_metric(list(key), s.ejections)
        yield from (ejected, ejections)


def _families(prefix: str, labels: list[str], rows: Mapping[Any, Sums]) -> Iterator[Metric]:
    ordered = sorted(rows.items())
    tasks = GaugeMetricFamily(f"{prefix}tasks", "Task proxies whose counters the row sums.",
                              labels=labels)
    for key, s in ordered:
        tasks.add_metric(list(key), s.tasks)
    yield tasks
    for name, doc, counter, attr in _SCALARS:
        kind = CounterMetricFamily if counter else GaugeMetricFamily
        family = kind(f"{prefix}{name}", doc, labels=labels)
        for key, s in ordered:
            family.add_metric(list(key), s.scalars.get(attr, 0))
        yield family
    responses = CounterMetricFamily(f"{prefix}responses", "Responses by status class.",
                                    labels=[*labels, "class"])
    duration = HistogramMetricFamily(f"{prefix}request_duration_seconds",
                                     "Time to a complete response.", labels=labels)
    bounds = [*(repr(b) for b in BUCKETS), "+Inf"]
    for key, s in ordered:
        for cls, n in zip(CLASSES, s.responses, strict=True):
            responses.add_metric([*key, cls], n)
        cumulative, total = [], 0
        for bound, n in zip(bounds, s.buckets, strict=True):
            total += n
            cumulative.append((bound, float(total)))
        duration.add_metric(list(key), cumulative, s.latency_sum)
    yield from (responses, duration)
