"""What ``portside top`` shows: Service Connect traffic per service and per endpoint (pure).

Each task's proxy counts what it carried (proxy/metrics.py); its agent sends
those counters every few seconds (``ServiceConnectStats`` on the agent
session), and the control plane keeps the last two samples of every task
(runtime/service_connect_stats.py). From them this module computes, for one
cluster:

- one row per ECS service and upstream: ``out`` for the calls the service's
  tasks make through an alias (upstream = the discovery name called), ``in``
  for the calls its tasks receive (upstream ``inbound:NAME``), summed over the
  service's tasks;
- one row per service, upstream and endpoint (``address:port``) under it,
  with how many of the service's proxies currently eject it (outlier detection).

Upstreams and endpoints that never carried a connection are left out (every
task listens on every alias of its namespace; most are never called).

Rates and latency quantiles come from the difference between a task's two
samples (the last few seconds); totals from the newest sample. Quantiles are
interpolated within the histogram's buckets, as Prometheus'
``histogram_quantile`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portside.proxy.metrics import BUCKETS, CLASSES

INBOUND_PREFIX = "inbound:"


@dataclass(frozen=True, slots=True)
class Sample:
    """One task's proxy counters (``Metrics.snapshot()``) at agent time ``at`` (seconds)."""

    at: float
    stats: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TaskSamples:
    task_arn: str
    service: str  # the ECS service (task group ``service:NAME``), or the group itself
    latest: Sample
    previous: Sample | None = None


@dataclass(slots=True)
class Row:
    service: str
    direction: str  # "out" | "in"
    upstream: str  # the discovery name (without ``inbound:``)
    endpoint: str | None = None  # None: the service-level row
    tasks: int = 0
    requests: int = 0
    requests_per_second: float = 0.0
    responses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    p50_ms: float | None = None
    p99_ms: float | None = None
    connections_active: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    ejected: int = 0  # endpoint rows: how many of the service's task proxies eject it now
    ejections: int = 0  # endpoint rows: times those proxies ejected it, summed
    _window: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    _total: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))


def quantile(q: float, counts: Sequence[int]) -> float | None:
    """The q-quantile (seconds) of per-bucket ``counts`` (BUCKETS plus +Inf), or None if empty.

    Linear within the bucket holding the rank; the +Inf bucket answers its lower bound.
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(counts):
        if n and seen + n >= rank:
            if i == len(BUCKETS):
                return BUCKETS[-1]
            lower = BUCKETS[i - 1] if i else 0.0
            return lower + (BUCKETS[i] - lower) * (rank - seen) / n
        seen += n
    return BUCKETS[-1]


def top_rows(tasks: Iterable[TaskSamples]) -> tuple[list[Row], list[Row]]:
    """(service rows, endpoint rows), sorted by service, direction and upstream."""
    services: dict[tuple[str, str, str], Row] = {}
    endpoints: dict[tuple[str, str, str, str], Row] = {}
    for t in tasks:
        now, before = t.latest.stats, t.previous.stats if t.previous else None
        seconds = t.latest.at - t.previous.at if t.previous else 0.0
        for name, stats in (now.get("services") or {}).items():
            if idle(stats):
                continue
            side, upstream = direction(name)
            row = services.get((t.service, side, upstream))
            if row is None:
                row = services[(t.service, side, upstream)] = Row(t.service, side, upstream)
            old = (before.get("services") or {}).get(name) if before else None
            _add(row, stats, old, seconds)
        for key, stats in (now.get("endpoints") or {}).items():
            if idle(stats):
                continue
            name, _, endpoint = key.partition("/")
            side, upstream = direction(name)
            ek = (t.service, side, upstream, endpoint)
            row = endpoints.get(ek)
            if row is None:
                row = endpoints[ek] = Row(t.service, side, upstream, endpoint)
            old = (before.get("endpoints") or {}).get(key) if before else None
            _add(row, stats, old, seconds)
    out = [_finish(r) for _, r in sorted(services.items())]
    return out, [_finish(r) for _, r in sorted(endpoints.items())]


def idle(stats: Any) -> bool:
    """Never used (or not counters at all): every task has a listener per alias of the
    namespace, most stay unused. Shared with api/service_connect_metrics.py."""
    if not isinstance(stats, Mapping):
        return True
    return not stats.get("requests") and not stats.get("connections_total")


def direction(upstream: str) -> tuple[str, str]:
    """``(direction, upstream)`` of a proxy upstream name: ``inbound:NAME`` is ``in``."""
    if upstream.startswith(INBOUND_PREFIX):
        return "in", upstream[len(INBOUND_PREFIX):]
    return "out", upstream


def _add(row: Row, stats: Mapping[str, Any], old: Mapping[str, Any] | None, seconds: float) -> None:
    row.tasks += 1
    row.requests += int(stats.get("requests", 0))
    for cls, n in (stats.get("responses") or {}).items():
        if cls in row.responses:
            row.responses[cls] += int(n)
    row.connections_active += int(stats.get("connections_active", 0))
    row.bytes_received += int(stats.get("bytes_received", 0))
    row.bytes_sent += int(stats.get("bytes_sent", 0))
    row.ejected += int(stats.get("ejected", 0))
    row.ejections += int(stats.get("ejections", 0))
    buckets = _buckets(stats)
    row._total = [a + b for a, b in zip(row._total, buckets, strict=True)]
    if old is None or seconds <= 0:
        return
    delta = int(stats.get("requests", 0)) - int(old.get("requests", 0))
    if delta < 0:  # the proxy restarted between the samples: its counters started over
        return
    row.requests_per_second += delta / seconds
    before = _buckets(old)
    row._window = [a + max(0, b - c) for a, b, c in zip(row._window, buckets, before, strict=True)]


def _buckets(stats: Mapping[str, Any]) -> list[int]:
    counts = [int(n) for n in stats.get("latency_buckets") or ()]
    return counts if len(counts) == len(BUCKETS) + 1 else [0] * (len(BUCKETS) + 1)


def _finish(row: Row) -> Row:
    counts = row._window if sum(row._window) else row._total  # no recent traffic: all time
    p50, p99 = quantile(0.5, counts), quantile(0.99, counts)
    row.p50_ms = None if p50 is None else round(p50 * 1000, 3)
    row.p99_ms = None if p99 is None else round(p99 * 1000, 3)
    row.requests_per_second = round(row.requests_per_second, 2)
    return row


def row_doc(row: Row) -> dict[str, Any]:
    """A row as portside's JSON (camelCase, like the rest of the API)."""
    doc: dict[str, Any] = {
        "service": row.service,
        "direction": row.direction,
        "upstream": row.upstream,
        "tasks": row.tasks,
        "requests": row.requests,
        "requestsPerSecond": row.requests_per_second,
        "responses": dict(row.responses),
        "p50Ms": row.p50_ms,
        "p99Ms": row.p99_ms,
        "connectionsActive": row.connections_active,
        "bytesReceived": row.bytes_received,
        "bytesSent": row.bytes_sent,
    }
    if row.endpoint is not None:
        doc["endpoint"] = row.endpoint
        doc["ejected"] = row.ejected
        doc["ejections"] = row.ejections
    return doc
