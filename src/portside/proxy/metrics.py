"""Counters per service and per endpoint, and their Prometheus text exposition.

Two scopes share one record type, :class:`Stats`:
- per service (label ``service``): what the application sees — requests,
  responses by class, latency including retries, retries, timeouts, and the
  downstream side's connections and bytes (``received`` from the application,
  ``sent`` back to it);
- per endpoint (labels ``service``, ``endpoint``): each attempt — requests,
  responses by class, latency, and the upstream side's connections, connect
  failures and bytes (``sent`` to the endpoint, ``received`` from it).

The hot path only adds to slotted integers; all formatting happens in
:meth:`Metrics.render` (text format 0.0.4, hand-written: no locks, no registry).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Histogram:
    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.sum += seconds

    def cumulative(self) -> list[int]:
        out, total = [], 0
        for n in self.counts:
            total += n
            out.append(total)
        return out


class Stats:
    __slots__ = (
        "bytes_received",
        "bytes_sent",
        "connect_failures",
        "connections_active",
        "connections_total",
        "latency",
        "requests",
        "responses",
        "retries",
        "timeouts",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.responses = [0] * len(CLASSES)
        self.latency = Histogram()
        self.retries = 0
        self.timeouts = 0
        self.connections_active = 0
        self.connections_total = 0
        self.connect_failures = 0
        self.bytes_received = 0
        self.bytes_sent = 0

    def response(self, status: int, seconds: float) -> None:
        cls = status // 100 - 1
        if 0 <= cls < len(CLASSES):
            self.responses[cls] += 1
        self.latency.observe(seconds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "responses": dict(zip(CLASSES, self.responses, strict=True)),
            "latency_count": sum(self.latency.counts),
            "latency_sum": self.latency.sum,
            "latency_buckets": list(self.latency.counts),  # per bucket of BUCKETS, then +Inf
            "retries": self.retries,
            "timeouts": self.timeouts,
            "connections_active": self.connections_active,
            "connections_total": self.connections_total,
            "connect_failures": self.connect_failures,
            "bytes_received": self.bytes_received,
            "bytes_sent": self.bytes_sent,
        }


# (suffix, help, type, attribute); responses and latency are rendered specially.
_SCALARS = (
    ("requests_total", "Requests started.", "counter", "requests"),
    ("retries_total", "Retries attempted.", "counter", "retries"),
    ("timeouts_total", "Requests that hit the per-request timeout.", "counter", "timeouts"),
    ("connections_active", "Open connections.", "gauge", "connections_active"),
    ("connections_total", "Connections opened.", "counter", "connections_total"),
    (
        "connect_failures_total",
        "Connections that could not be opened.",
        "counter",
        "connect_failures",
    ),
    ("bytes_received_total", "Bytes received on this side.", "counter", "bytes_received"),
    ("bytes_sent_total", "Bytes sent on this side.", "counter", "bytes_sent"),
)


class Metrics:
    def __init__(self) -> None:
        self._services: dict[str, Stats] = {}
        self._endpoints: dict[tuple[str, str], Stats] = {}
        # set by the proxy just before rendering: ejected now (0/1), and ejections so far
        self.ejected: dict[tuple[str, str], int] = {}
        self.ejections: dict[tuple[str, str], int] = {}

    def service(self, name: str) -> Stats:
        stats = self._services.get(name)
        if stats is None:
            stats = self._services[name] = Stats()
        return stats

    def endpoint(self, service: str, key: str) -> Stats:
        stats = self._endpoints.get((service, key))
        if stats is None:
            stats = self._endpoints[(service, key)] = Stats()
        return stats

    def snapshot(self) -> dict[str, Any]:
        return {
            "services": {name: s.as_dict() for name, s in sorted(self._services.items())},
            "endpoints": {
                f"{svc}/{key}": {
                    **s.as_dict(),
                    "ejected": self.ejected.get((svc, key), 0),
                    "ejections": self.ejections.get((svc, key), 0),
                }
                for (svc, key), s in sorted(self._endpoints.items())
            },
        }

    def render(self) -> str:
        lines: list[str] = []
        services = [({"service": n}, s) for n, s in sorted(self._services.items())]
        endpoints = [
            ({"service": svc, "endpoint": key}, s)
            for (svc, key), s in sorted(self._endpoints.items())
        ]
        for prefix, rows in (
            ("portside_proxy_", services),
            ("portside_proxy_endpoint_", endpoints),
        ):
            _family(lines, prefix, rows)
        for name, help_text, kind, values in (
            ("ejected", "1 while outlier detection ejects the endpoint.", "gauge", self.ejected),
            ("ejections_total", "Times outlier detection ejected the endpoint.", "counter",
             self.ejections),
        ):
            lines.append(f"# HELP portside_proxy_endpoint_{name} {help_text}")
            lines.append(f"# TYPE portside_proxy_endpoint_{name} {kind}")
            for (svc, key), value in sorted(values.items()):
                labels = _labels({"service": svc, "endpoint": key})
                lines.append(f"portside_proxy_endpoint_{name}{labels} {value}")
        return "\n".join(lines) + "\n"


def _family(lines: list[str], prefix: str, rows: Iterable[tuple[dict[str, str], Stats]]) -> None:
    rows = list(rows)
    for suffix, help_text, kind, attr in _SCALARS:
        lines.append(f"# HELP {prefix}{suffix} {help_text}")
        lines.append(f"# TYPE {prefix}{suffix} {kind}")
        for labels, stats in rows:
            lines.append(f"{prefix}{suffix}{_labels(labels)} {getattr(stats, attr)}")
    lines.append(f"# HELP {prefix}responses_total Responses by status class.")
    lines.append(f"# TYPE {prefix}responses_total counter")
    for labels, stats in rows:
        for cls, n in zip(CLASSES, stats.responses, strict=True):
            lines.append(f"{prefix}responses_total{_labels({**labels, 'class': cls})} {n}")
    name = f"{prefix}request_duration_seconds"
    lines.append(f"# HELP {name} Time to a complete response.")
    lines.append(f"# TYPE {name} histogram")
    for labels, stats in rows:
        cumulative = stats.latency.cumulative()
        for bound, n in zip((*BUCKETS, float("inf")), cumulative, strict=True):
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f"{name}_bucket{_labels({**labels, 'le': le})} {n}")
        lines.append(f"{name}_sum{_labels(labels)} {stats.latency.sum!r}")
        lines.append(f"{name}_count{_labels(labels)} {cumulative[-1]}")


def _labels(labels: dict[str, str]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}"
