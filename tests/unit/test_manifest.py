"""TaskPayloads: camelCase container definitions with the task's overrides applied."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from portside.domain.ecs.task import Container, Task
from portside.domain.ecs.task_definition import TaskDefinition
from portside.runtime.manifest import apply_container_override, task_payload

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TD_ARN = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3"
ARN = "arn:aws:ecs:us-east-1:000000000000:task/c/abc"

WEB = {
    "name": "web",
    "image": "busybox",
    "cpu": 128,
    "memory": 256,
    "essential": True,
    "command": ["httpd", "-f"],
    "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
    "port_mappings": [{"container_port": 80, "host_port": 0, "protocol": "tcp"}],
    "health_check": {"command": ["CMD", "true"], "interval": 5, "timeout": 2, "retries": 3},
    "docker_labels": {"team_name": "x"},
    "resource_requirements": [{"type": "GPU", "value": "1"}],
}


def test_override_rules() -> None:
    out = apply_container_override(
        WEB,
        {
            "name": "web",
            "command": ["sleep", "1"],
            "environment": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
            "memory": 300,
            "resource_requirements": [{"type": "GPU", "value": "2"}],
        },
    )
    assert out["command"] == ["sleep", "1"]
    assert out["environment"] == [
        {"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}
    ]
    assert (out["memory"], out["cpu"]) == (300, 128)
    assert out["resource_requirements"] == [{"type": "GPU", "value": "2"}]
    assert WEB["memory"] == 256  # the definition itself is untouched


def _payload(**task_kw: Any) -> dict[str, Any]:
    td = TaskDefinition(
        task_definition_arn=TD_ARN, family="web", revision=3, registered_at=T0,
        container_definitions=(WEB,), network_mode="bridge", cpu="256", memory="512",
        volumes=({"name": "data", "host": {"source_path": "/tmp/x"}},),
    )
    task = Task(
        task_arn=ARN, cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        task_definition_arn=TD_ARN, created_at=T0, version=4,
        containers=(Container(container_arn=ARN + "/web", task_arn=ARN, name="web"),),
        availability_zone="us-east-1a", launch_type="EC2", group="service:api",
        **task_kw,
    )
    out: dict[str, Any] = task_payload(task, td)
    return out


def test_payload_is_camel_case_with_overrides() -> None:
    p = _payload(overrides={"container_overrides": [{"name": "web", "cpu": 64}], "memory": "1024"})
    assert p["taskArn"] == ARN and p["family"] == "web" and p["revision"] == 3
    assert (p["version"], p["desiredStatus"], p["networkMode"]) == (4, "RUNNING", "bridge")
    assert (p["cpu"], p["memory"]) == ("256", "1024")
    assert p["serviceName"] == "api"
    assert "stopCode" not in p
    (c,) = p["containers"]
    assert c["cpu"] == 64 and c["containerArn"] == ARN + "/web"
    assert c["portMappings"] == [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}]
    assert c["healthCheck"]["command"] == ["CMD", "true"]
    assert c["dockerLabels"] == {"team_name": "x"}
    assert c["environment"][0] == {"name": "A", "value": "1"}
    assert p["volumes"] == [{"name": "data", "host": {"sourcePath": "/tmp/x"}}]


def test_payload_of_a_stopping_task_says_why() -> None:
    p = _payload(desired_status="STOPPED", stop_code="UserInitiated", stopped_reason="bye")
    assert (p["desiredStatus"], p["stopCode"], p["stopReason"]) == ("STOPPED", "UserInitiated", "bye")
