"""TaskPayloads (camelCase, from the control plane) as typed specs."""

from __future__ import annotations

import pytest

from portside.agent.payload import DEFAULT_STOP_TIMEOUT, PayloadError, parse_task


def test_parse_a_full_payload() -> None:
    spec = parse_task({
        "taskArn": "arn:aws:ecs:us-east-1:000000000000:task/prod/abc",
        "clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/prod",
        "family": "web", "revision": 3, "version": 2, "desiredStatus": "RUNNING",
        "networkMode": "awsvpc", "cpu": "256", "memory": "512", "serviceName": "api",
        "containers": [{
            "name": "app", "image": "busybox", "essential": True,
            "entryPoint": ["sh", "-c"], "command": ["httpd -f"],
            "environment": [{"name": "A", "value": "1"}, {"name": "B"}],
            "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp", "name": "http"}],
            "healthCheck": {"command": ["CMD-SHELL", "nc -z localhost 80"], "interval": 10,
                            "retries": 2, "startPeriod": 5},
            "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
            "cpu": 128, "memory": 256, "memoryReservation": 128, "stopTimeout": 5,
            "dockerLabels": {"team": "a"}, "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.1"}],
            "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
        }, {"name": "init", "image": "busybox", "essential": False}],
    })
    assert (spec.task_id, spec.cluster_name, spec.network_mode) == ("abc", "prod", "awsvpc")
    assert (spec.cpu, spec.memory, spec.service_name, spec.wants_stop) == (256, 512, "api", False)
    app = spec.containers[0]
    assert app.argv == ("sh", "-c", "httpd -f")
    assert app.environment == (("A", "1"), ("B", ""))
    assert app.port_mappings[0].host_port is None and app.port_mappings[0].name == "http"
    assert app.health_check is not None
    assert app.health_check.argv == ("/bin/sh", "-c", "nc -z localhost 80")
    assert (app.health_check.interval, app.health_check.timeout, app.health_check.retries) == (10, 5, 2)
    assert app.depends_on[0].condition == "SUCCESS"
    assert (app.memory, app.memory_reservation, app.effective_stop_timeout) == (256, 128, 5)
    assert app.extra_hosts == (("db", "10.0.0.1"),) and app.ulimits == (("nofile", 1024, 2048),)
    init = spec.container("init")
    assert init is not None and not init.essential and init.effective_stop_timeout == DEFAULT_STOP_TIMEOUT


def test_stop_fields_and_defaults() -> None:
    spec = parse_task({"taskArn": "arn:x/t", "desiredStatus": "STOPPED", "stopReason": "bye",
                       "stopCode": "UserInitiated"})
    assert spec.wants_stop and spec.stop_reason == "bye" and spec.network_mode == "bridge"
    assert spec.containers == ()


def test_a_payload_without_task_arn_is_refused() -> None:
    with pytest.raises(PayloadError):
        parse_task({"family": "x"})
