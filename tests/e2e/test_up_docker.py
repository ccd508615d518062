"""`portside up` with the Docker driver: a busybox httpd service answers, heals and rolls back."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.agent.e2e import needs_docker
from tests.helpers import Server, stop_everything, unique, until
from tests.support.images import ensure_busybox_image

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def _httpd(image: str) -> dict[str, Any]:
    return {"name": "web", "image": image, "memory": 64, "essential": True,
            "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
            "portMappings": [{"containerPort": 80}], "stopTimeout": 2}


def _running(ecs: Any, td: str | None = None) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster="default", serviceName="web")["taskArns"]
    tasks = ecs.describe_tasks(cluster="default", tasks=arns)["tasks"] if arns else []
    return [t for t in tasks if t["lastStatus"] == "RUNNING"
            and (td is None or t["taskDefinitionArn"] == td)]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # httpd answered (404 for an empty /www is an answer)
    except OSError:
        return False


def test_docker_service_answers_heals_and_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_docker()
    # A task with no health check counts as healthy after running this long (ECS: 40 s).
    monkeypatch.setenv("PORTSIDE_SERVICE_SETTLE", "3")
    image = ensure_busybox_image()
    import docker

    api = docker.from_env(timeout=30)
    srv = Server(data_dir=tmp_path, default_args=["--instances", "1", "--driver", "docker"]).start()
    try:
        ecs = srv.client()
        until(lambda: ecs.list_container_instances(cluster="default")["containerInstanceArns"],
              timeout=60)
        family = unique("web")
        good = ecs.register_task_definition(family=family, containerDefinitions=[_httpd(image)])[
            "taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster="default", serviceName="web", taskDefinition=good, desiredCount=3,
            deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True,
                                                                  "rollback": True}},
        )
        tasks = until(lambda: (lambda r: r if len(r) == 3 else None)(_running(ecs)), timeout=120)
        for t in tasks:
            port = t["containers"][0]["networkBindings"][0]["hostPort"]
            until(lambda p=port: _answers(p), timeout=30)

        # Killing a container brings a replacement.
        victim = tasks[0]["taskArn"]
        (container,) = api.containers.list(
            filters={"label": f"com.amazonaws.ecs.task-arn={victim}"})
        container.kill()
        until(lambda: victim not in {t["taskArn"] for t in _running(ecs)}
              and len(_running(ecs)) == 3, timeout=120)

        # Rollback goes to the last COMPLETED deployment: let the first one complete.
        until(lambda: ecs.describe_services(cluster="default", services=["web"])["services"][0][
            "deployments"][0]["rolloutState"] == "COMPLETED", timeout=120)

        # An image that cannot start trips the circuit breaker and rolls back.
        bad = ecs.register_task_definition(family=family, containerDefinitions=[
            _httpd("portside-test/no-such-image:latest")])["taskDefinition"]["taskDefinitionArn"]
        (bad_id,) = [d["id"] for d in ecs.update_service(
            cluster="default", service="web", taskDefinition=bad)["service"]["deployments"]
            if d["status"] == "PRIMARY"]

        def rolled_back() -> bool:
            # the rollback is PRIMARY with the good definition the moment the breaker trips:
            # wait for it to complete, the only deployment left
            svc = ecs.describe_services(cluster="default", services=["web"])["services"][0]
            (primary, *others) = svc["deployments"]
            return bool(primary["taskDefinition"] == good and primary["id"] != bad_id
                        and primary["rolloutState"] == "COMPLETED" and not others
                        and len(_running(ecs, good)) == 3)

        until(rolled_back, timeout=240, every=1)
        events = ecs.describe_services(cluster="default", services=["web"])["services"][0]["events"]
        # (the FAILED deployment itself leaves the list once the rollback completes: its
        # event stays)
        assert f"(service web) (deployment {bad_id}) deployment failed: tasks failed to start." in {
            e["message"] for e in events}
    finally:
        try:
            stop_everything(srv.client())
        finally:
            srv.stop()
            api.close()
