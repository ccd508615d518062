"""Agent reports arriving together share a commit, and every acknowledged one is durable.

Many SubmitTaskStateChange / SubmitContainerStateChange calls in flight at
once (runtime/report_batch.py groups them): each lands as if alone — the
lifecycle moves forward, a version bump per changing report, two reports for
one task in the same batch both applied — a bad report fails alone, and
everything acknowledged survives kill -9.
"""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_server
from tests.contract.ecs_fixtures import register_instance, register_td
from tests.helpers import unique

TASKS = 24


def _tasks(ecs: Any) -> tuple[str, list[dict[str, Any]]]:
    cluster = ecs.create_cluster(clusterName=unique("batch"))["cluster"]["clusterArn"]
    register_instance(ecs, cluster, cpu=128 * TASKS, memory=128 * TASKS)
    plain = register_td(ecs)["taskDefinitionArn"]  # dynamic host ports: they all fit
    tasks: list[dict[str, Any]] = []
    while len(tasks) < TASKS:
        tasks += ecs.run_task(
            cluster=cluster, taskDefinition=plain, count=min(10, TASKS - len(tasks))
        )["tasks"]
    return cluster, tasks


@pytest.mark.slow
def test_concurrent_reports_each_land_and_survive_kill_9(
    store_backend: str, tmp_path: Path
) -> None:
    srv = make_server(store_backend, tmp_path).start()
    try:
        ecs = srv.client()
        cluster, tasks = _tasks(ecs)
        before = {t["taskArn"]: t["version"] for t in tasks}

        def walk(task: dict[str, Any]) -> None:
            # a client per thread: botocore clients are not shared across threads
            own = srv.client()
            for status in ("PENDING", "ACTIVATING", "RUNNING"):
                own.submit_task_state_change(cluster=cluster, task=task["taskArn"], status=status)

        with ThreadPoolExecutor(len(tasks)) as pool:
            list(pool.map(walk, tasks))

        # two reports for one task at once: both apply, whichever batch each lands in
        target = tasks[0]["taskArn"]

        def container_report(i: int) -> str:
            own = srv.client()
            if i == 0:
                own.submit_container_state_change(
                    cluster=cluster, task=target, containerName="web", runtimeId="c0ffee",
                    status="RUNNING",
                )  # fmt: skip
                return "ok"
            if i == 1:
                own.submit_task_state_change(
                    cluster=cluster, task=target, status="RUNNING",
                    containers=[{"containerName": "web", "reason": "fine"}],
                )  # fmt: skip
                return "ok"
            try:  # a bad report in the same crowd fails alone
                own.submit_task_state_change(cluster=cluster, task=unique("nope"), status="RUNNING")
            except ClientError as exc:
                return str(exc.response["Error"]["Code"])
            return "accepted?"

        with ThreadPoolExecutor(3) as pool:
            outcomes = list(pool.map(container_report, range(3)))
        assert outcomes == ["ok", "ok", "InvalidParameterException"]

        srv.kill(signal.SIGKILL)  # everything acknowledged must be on disk
        srv.start()
        ecs = srv.client()
        arns = [t["taskArn"] for t in tasks]
        got = {t["taskArn"]: t for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]}
        for arn in arns:
            assert got[arn]["lastStatus"] == "RUNNING"
            assert "startedAt" in got[arn]
        for arn in arns[1:]:
            assert got[arn]["version"] == before[arn] + 3  # one bump per changing report
        (c,) = got[target]["containers"]
        assert (c["runtimeId"], c["lastStatus"], c.get("reason")) == ("c0ffee", "RUNNING", "fine")
        assert got[target]["version"] == before[target] + 5
    finally:
        srv.stop()
