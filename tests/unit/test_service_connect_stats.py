"""The control plane's book of proxy counters: two samples per task, per agent report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from portside.domain.ecs.task import Task
from portside.domain.kinds import KINDS
from portside.runtime.service_connect_stats import STALE_SECONDS, ProxyStatsBook
from portside.store.store import Store, sqlite_url

CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/default"
T1 = "arn:aws:ecs:us-east-1:000000000000:task/default/t1"
T2 = "arn:aws:ecs:us-east-1:000000000000:task/default/t2"
OTHER = "arn:aws:ecs:us-east-1:000000000000:task/other/t3"
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _task(arn: str, group: str, cluster: str = CLUSTER) -> Task:
    return Task(task_arn=arn, cluster_arn=cluster, task_definition_arn="td", created_at=NOW,
                group=group)


def _stats(requests: int) -> dict[str, object]:
    return {"services": {"api": {"requests": requests}}, "endpoints": {}}


def test_samples_pair_up_per_task_and_follow_each_report(tmp_path: Path) -> None:
    store = Store(sqlite_url(tmp_path), KINDS)
    store.commit([_task(T1, "service:client"), _task(T2, "family:batch"),
                  _task(OTHER, "service:x", CLUSTER.replace("default", "other"))])
    book = ProxyStatsBook()
    book.record("i-1", {"at": 10.0, "tasks": {T1: _stats(1), T2: _stats(5), OTHER: _stats(9)}}, 100)
    book.record("i-1", {"at": 12.0, "tasks": {T1: _stats(3), OTHER: _stats(9)}}, 102)

    got = book.cluster(store, CLUSTER, 103)
    assert [(t.task_arn, t.service) for t in got] == [(T1, "client")]  # T2 left; OTHER elsewhere
    (t1,) = got
    assert t1.previous is not None and (t1.previous.at, t1.latest.at) == (10.0, 12.0)

    book.record("i-2", {"at": 500.0, "tasks": {T2: _stats(1)}}, 104)  # another agent's clock
    assert {t.service for t in book.cluster(store, CLUSTER, 104)} == {"client", "family:batch"}
    assert book.cluster(store, CLUSTER, 104 + STALE_SECONDS + 1) == []  # agents went quiet
    store.close()
