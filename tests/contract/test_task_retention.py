"""Retention on a real server: a STOPPED task is forgotten after its retention, a running
one stays, and a deleted task definition revision goes once nothing references it.

ECS keeps a stopped task describable for at least an hour; the server here runs
with ``PORTSIDE_TASK_RETENTION=2`` (seconds) so the test sees it happen.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_server
from tests.contract.ecs_fixtures import cluster_with_instances, register_td
from tests.helpers import Server, until

RETENTION_SECONDS = 2


@pytest.fixture(scope="module")
def srv(store_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    own = make_server(store_backend, tmp_path_factory.mktemp(f"retention-{store_backend}"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PORTSIDE_TASK_RETENTION", str(RETENTION_SECONDS))
        own.start()
    yield own
    own.stop()


def report(ecs: Any, cluster: str, arn: str, status: str) -> None:
    """What the instance's agent would send."""
    ecs.submit_task_state_change(
        cluster=cluster, task=arn, status=status,
        containers=[{"containerName": "web", "status": status,
                     **({"exitCode": 0} if status == "STOPPED" else {})}],
    )  # fmt: skip


def described(ecs: Any, cluster: str, arns: list[str]) -> dict[str, str]:
    """Task ARN -> lastStatus for the tasks DescribeTasks still knows."""
    out = ecs.describe_tasks(cluster=cluster, tasks=arns)
    return {t["taskArn"]: t["lastStatus"] for t in out["tasks"]}


def listed(ecs: Any, cluster: str, desired: str) -> set[str]:
    return set(ecs.list_tasks(cluster=cluster, desiredStatus=desired)["taskArns"])


def test_a_stopped_task_is_forgotten_after_the_retention_and_a_running_one_stays(
    srv: Server,
) -> None:
    ecs = srv.client()
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    tasks = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"], count=2)["tasks"]
    keep, done = (t["taskArn"] for t in tasks)
    for arn in (keep, done):
        report(ecs, cluster, arn, "RUNNING")
    ecs.stop_task(cluster=cluster, task=done, reason="finished")
    report(ecs, cluster, done, "STOPPED")

    # Describable (and listed) as STOPPED at first, as ECS shows a task it just stopped.
    assert described(ecs, cluster, [keep, done]) == {keep: "RUNNING", done: "STOPPED"}
    assert done in listed(ecs, cluster, "STOPPED")

    until(lambda: done not in described(ecs, cluster, [keep, done]), timeout=RETENTION_SECONDS + 20)
    out = ecs.describe_tasks(cluster=cluster, tasks=[keep, done])
    assert [f["reason"] for f in out["failures"]] == ["MISSING"]
    assert out["failures"][0]["arn"] == done
    assert done not in listed(ecs, cluster, "STOPPED")
    # The running task is untouched, through boto3 and the AWS CLI alike.
    assert described(ecs, cluster, [keep]) == {keep: "RUNNING"}
    assert keep in listed(ecs, cluster, "RUNNING")
    cli = json.loads(srv.aws("ecs", "list-tasks", "--cluster", cluster).stdout)
    assert cli["taskArns"] == [keep]


def test_a_deleted_revision_goes_once_its_last_task_has_stopped(srv: Server) -> None:
    ecs = srv.client()
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)["taskDefinitionArn"]
    tasks = ecs.run_task(cluster=cluster, taskDefinition=td, count=2)["tasks"]
    first, last = (t["taskArn"] for t in tasks)
    for arn in (first, last):
        report(ecs, cluster, arn, "RUNNING")
    ecs.deregister_task_definition(taskDefinition=td)
    ecs.delete_task_definitions(taskDefinitions=[td])

    def status() -> str | None:
        try:
            return str(ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]["status"])
        except ecs.exceptions.ClientException:
            return None

    ecs.stop_task(cluster=cluster, task=first)
    report(ecs, cluster, first, "STOPPED")
    until(lambda: first not in described(ecs, cluster, [first]), timeout=RETENTION_SECONDS + 20)
    # Retention passes ran, but a running task still references the revision.
    assert status() == "DELETE_IN_PROGRESS"
    ecs.stop_task(cluster=cluster, task=last)
    report(ecs, cluster, last, "STOPPED")
    until(lambda: status() is None, timeout=20)
