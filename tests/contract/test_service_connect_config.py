"""Service Connect configuration: ECS's validation, defaults, and Cloud Map endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.agent_client import report_network
from tests.contract.ecs_fixtures import cluster_with_instances
from tests.helpers import Server, unique, until


def _namespace(server: Server) -> tuple[str, str]:
    sd = server.client("servicediscovery")
    name = unique("sc")
    op = sd.create_http_namespace(Name=name)["OperationId"]
    ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    return name, ns_id


def _td(ecs: Any) -> str:
    family = unique("api")
    ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "app", "image": "x", "memory": 64, "essential": True,
        "portMappings": [{"name": "api", "containerPort": 8080, "appProtocol": "http"}],
    }])
    return family


def test_client_server_service_defaults_and_registration(server: Server) -> None:
    ecs, sd = server.client(), server.client("servicediscovery")
    ns_name, ns_id = _namespace(server)
    cluster, _ = cluster_with_instances(ecs, 1)
    family = _td(ecs)
    svc = ecs.create_service(
        cluster=cluster, serviceName=unique("api"), taskDefinition=family, desiredCount=1,
        serviceConnectConfiguration={"enabled": True, "namespace": ns_name, "services": [
            {"portName": "api", "clientAliases": [{"port": 8080}]}]},
    )["service"]
    cfg = svc["deployments"][0]["serviceConnectConfiguration"]  # ECS shows it per deployment
    (entry,) = cfg["services"]
    assert entry["discoveryName"] == "api"
    assert entry["clientAliases"] == [{"port": 8080, "dnsName": f"api.{ns_name}"}]
    assert entry["timeout"] == {"idleTimeoutSeconds": 300, "perRequestTimeoutSeconds": 15}
    assert cfg["namespace"].endswith(ns_id)
    (res,) = svc["deployments"][0]["serviceConnectResources"]
    assert res["discoveryName"] == "api"
    sd_services = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id]}])["Services"]
    assert [s["Name"] for s in sd_services] == ["api"]
    assert svc["serviceArn"] in ecs.list_services_by_namespace(namespace=ns_name)["serviceArns"]

    (arn,) = until(lambda: ecs.list_tasks(cluster=cluster, serviceName=svc["serviceName"])[
        "taskArns"])
    # bridge: the agent reports its proxy's ingress host port as the binding whose
    # containerPort is the ingress port (15443 by default); Cloud Map registers that one
    ecs.submit_task_state_change(
        cluster=cluster, task=arn, status="RUNNING",
        containers=[{"containerName": "app", "status": "RUNNING", "runtimeId": "r",
                     "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 8080,
                                          "hostPort": 34567, "protocol": "tcp"},
                                         {"bindIP": "0.0.0.0", "containerPort": 15443,
                                          "hostPort": 40001, "protocol": "tcp"}]}],
    )
    found = until(lambda: sd.discover_instances(NamespaceName=ns_name, ServiceName="api")[
        "Instances"])
    assert found[0]["Attributes"]["AWS_INSTANCE_PORT"] == "40001"
    assert found[0]["InstanceId"] == arn.rsplit("/", 1)[-1]


def test_client_only_service_registers_nothing(server: Server) -> None:
    ecs, sd = server.client(), server.client("servicediscovery")
    ns_name, ns_id = _namespace(server)
    cluster, _ = cluster_with_instances(ecs, 1)
    ecs.update_cluster(cluster=cluster, serviceConnectDefaults={"namespace": ns_name})
    svc = ecs.create_service(
        cluster=cluster, serviceName=unique("client"), taskDefinition=_td(ecs), desiredCount=0,
        serviceConnectConfiguration={"enabled": True},  # the cluster's default namespace
    )["service"]
    assert svc["deployments"][0]["serviceConnectConfiguration"]["namespace"].endswith(ns_id)
    assert sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns_id]}])["Services"] == []
    assert svc["serviceArn"] in ecs.list_services_by_namespace(namespace=ns_name)["serviceArns"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"enabled": True, "namespace": "NS", "services": [{"portName": "nope"}]}, "portName"),
        ({"enabled": True}, "namespace"),
        ({"enabled": True, "namespace": "no-such-ns"}, "not found"),
        ({"enabled": True, "namespace": "NS", "services": [
            {"portName": "api", "timeout": {"perRequestTimeoutSeconds": 5}},
        ]}, None),
    ],
)
def test_invalid_configurations(server: Server, config: dict[str, Any], message: str | None) -> None:
    ecs = server.client()
    ns_name, _ = _namespace(server)
    cluster, _ = cluster_with_instances(ecs, 1)
    cfg = {**config}
    if cfg.get("namespace") == "NS":
        cfg["namespace"] = ns_name
    kw = dict(cluster=cluster, serviceName=unique("s"), taskDefinition=_td(ecs), desiredCount=0,
              serviceConnectConfiguration=cfg)
    if message is None:
        assert ecs.create_service(**kw)["service"]  # http port: a per-request timeout is fine
        return
    with pytest.raises(ClientError) as err:
        ecs.create_service(**kw)
    assert err.value.response["Error"]["Code"] in (
        "InvalidParameterException", "NamespaceNotFoundException")
    assert message in err.value.response["Error"]["Message"]


def test_discovery_name_unique_in_namespace(server: Server) -> None:
    ecs = server.client()
    ns_name, _ = _namespace(server)
    cluster, _ = cluster_with_instances(ecs, 1)
    family = _td(ecs)
    cfg = {"enabled": True, "namespace": ns_name, "services": [{"portName": "api"}]}
    ecs.create_service(cluster=cluster, serviceName=unique("a"), taskDefinition=family,
                       desiredCount=0, serviceConnectConfiguration=cfg)
    with pytest.raises(ClientError) as err:
        ecs.create_service(cluster=cluster, serviceName=unique("b"), taskDefinition=family,
                           desiredCount=0, serviceConnectConfiguration=cfg)
    assert "already used" in err.value.response["Error"]["Message"]


def test_awsvpc_port_is_registered_with_its_ingress_port(server: Server) -> None:
    """awsvpc: callers reach the application through its task's proxy (the inbound
    listener), so Cloud Map registers the ingress port — the first free from 15443
    that no port mapping uses — and an ingressPortOverride on a container port is refused."""
    ecs, sd = server.client(), server.client("servicediscovery")
    ns_name, _ = _namespace(server)
    cluster, _ = cluster_with_instances(ecs, 1)
    family = unique("api")
    ecs.register_task_definition(family=family, networkMode="awsvpc", containerDefinitions=[{
        "name": "app", "image": "x", "memory": 64, "essential": True,
        "portMappings": [{"name": "api", "containerPort": 8080, "appProtocol": "http"},
                         {"name": "admin", "containerPort": 15443}],
    }])
    network = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}
    with pytest.raises(ClientError) as err:
        ecs.create_service(
            cluster=cluster, serviceName=unique("api"), taskDefinition=family, desiredCount=0,
            networkConfiguration=network,
            serviceConnectConfiguration={"enabled": True, "namespace": ns_name, "services": [
                {"portName": "api", "ingressPortOverride": 15443}]})
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "container port" in err.value.response["Error"]["Message"]

    svc = ecs.create_service(
        cluster=cluster, serviceName=unique("api"), taskDefinition=family, desiredCount=1,
        networkConfiguration=network,
        serviceConnectConfiguration={"enabled": True, "namespace": ns_name, "services": [
            {"portName": "api", "clientAliases": [{"port": 8080}]}]},
    )["service"]
    (arn,) = until(lambda: ecs.list_tasks(cluster=cluster, serviceName=svc["serviceName"])[
        "taskArns"])
    ecs.submit_task_state_change(
        cluster=cluster, task=arn, status="RUNNING",
        containers=[{"containerName": "app", "status": "RUNNING", "runtimeId": "r"}],
    )
    report_network(server, cluster, arn, "10.0.4.4", container="app")
    found = until(lambda: sd.discover_instances(NamespaceName=ns_name, ServiceName="api")[
        "Instances"])
    assert found[0]["Attributes"]["AWS_INSTANCE_PORT"] == "15444"  # 15443 is a container port
    assert found[0]["Attributes"]["AWS_INSTANCE_IPV4"] == "10.0.4.4"  # the task's own ENI
