"""Small builders shared by the ECS contract tests."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import unique


def register_td(ecs: Any, family: str | None = None, *, memory: int = 128, cpu: int = 128,
                host_port: int | None = None, network_mode: str = "bridge",
                **extra: Any) -> dict[str, Any]:
    port: dict[str, Any] = {"containerPort": 80}
    if host_port is not None:
        port["hostPort"] = host_port
    td = ecs.register_task_definition(
        family=family or unique("fam"),
        networkMode=network_mode,
        containerDefinitions=[{
            "name": "web", "image": "busybox", "memory": memory, "cpu": cpu,
            "essential": True, "portMappings": [port],
        }],
        **extra,
    )
    return dict(td["taskDefinition"])


def register_instance(ecs: Any, cluster: str, *, cpu: int = 2048, memory: int = 4096,
                      az: str = "us-east-1a", instance_id: str | None = None,
                      attributes: list[dict[str, str]] | None = None) -> str:
    doc = json.dumps({
        "instanceId": instance_id or f"i-{unique('x')[2:]}",
        "availabilityZone": az, "instanceType": "t3.medium", "region": "us-east-1",
    })
    out = ecs.register_container_instance(
        cluster=cluster,
        instanceIdentityDocument=doc,
        totalResources=[
            {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]},
            {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
        ],
        versionInfo={"agentVersion": "1.0.0", "agentHash": "x", "dockerVersion": "20.10"},
        attributes=attributes or [],
    )
    return str(out["containerInstance"]["containerInstanceArn"])


def cluster_with_instances(ecs: Any, n: int = 1, **kw: Any) -> tuple[str, list[str]]:
    name = unique("cl")
    ecs.create_cluster(clusterName=name)
    return name, [register_instance(ecs, name, **kw) for _ in range(n)]
