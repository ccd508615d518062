"""The controller on a real Store: the runtime's queue, apply, convergence and timers."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from portside.controllers.services import decide
from portside.controllers.snapshot import Snapshot
from portside.controllers.task_state import Policy
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.task import Task
from portside.domain.kinds import KINDS
from portside.runtime.reconciler import Reconciler, cluster_of
from portside.store.store import Delete, Store, sqlite_url
from tests.unit.controllers.world import CLUSTER, NOW, PREFIX, SVC, instance, service, taskdef


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(sqlite_url(tmp_path), KINDS)
    cluster = Cluster(cluster_arn=CLUSTER, cluster_name="c1", created_at=NOW - timedelta(hours=1))
    s.commit([cluster, instance(1), instance(2, az="us-east-1b"), taskdef(1), service(2)])
    return s


def test_the_store_is_a_snapshot(store: Store) -> None:
    snap: Snapshot = store
    assert len(decide(snap, SVC, NOW).start) == 2


def test_a_pass_applies_then_converges(store: Store) -> None:
    clock = [NOW]
    rec = Reconciler(store, Policy(settle=timedelta(0)), clock=lambda: clock[0])
    assert rec.run_once() == 1
    tasks = list(store.children(Task.KIND, CLUSTER).values())
    assert len(tasks) == 2 and rec.dirty == {CLUSTER}  # our own commit noted the cluster
    assert rec.run_once() == 0 and not rec.dirty

    store.commit([dataclasses.replace(t, last_status="RUNNING", started_at=NOW) for t in tasks])
    assert rec.run_once() == 1
    svc = store.get("service", SVC)
    assert svc.running_count == 2 and svc.deployments[0].rollout_state == "COMPLETED"
    assert rec.run_once() == 0
    assert rec.next_timer() == NOW + timedelta(hours=6)  # the steady state's repeat

    clock[0] = NOW + timedelta(hours=6)
    assert rec.run_once() == 1  # a timer, not a change, brought the service back
    assert store.get("service", SVC).events[0].message.endswith("has reached a steady state.")


def test_quiet_clusters_cost_nothing(store: Store) -> None:
    rec = Reconciler(store, Policy(), clock=lambda: NOW)
    rec.run_once()
    rec.run_once()
    assert rec.due(NOW) == []


def test_changes_map_to_their_cluster() -> None:
    assert cluster_of(Delete("task", f"{PREFIX}:task/c1/abc")) == CLUSTER
    assert cluster_of(Delete("cluster", CLUSTER)) == CLUSTER
    assert cluster_of(Delete("task_definition", f"{PREFIX}:task-definition/web:1")) is None
    assert cluster_of(instance(1)) == CLUSTER
    assert cluster_of(taskdef(1)) is None
