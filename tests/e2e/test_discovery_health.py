"""ECS container health, seen through the Cloud Map API: UNHEALTHY until the check passes,
and UNHEALTHY again when it fails.

A real task on the process driver whose health check passes only while a flag
file exists: registered in Cloud Map as soon as it runs, its instance stays
UNHEALTHY in GetInstancesHealthStatus (and DiscoverInstances HEALTHY finds
nothing) for as long as the flag is missing, turns HEALTHY once the agent has
seen the check pass, and UNHEALTHY again once the flag is gone
(controllers/registrations.py). The service's health check grace period
(600 s) keeps the service controller from replacing the unhealthy task while
the test looks at it (controllers/plan.py ``triage``): the same task is
UNHEALTHY, not a new one, and Cloud Map shows it as such.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.discovery_rig import srv_registry
from tests.helpers import Server, stop_everything, unique, until

pytestmark = pytest.mark.slow


def _health(sd: Any, service_id: str) -> dict[str, str]:
    return dict(sd.get_instances_health_status(ServiceId=service_id)["Status"])


def test_ecs_health_drives_get_instances_health_status(tmp_path: Path) -> None:
    srv = Server(data_dir=tmp_path, default_args=[
        "--instances", "1", "--cpu", "1024", "--memory", "1024", "--driver", "process"]).start()
    try:
        ecs, sd = srv.client(), srv.client("servicediscovery")
        zone, reg = srv_registry(sd, ttl=5)
        flag = tmp_path / "healthy"
        family = unique("web")
        ecs.register_task_definition(family=family, containerDefinitions=[{
            "name": "web", "image": "python", "essential": True, "memory": 64,
            "entryPoint": [sys.executable, "-c"], "command": ["import time; time.sleep(600)"],
            "portMappings": [{"containerPort": 8000, "hostPort": 0}],
            "healthCheck": {"command": ["CMD-SHELL", f"test -e {flag}"],
                            "interval": 5, "timeout": 2, "retries": 1, "startPeriod": 0},
        }])
        until(lambda: ecs.list_container_instances(cluster="default")["containerInstanceArns"],
              timeout=60)
        ecs.create_service(
            cluster="default", serviceName="web", taskDefinition=family, desiredCount=1,
            healthCheckGracePeriodSeconds=600,
            serviceRegistries=[{"registryArn": reg["Arn"], "containerName": "web",
                                "containerPort": 8000}],
        )
        (task_arn,) = until(lambda: ecs.list_tasks(cluster="default", serviceName="web")[
            "taskArns"], timeout=60)
        task_id = task_arn.rsplit("/", 1)[-1]

        # Registered once RUNNING, and UNHEALTHY: the check cannot pass without the flag.
        status = until(lambda: _health(sd, reg["Id"]), timeout=90)
        assert status == {task_id: "UNHEALTHY"}
        (task,) = ecs.describe_tasks(cluster="default", tasks=[task_arn])["tasks"]
        assert task["lastStatus"] == "RUNNING" and task["healthStatus"] != "HEALTHY"
        healthy = sd.discover_instances(NamespaceName=zone, ServiceName="web",
                                        HealthStatus="HEALTHY")["Instances"]
        assert healthy == []

        flag.touch()
        until(lambda: _health(sd, reg["Id"]) == {task_id: "HEALTHY"}, timeout=90)
        found = sd.discover_instances(NamespaceName=zone, ServiceName="web",
                                      HealthStatus="HEALTHY")["Instances"]
        assert [i["InstanceId"] for i in found] == [task_id]
        (task,) = ecs.describe_tasks(cluster="default", tasks=[task_arn])["tasks"]
        assert task["healthStatus"] == "HEALTHY"

        # The check fails again: the same task turns UNHEALTHY, in ECS and in Cloud Map.
        flag.unlink()
        until(lambda: _health(sd, reg["Id"]) == {task_id: "UNHEALTHY"}, timeout=90)
        healthy = sd.discover_instances(NamespaceName=zone, ServiceName="web",
                                        HealthStatus="HEALTHY")["Instances"]
        assert healthy == []
        everyone = sd.discover_instances(NamespaceName=zone, ServiceName="web",
                                         HealthStatus="ALL")["Instances"]
        assert [i["InstanceId"] for i in everyone] == [task_id]
        # Inside the grace period the service keeps the unhealthy task: not stopped, not
        # replaced (the instance above is still its own, so it was not stopped meanwhile).
        (task,) = ecs.describe_tasks(cluster="default", tasks=[task_arn])["tasks"]
        assert task["healthStatus"] == "UNHEALTHY"
        assert (task["lastStatus"], task["desiredStatus"]) == ("RUNNING", "RUNNING")
        assert ecs.list_tasks(cluster="default", serviceName="web")["taskArns"] == [task_arn]
    finally:
        try:
            stop_everything(srv.client())
        finally:
            srv.stop()
