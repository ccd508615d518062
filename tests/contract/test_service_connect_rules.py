"""Service Connect configuration rules as the ECS API reference has them.

Client aliases unique in the namespace, the stored configuration checked again when
UpdateService brings a new task definition, the cluster's default namespace resolved
(or created, as ECS does), and the name, alias, timeout, launch type and network
mode rules. The tests share one Cloud Map namespace (the account has at most 50),
each with names of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.agent_client import report_network
from tests.contract.ecs_fixtures import cluster_with_instances
from tests.helpers import Server, unique, until

AWSVPC = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}


@pytest.fixture(scope="module")
def namespace(server: Server) -> tuple[str, str]:
    """An HTTP namespace: (name, ARN)."""
    sd = server.client("servicediscovery")
    name = unique("rules")
    op = sd.create_http_namespace(Name=name)["OperationId"]
    ns_id = sd.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
    return name, sd.get_namespace(Id=ns_id)["Namespace"]["Arn"]


def _td(ecs: Any, ports: list[dict[str, Any]], *, mode: str = "bridge",
        container: str = "app") -> str:
    family = unique("rules")
    ecs.register_task_definition(family=family, networkMode=mode, containerDefinitions=[{
        "name": container, "image": "x", "memory": 64, "essential": True,
        "portMappings": ports,
    }])
    return family


def _refused(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def _connect(ns: str, *services: dict[str, Any]) -> dict[str, Any]:
    return {"enabled": True, "namespace": ns, "services": list(services)}


def test_client_alias_is_unique_in_the_namespace(
    server: Server, namespace: tuple[str, str]
) -> None:
    ecs = server.client()
    ns_name, _ = namespace
    cluster, _ = cluster_with_instances(ecs, 1)
    first, second = unique("p"), unique("p")
    family = _td(ecs, [{"name": first, "containerPort": 8080, "appProtocol": "http"},
                       {"name": second, "containerPort": 8081, "appProtocol": "http"}])
    dns = unique("api")
    owner = ecs.create_service(
        cluster=cluster, serviceName=unique("a"), taskDefinition=family, desiredCount=0,
        serviceConnectConfiguration=_connect(
            ns_name, {"portName": first, "clientAliases": [{"port": 8080, "dnsName": dns}]}),
    )["service"]

    def create(*services: dict[str, Any]) -> Any:
        return ecs.create_service(
            cluster=cluster, serviceName=unique("b"), taskDefinition=family, desiredCount=0,
            serviceConnectConfiguration=_connect(ns_name, *services))

    code, message = _refused(lambda: create(
        {"portName": second, "clientAliases": [{"port": 8080, "dnsName": dns}]}))
    assert code == "InvalidParameterException"
    assert owner["serviceArn"] in message and f"{dns}:8080" in message
    # two ports of one service with one alias
    code, message = _refused(lambda: create(
        {"portName": first, "discoveryName": unique("d"),
         "clientAliases": [{"port": 9000, "dnsName": dns}]},
        {"portName": second, "clientAliases": [{"port": 9000, "dnsName": dns}]}))
    assert code == "InvalidParameterException" and "this service" in message

    # the same name on another port is another alias; the owner may restate its own
    assert create({"portName": second, "clientAliases": [{"port": 8081, "dnsName": dns}]})
    assert ecs.update_service(
        cluster=cluster, service=owner["serviceName"],
        serviceConnectConfiguration=_connect(
            ns_name, {"portName": first, "clientAliases": [{"port": 8080, "dnsName": dns}]}),
    )["service"]


def test_default_dns_name_counts_as_an_alias(server: Server, namespace: tuple[str, str]) -> None:
    ecs = server.client()
    ns_name, _ = namespace
    cluster, _ = cluster_with_instances(ecs, 1)
    first, second = unique("p"), unique("p")
    family = _td(ecs, [{"name": first, "containerPort": 8080, "appProtocol": "http"},
                       {"name": second, "containerPort": 8081, "appProtocol": "http"}])
    owner = ecs.create_service(
        cluster=cluster, serviceName=unique("a"), taskDefinition=family, desiredCount=0,
        serviceConnectConfiguration=_connect(
            ns_name, {"portName": first, "clientAliases": [{"port": 8080}]}),
    )["service"]
    code, message = _refused(lambda: ecs.create_service(
        cluster=cluster, serviceName=unique("b"), taskDefinition=family, desiredCount=0,
        serviceConnectConfiguration=_connect(ns_name, {
            "portName": second, "clientAliases": [{"port": 8080, "dnsName": f"{first}.{ns_name}"}]}),
    ))
    assert code == "InvalidParameterException" and owner["serviceArn"] in message


def test_new_task_definition_is_checked_and_derived_again(
    server: Server, namespace: tuple[str, str]
) -> None:
    """UpdateService with only a new task definition: the stored configuration must still
    name one of its ports, and the container, its port protocol (the timeouts' defaults)
    and the ingress port come from the new definition."""
    ecs, sd = server.client(), server.client("servicediscovery")
    ns_name, _ = namespace
    cluster, _ = cluster_with_instances(ecs, 1)
    port = unique("p")
    old = _td(ecs, [{"name": port, "containerPort": 8080, "appProtocol": "http"}], mode="awsvpc")
    svc = ecs.create_service(
        cluster=cluster, serviceName=unique("api"), taskDefinition=old, desiredCount=0,
        networkConfiguration=AWSVPC,
        serviceConnectConfiguration=_connect(
            ns_name, {"portName": port, "clientAliases": [{"port": 8080}]}),
    )["service"]
    name = svc["serviceName"]
    before = svc["deployments"][0]["serviceConnectConfiguration"]["services"][0]["timeout"]
    assert before == {"idleTimeoutSeconds": 300, "perRequestTimeoutSeconds": 15}

    unnamed = _td(ecs, [{"name": unique("other"), "containerPort": 8080}], mode="awsvpc")
    code, message = _refused(lambda: ecs.update_service(
        cluster=cluster, service=name, taskDefinition=unnamed))
    assert code == "InvalidParameterException" and f"'{port}'" in message
    (kept,) = ecs.describe_services(cluster=cluster, services=[name])["services"]
    assert kept["taskDefinition"].split("/")[-1].startswith(old)

    # the port is plain TCP now, in another container, and 15443 is one of its ports
    new = _td(ecs, [{"name": port, "containerPort": 9090},
                    {"name": unique("admin"), "containerPort": 15443}],
              mode="awsvpc", container="web")
    updated = ecs.update_service(cluster=cluster, service=name, taskDefinition=new,
                                 desiredCount=1)["service"]
    entry = updated["deployments"][0]["serviceConnectConfiguration"]["services"][0]
    assert entry["timeout"] == {"idleTimeoutSeconds": 3600}  # tcp: no per-request timeout
    assert entry["clientAliases"] == [{"port": 8080, "dnsName": f"{port}.{ns_name}"}]
    (arn,) = until(lambda: ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"])
    ecs.submit_task_state_change(
        cluster=cluster, task=arn, status="RUNNING",
        containers=[{"containerName": "web", "status": "RUNNING", "runtimeId": "r"}],
    )
    report_network(server, cluster, arn, "10.0.4.3", container="web")
    found = until(lambda: sd.discover_instances(NamespaceName=ns_name, ServiceName=port)[
        "Instances"])
    assert found[0]["Attributes"]["AWS_INSTANCE_PORT"] == "15444"  # 15443: a container port
    assert found[0]["Attributes"]["AWS_INSTANCE_IPV4"] == "10.0.4.3"  # the task's own ENI


def test_new_task_definition_checks_the_timeouts_given(
    server: Server, namespace: tuple[str, str]
) -> None:
    ecs = server.client()
    ns_name, _ = namespace
    cluster, _ = cluster_with_instances(ecs, 1)
    port = unique("p")
    http = _td(ecs, [{"name": port, "containerPort": 8080, "appProtocol": "http"}])
    svc = ecs.create_service(
        cluster=cluster, serviceName=unique("api"), taskDefinition=http, desiredCount=0,
        serviceConnectConfiguration=_connect(ns_name, {
            "portName": port, "timeout": {"perRequestTimeoutSeconds": 5}}),
    )["service"]
    tcp = _td(ecs, [{"name": port, "containerPort": 8080}])
    code, message = _refused(lambda: ecs.update_service(
        cluster=cluster, service=svc["serviceName"], taskDefinition=tcp))
    assert code == "InvalidParameterException" and "perRequestTimeoutSeconds" in message
    grpc = _td(ecs, [{"name": port, "containerPort": 8080, "appProtocol": "grpc"}])
    entry = ecs.update_service(cluster=cluster, service=svc["serviceName"], taskDefinition=grpc)[
        "service"]["deployments"][0]["serviceConnectConfiguration"]["services"][0]
    assert entry["timeout"] == {"idleTimeoutSeconds": 300, "perRequestTimeoutSeconds": 5}


def test_cluster_default_namespace_created_by_name(server: Server) -> None:
    """A name no namespace has makes ECS create an HTTP namespace of that name; the cluster
    shows its ARN; "" removes the default and leaves the namespace."""
    ecs, sd = server.client(), server.client("servicediscovery")
    ns_name, cluster = unique("made"), unique("cl")
    shown = ecs.create_cluster(clusterName=cluster, serviceConnectDefaults={
        "namespace": ns_name})["cluster"]["serviceConnectDefaults"]["namespace"]
    made = [n for n in sd.list_namespaces()["Namespaces"] if n["Name"] == ns_name]
    assert [(n["Arn"], n["Type"]) for n in made] == [(shown, "HTTP")]
    (described,) = ecs.describe_clusters(clusters=[cluster])["clusters"]
    assert described["serviceConnectDefaults"] == {"namespace": shown}

    family = _td(ecs, [{"name": "api", "containerPort": 8080, "appProtocol": "http"}])
    svc = ecs.create_service(cluster=cluster, serviceName=unique("client"), taskDefinition=family,
                             desiredCount=0, serviceConnectConfiguration={"enabled": True})
    assert svc["service"]["deployments"][0]["serviceConnectConfiguration"]["namespace"] == shown

    again = ecs.update_cluster(cluster=cluster, serviceConnectDefaults={"namespace": ns_name})
    assert again["cluster"]["serviceConnectDefaults"] == {"namespace": shown}
    assert [n["Name"] for n in sd.list_namespaces()["Namespaces"]].count(ns_name) == 1

    ecs.update_cluster(cluster=cluster, serviceConnectDefaults={"namespace": ""})
    (described,) = ecs.describe_clusters(clusters=[cluster])["clusters"]
    assert "serviceConnectDefaults" not in described
    assert any(n["Arn"] == shown for n in sd.list_namespaces()["Namespaces"])
    code, _ = _refused(lambda: ecs.create_service(
        cluster=cluster, serviceName=unique("client"), taskDefinition=family, desiredCount=0,
        serviceConnectConfiguration={"enabled": True}))
    assert code == "InvalidParameterException"


def test_cluster_default_namespace_resolved(server: Server, namespace: tuple[str, str]) -> None:
    ecs = server.client()
    ns_name, ns_arn = namespace
    cluster = unique("cl")
    ecs.create_cluster(clusterName=cluster)
    for ref in (ns_name, ns_arn):
        out = ecs.update_cluster(cluster=cluster, serviceConnectDefaults={"namespace": ref})
        assert out["cluster"]["serviceConnectDefaults"] == {"namespace": ns_arn}
    missing = ns_arn.rsplit("/", 1)[0] + "/ns-doesnotexist00"
    code, _ = _refused(lambda: ecs.update_cluster(
        cluster=cluster, serviceConnectDefaults={"namespace": missing}))
    assert code == "NamespaceNotFoundException"
    code, message = _refused(lambda: ecs.update_cluster(
        cluster=cluster, serviceConnectDefaults={"namespace": "a/b"}))
    assert code == "InvalidParameterException" and "namespace" in message
    (described,) = ecs.describe_clusters(clusters=[cluster])["clusters"]
    assert described["serviceConnectDefaults"] == {"namespace": ns_arn}  # unchanged


HTTP_PORT = {"containerPort": 8080, "appProtocol": "http"}
LONGEST_DISCOVERY = unique("my_api").ljust(63, "a")
LONGEST_ALIAS = f"{unique('api_1')}.svc.".ljust(127, "a")  # unique in the namespace


@pytest.mark.parametrize(
    ("port", "entry", "extra", "message"),
    [
        # discoveryName: lowercase letters, numbers, underscores, hyphens, no "-" first (ECS),
        # up to 63 and no "-" last (it names a Cloud Map service, one DNS label)
        (HTTP_PORT, {"discoveryName": "Api"}, {}, "discoveryName"),
        (HTTP_PORT, {"discoveryName": "-api"}, {}, "discoveryName"),
        (HTTP_PORT, {"discoveryName": "api-"}, {}, "discoveryName"),
        (HTTP_PORT, {"discoveryName": "a" * 64}, {}, "discoveryName"),
        (HTTP_PORT, {"discoveryName": LONGEST_DISCOVERY}, {}, None),
        # portName must name a port mapping (whose names are lowercase)
        (HTTP_PORT, {"portName": "API"}, {}, "portName"),
        # clientAliases: at most one; dnsName up to 127 lowercase DNS characters
        (HTTP_PORT, {"clientAliases": [{"port": 80}, {"port": 81}]}, {}, "at most 1"),
        (HTTP_PORT, {"clientAliases": [{"port": 80, "dnsName": "Api"}]}, {}, "dnsName"),
        (HTTP_PORT, {"clientAliases": [{"port": 80, "dnsName": "-api"}]}, {}, "dnsName"),
        (HTTP_PORT, {"clientAliases": [{"port": 80, "dnsName": "a..b"}]}, {}, "dnsName"),
        (HTTP_PORT, {"clientAliases": [{"port": 80, "dnsName": "a" * 128}]}, {}, "dnsName"),
        (HTTP_PORT, {"clientAliases": [{"port": 80, "dnsName": LONGEST_ALIAS}]}, {}, None),
        # perRequestTimeoutSeconds: http, http2 and grpc ports only
        ({"containerPort": 8080}, {"timeout": {"perRequestTimeoutSeconds": 5}}, {},
         "perRequestTimeoutSeconds"),
        ({"containerPort": 8080, "appProtocol": "http2"},
         {"timeout": {"perRequestTimeoutSeconds": 5}}, {}, None),
        # no EXTERNAL launch type, no host network mode
        (HTTP_PORT, {}, {"launchType": "EXTERNAL"}, "EXTERNAL"),
        ({**HTTP_PORT, "hostPort": 8080}, {}, {"mode": "host"}, "network mode"),
    ],
)
def test_refused_configurations(
    server: Server, namespace: tuple[str, str], port: dict[str, Any], entry: dict[str, Any],
    extra: dict[str, Any], message: str | None,
) -> None:
    ecs = server.client()
    ns_name, _ = namespace
    cluster, _ = cluster_with_instances(ecs, 1)
    name = unique("p")
    family = _td(ecs, [{"name": name, **port}], mode=extra.get("mode", "bridge"))
    service = {"portName": name, "discoveryName": unique("d"), **entry}
    kw: dict[str, Any] = dict(
        cluster=cluster, serviceName=unique("s"), taskDefinition=family, desiredCount=0,
        serviceConnectConfiguration=_connect(ns_name, service))
    if "launchType" in extra:
        kw["launchType"] = extra["launchType"]
    if message is None:
        created = ecs.create_service(**kw)["service"]
        assert created["deployments"][0]["serviceConnectConfiguration"]["services"][0][
            "discoveryName"] == service["discoveryName"]
        return
    code, said = _refused(lambda: ecs.create_service(**kw))
    assert code == "InvalidParameterException"
    assert message in said


def test_log_configuration_is_kept_as_given(server: Server, namespace: tuple[str, str]) -> None:
    """Accepted and shown (docs/service-connect.md: the proxy writes its own log file)."""
    ecs = server.client()
    ns_name, _ = namespace
    cluster, _ = cluster_with_instances(ecs, 1)
    port = unique("p")
    logs = {"logDriver": "awslogs", "options": {"awslogs-group": "sc", "awslogs-region": "x"}}
    svc = ecs.create_service(
        cluster=cluster, serviceName=unique("api"), desiredCount=0,
        taskDefinition=_td(ecs, [{"name": port, "containerPort": 8080, "appProtocol": "http"}]),
        serviceConnectConfiguration={**_connect(ns_name, {"portName": port}),
                                     "logConfiguration": logs},
    )["service"]
    (shown,) = ecs.describe_services(cluster=cluster, services=[svc["serviceName"]])["services"]
    assert shown["deployments"][0]["serviceConnectConfiguration"]["logConfiguration"] == logs
