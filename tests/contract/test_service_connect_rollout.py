"""A rolling UpdateService to a definition with other ports: each task keeps its own
deployment's Service Connect registration, as ECS keys the configuration per deployment.

The old definition serves ``api`` on container ``app`` port 8080 (ingress port 15443);
the new one on container ``web`` port 15443, so its ingress port is 15444. While both
deployments run, Cloud Map holds the old task on the port its proxy listens on and the
new task on the new one. The new definition has a health check nobody reports, so the
new task never proves healthy and the rollout keeps the old task running.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.agent_client import report_network
from tests.contract.ecs_fixtures import cluster_with_instances
from tests.helpers import Server, unique, until

AWSVPC = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}
HOST_PORTS = {"old": 40001, "new": 40002}  # bridge: the ingress host ports the agents report


def _td(ecs: Any, mode: str, container: str, port: int, **extra: Any) -> str:
    family = unique("roll")
    ecs.register_task_definition(family=family, networkMode=mode, containerDefinitions=[{
        "name": container, "image": "x", "memory": 64, "essential": True,
        "portMappings": [{"name": "api", "containerPort": port, "appProtocol": "http"}],
        **extra,
    }])
    return family


def _running(ecs: Any, cluster: str, arn: str, container: str, mode: str, app_port: int,
             ingress: int, host_port: int) -> None:
    """The task runs; in the bridge mode its agent reports the proxy's ingress binding."""
    bindings = [{"bindIP": "0.0.0.0", "containerPort": app_port, "hostPort": host_port - 7000,
                 "protocol": "tcp"},
                {"bindIP": "0.0.0.0", "containerPort": ingress, "hostPort": host_port,
                 "protocol": "tcp"}] if mode == "bridge" else []
    ecs.submit_task_state_change(
        cluster=cluster, task=arn, status="RUNNING",
        containers=[{"containerName": container, "status": "RUNNING", "runtimeId": "r",
                     **({"networkBindings": bindings} if bindings else {})}],
    )


@pytest.mark.parametrize("mode", ["awsvpc", "bridge"])
def test_old_tasks_keep_their_registration_port_during_a_rollout(
    server: Server, mode: str
) -> None:
    ecs, sd = server.client(), server.client("servicediscovery")
    ns_name = unique("roll")
    op = sd.create_http_namespace(Name=ns_name)["OperationId"]
    until(lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS")
    cluster, _ = cluster_with_instances(ecs, 1)
    name = unique("api")
    ecs.create_service(
        cluster=cluster, serviceName=name, taskDefinition=_td(ecs, mode, "app", 8080),
        desiredCount=1, **({"networkConfiguration": AWSVPC} if mode == "awsvpc" else {}),
        serviceConnectConfiguration={"enabled": True, "namespace": ns_name, "services": [
            {"portName": "api", "clientAliases": [{"port": 8080, "dnsName": name}]}]},
    )
    (old,) = until(lambda: ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"])
    _running(ecs, cluster, old, "app", mode, 8080, 15443, HOST_PORTS["old"])
    if mode == "awsvpc":  # registered under its own address, once its agent reports it
        report_network(server, cluster, old, "10.0.4.1", container="app")

    (svc,) = ecs.describe_services(cluster=cluster, services=[name])["services"]
    (resource,) = svc["deployments"][0]["serviceConnectResources"]
    registry_id = resource["discoveryArn"].rsplit("/", 1)[-1]

    def ports() -> dict[str, str]:
        return {i["Id"]: i["Attributes"]["AWS_INSTANCE_PORT"]
                for i in sd.list_instances(ServiceId=registry_id)["Instances"]}

    old_id = old.rsplit("/", 1)[-1]
    old_port = str(HOST_PORTS["old"]) if mode == "bridge" else "15443"
    until(lambda: ports() == {old_id: old_port})

    # 15443 is a container port of the new definition: its ingress port is 15444
    new_td = _td(ecs, mode, "web", 15443, healthCheck={"command": ["CMD-SHELL", "true"]})
    ecs.update_service(cluster=cluster, service=name, taskDefinition=new_td)
    (new,) = until(lambda: [a for a in ecs.list_tasks(cluster=cluster, serviceName=name)[
        "taskArns"] if a != old])
    _running(ecs, cluster, new, "web", mode, 15443, 15444, HOST_PORTS["new"])
    if mode == "awsvpc":
        report_network(server, cluster, new, "10.0.4.2", container="web")
    new_id = new.rsplit("/", 1)[-1]
    new_port = str(HOST_PORTS["new"]) if mode == "bridge" else "15444"
    found = until(lambda: (p := ports()).get(new_id) == new_port and p)
    assert found == {old_id: old_port, new_id: new_port}

    (svc,) = ecs.describe_services(cluster=cluster, services=[name])["services"]
    assert [d["status"] for d in svc["deployments"]] == ["PRIMARY", "ACTIVE"]  # still rolling
