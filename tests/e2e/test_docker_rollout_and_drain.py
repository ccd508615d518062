"""A rolling deployment and a drain with Docker, inside the deployment limits at every look.

``portside up --instances 2 --driver docker`` runs a busybox httpd service of
4 tasks with minimumHealthyPercent 75 and maximumPercent 125: at most 5 tasks
may exist and at least 3 must be RUNNING while tasks are replaced — one at a
time. Every poll while the service moves counts the tasks that exist (not yet
STOPPED), those RUNNING that are meant to keep running, and the containers
Docker really runs for the service, and checks the limits on each.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.agent.e2e import needs_docker
from tests.e2e.deployment_limits import Census, Limits, census, within_limits_until
from tests.helpers import Server, stop_everything, unique, until
from tests.support.images import ensure_busybox_image

pytestmark = [pytest.mark.slow, pytest.mark.docker]

DESIRED, MIN_PERCENT, MAX_PERCENT = 4, 75, 125
LIMITS = Limits(DESIRED, MIN_PERCENT, MAX_PERCENT)  # 3 running at least, 5 alive at most


def _httpd(image: str, revision: str) -> dict[str, Any]:
    return {"name": "web", "image": image, "memory": 32, "essential": True,
            "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
            "environment": [{"name": "REVISION", "value": revision}],
            "portMappings": [{"containerPort": 80}], "stopTimeout": 2}


def _containers(api: Any, family: str) -> Callable[[], set[str]]:
    """Task ARNs of the containers Docker runs for the family's tasks."""
    def look() -> set[str]:
        return {c.labels["com.amazonaws.ecs.task-arn"] for c in api.containers.list(
            filters={"label": f"com.amazonaws.ecs.task-definition-family={family}"})}

    return look


def _service(ecs: Any) -> dict[str, Any]:
    return dict(ecs.describe_services(cluster="default", services=["web"])["services"][0])


def test_rollout_and_drain_stay_within_the_deployment_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_docker()
    # A task with no health check counts as healthy after running this long (ECS: 40 s).
    monkeypatch.setenv("PORTSIDE_SERVICE_SETTLE", "3")
    image = ensure_busybox_image()
    import docker

    api = docker.from_env(timeout=30)
    srv = Server(data_dir=tmp_path, default_args=[
        "--instances", "2", "--azs", "a,b", "--driver", "docker", "--no-fargate"]).start()
    try:
        ecs = srv.client()
        until(lambda: len(ecs.list_container_instances(cluster="default")[
            "containerInstanceArns"]) == 2, timeout=90)
        family = unique("web")
        containers = _containers(api, family)

        def register(revision: str) -> str:
            return str(ecs.register_task_definition(
                family=family, containerDefinitions=[_httpd(image, revision)])[
                "taskDefinition"]["taskDefinitionArn"])

        first = register("1")
        ecs.create_service(
            cluster="default", serviceName="web", taskDefinition=first, desiredCount=DESIRED,
            placementStrategy=[{"type": "spread", "field": "instanceId"}],
            deploymentConfiguration={"minimumHealthyPercent": MIN_PERCENT,
                                     "maximumPercent": MAX_PERCENT})
        until(lambda: _service(ecs)["deployments"][0]["rolloutState"] == "COMPLETED"
              and len(census(ecs, "web", containers).running) == DESIRED, timeout=180, every=0.5)

        # A new task definition rolls through, never beyond the limits.
        second = register("2")
        ecs.update_service(cluster="default", service="web", taskDefinition=second)

        def rolled(c: Census) -> bool:
            svc = _service(ecs)
            return (svc["deployments"][0]["taskDefinition"] == second
                    and svc["deployments"][0]["rolloutState"] == "COMPLETED"
                    and len(svc["deployments"]) == 1
                    and len(c.alive) == DESIRED
                    and all(t["taskDefinitionArn"] == second for t in c.running)
                    and c.workloads == {t["taskArn"] for t in c.running})

        after = within_limits_until(ecs, "web", LIMITS, containers, rolled, timeout=300)
        assert len(after.running) == DESIRED

        # Draining an instance moves its tasks to the other, again within the limits.
        by_instance: dict[str, int] = {}
        for t in after.running:
            by_instance[t["containerInstanceArn"]] = by_instance.get(
                t["containerInstanceArn"], 0) + 1
        drained = max(by_instance, key=lambda arn: by_instance[arn])
        ecs.update_container_instances_state(cluster="default", containerInstances=[drained],
                                             status="DRAINING")

        def moved(c: Census) -> bool:
            return (len(c.alive) == DESIRED and len(c.running) == DESIRED
                    and all(t["containerInstanceArn"] != drained for t in c.alive)
                    and c.workloads == {t["taskArn"] for t in c.running})

        final = within_limits_until(ecs, "web", LIMITS, containers, moved, timeout=300)
        assert all(t["taskDefinitionArn"] == second for t in final.running)
        (ci,) = ecs.describe_container_instances(cluster="default", containerInstances=[
            drained])["containerInstances"]
        assert ci["status"] == "DRAINING"
        until(lambda: ecs.describe_container_instances(cluster="default", containerInstances=[
            drained])["containerInstances"][0]["runningTasksCount"] == 0, timeout=60)
    finally:
        try:
            stop_everything(srv.client())
        finally:
            srv.stop()
            api.close()
