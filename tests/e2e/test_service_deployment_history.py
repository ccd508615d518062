"""Deployment history on real process agents: a container that exits trips the circuit
breaker, and ListServiceDeployments keeps the failed deployment and its rollback after
DescribeServices has forgotten them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Server, stop_everything, unique, until

pytestmark = pytest.mark.slow

SLEEPER = "import time\nwhile True: time.sleep(1)\n"


def _register(ecs: Any, family: str, code: str) -> str:
    td = ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "app", "image": "python", "essential": True, "memory": 32, "cpu": 32,
        "entryPoint": [sys.executable, "-c"], "command": [code], "stopTimeout": 2,
    }])
    return str(td["taskDefinition"]["taskDefinitionArn"])


def _completed_on(ecs: Any, td: str) -> dict[str, Any] | None:
    svc = ecs.describe_services(cluster="default", services=["app"])["services"][0]
    (primary, *others) = svc["deployments"]
    done = primary["taskDefinition"] == td and primary["rolloutState"] == "COMPLETED"
    return svc if done and not others and svc["runningCount"] == 2 else None


def test_an_exiting_container_shows_as_a_rollback_in_the_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTSIDE_SERVICE_SETTLE", "2")
    srv = Server(data_dir=tmp_path, default_args=[
        "--instances", "1", "--cpu", "1024", "--memory", "1024", "--driver", "process"]).start()
    try:
        ecs = srv.client()
        until(lambda: ecs.list_container_instances(cluster="default")["containerInstanceArns"],
              timeout=60)
        family = unique("app")
        good = _register(ecs, family, SLEEPER)
        ecs.create_service(
            cluster="default", serviceName="app", taskDefinition=good, desiredCount=2,
            deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True,
                                                                  "rollback": True}})
        until(lambda: _completed_on(ecs, good), timeout=120)

        broken = _register(ecs, family, "import sys; sys.exit(1)")
        ecs.update_service(cluster="default", service="app", taskDefinition=broken)
        until(lambda: _completed_on(ecs, good), timeout=240)  # rolled back

        def rolled_back() -> dict[str, Any] | None:
            found = ecs.list_service_deployments(
                cluster="default", service="app", status=["ROLLBACK_SUCCESSFUL"])
            return found["serviceDeployments"][0] if found["serviceDeployments"] else None

        brief = until(rolled_back, timeout=60)
        (full,) = ecs.describe_service_deployments(
            serviceDeploymentArns=[brief["serviceDeploymentArn"]])["serviceDeployments"]
        assert full["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
        assert full["deploymentCircuitBreaker"]["failureCount"] >= 3
        revisions = ecs.describe_service_revisions(serviceRevisionArns=[
            full["targetServiceRevision"]["arn"], full["rollback"]["serviceRevisionArn"],
            full["sourceServiceRevisions"][0]["arn"],
        ])["serviceRevisions"]
        assert [r["taskDefinition"] for r in revisions] == [broken, good, good]
        statuses = [b["status"] for b in ecs.list_service_deployments(
            cluster="default", service="app")["serviceDeployments"]]
        assert statuses == ["ROLLBACK_SUCCESSFUL", "SUCCESSFUL"]
    finally:
        try:
            stop_everything(srv.client())
        finally:
            srv.stop()
