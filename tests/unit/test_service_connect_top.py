"""``portside top``'s arithmetic: quantiles from histogram buckets, rows per service and endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from portside.domain.ecs.service_connect_top import (
    Sample,
    TaskSamples,
    quantile,
    row_doc,
    top_rows,
)
from portside.proxy.metrics import BUCKETS, Metrics

N = len(BUCKETS) + 1


def counts(**at: int) -> list[int]:
    """Bucket counts with ``b<i>=n`` set (b0: <= 0.5 ms, b1: <= 1 ms, b2: <= 2.5 ms, ...)."""
    out = [0] * N
    for name, n in at.items():
        out[int(name[1:])] = n
    return out


@pytest.mark.parametrize(("q", "buckets", "seconds"), [
    (0.5, counts(), None),  # no observations
    # 10 in (0, 0.5 ms]: rank 5 of 10 -> 0 + 0.0005 * 5/10 = 0.25 ms
    (0.5, counts(b0=10), 0.00025),
    # 10 in (0.5, 1 ms] and 10 in (1, 2.5 ms]: rank 10 ends the first -> 1 ms
    (0.5, counts(b1=10, b2=10), 0.001),
    # rank 19.8 of 20: 9.8 into the 10 of (1, 2.5 ms] -> 1 + 1.5 * 0.98 = 2.47 ms
    (0.99, counts(b1=10, b2=10), 0.00247),
    # beyond the last bound: the last bound
    (0.99, counts(**{f"b{N - 1}": 3}), BUCKETS[-1]),
])
def test_quantile_interpolates_within_the_bucket(q: float, buckets: list[int],
                                                 seconds: float | None) -> None:
    got = quantile(q, buckets)
    assert got == seconds if seconds is None else got == pytest.approx(seconds)


def _snapshot(requests: int, latency: float, endpoint: str = "10.0.0.1:8080",
              upstream: str = "api") -> dict[str, Any]:
    m = Metrics()
    for stats in (m.service(upstream), m.endpoint(upstream, endpoint)):
        for _ in range(requests):
            stats.requests += 1
            stats.response(200, latency)
    return m.snapshot()


def test_rows_sum_tasks_per_service_and_rates_come_from_two_samples() -> None:
    tasks = [
        # two client tasks, each 100 requests more over 2 s: 50/s each, 100/s together
        TaskSamples("t1", "client", Sample(12.0, _snapshot(300, 0.002)),
                    Sample(10.0, _snapshot(200, 0.002))),
        TaskSamples("t2", "client", Sample(7.0, _snapshot(150, 0.002, "10.0.0.2:8080")),
                    Sample(5.0, _snapshot(50, 0.002, "10.0.0.2:8080"))),
        # the api task's inbound side, one sample only: totals but no rate yet
        TaskSamples("t3", "api", Sample(3.0, _snapshot(450, 0.0007, "127.0.0.5:8080",
                                                      "inbound:api"))),
    ]
    services, endpoints = top_rows(tasks)
    assert [(r.service, r.direction, r.upstream, r.tasks) for r in services] == [
        ("api", "in", "api", 1), ("client", "out", "api", 2)]
    api, client = services
    assert client.requests == 450 and client.requests_per_second == 100.0
    assert client.responses["2xx"] == 450
    assert client.p50_ms == pytest.approx(1.75)  # (1, 2.5 ms] bucket, rank 100 of 200
    assert api.requests == 450 and api.requests_per_second == 0.0
    assert api.p50_ms == pytest.approx(0.75)  # no window: all time, (0.5, 1 ms]
    assert [(r.service, r.endpoint, r.requests) for r in endpoints] == [
        ("api", "127.0.0.5:8080", 450),
        ("client", "10.0.0.1:8080", 300), ("client", "10.0.0.2:8080", 150)]


def test_a_restarted_proxy_gives_no_negative_rate() -> None:
    task = TaskSamples("t1", "client", Sample(12.0, _snapshot(5, 0.002)),
                       Sample(10.0, _snapshot(200, 0.002)))
    (row,), _ = top_rows([task])
    assert row.requests == 5 and row.requests_per_second == 0.0


def test_listeners_that_never_carried_anything_are_left_out() -> None:
    m = Metrics()
    m.service("db")  # every task listens on every alias; this one was never called
    m.endpoint("db", "10.0.0.9:5432")
    busy = _snapshot(3, 0.001)
    doc = {"services": {**m.snapshot()["services"], **busy["services"]},
           "endpoints": {**m.snapshot()["endpoints"], **busy["endpoints"]}}
    services, endpoints = top_rows([TaskSamples("t1", "client", Sample(1.0, doc))])
    assert [r.upstream for r in services] == ["api"]
    assert [r.endpoint for r in endpoints] == ["10.0.0.1:8080"]


def test_an_endpoint_row_counts_the_proxies_that_eject_it_and_their_ejections() -> None:
    def doc(ejected: int) -> dict[str, Any]:
        m = Metrics()
        m.endpoint("api", "10.0.0.1:8080").requests = 7
        m.ejected[("api", "10.0.0.1:8080")] = ejected
        m.ejections[("api", "10.0.0.1:8080")] = 2 + ejected
        return m.snapshot()

    samples = [TaskSamples(f"t{i}", "client", Sample(1.0, doc(e))) for i, e in enumerate((1, 0, 1))]
    _, (row,) = top_rows(samples)
    assert (row.tasks, row.ejected, row.ejections, row.requests) == (3, 2, 8, 21)
    assert row_doc(row)["ejections"] == 8
