"""The ``serviceConnect`` section of a TaskPayload, and endpoints pushed across instances."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.contract.agent_client import connect, register_instance
from tests.helpers import Server, unique, until


def _namespace(server: Server) -> str:
    sd = server.client("servicediscovery")
    name = unique("sc")
    op = sd.create_http_namespace(Name=name)["OperationId"]
    until(lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS")
    return name


def _td(ecs: Any, ports: list[dict[str, Any]]) -> str:
    family = unique("sc")
    ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "app", "image": "x", "memory": 64, "essential": True, "portMappings": ports,
    }])
    return family


def _section(manifest: dict[str, Any], task_arn: str) -> Any:
    return next((t.get("serviceConnect") for t in manifest["tasks"] if t["taskArn"] == task_arn),
                None)


def _api_and_client(server: Server, namespace: str, api_td: str,
                    **api_service: Any) -> tuple[str, str, str, str, str, str]:
    """An ``api`` service (``api_td``, Service Connect port ``api`` with ingress 15000) and a
    client-only service, each on a cluster and instance of its own; their one task each:
    (api cluster, client cluster, api instance, client instance, api task, client task)."""
    ecs = server.client()
    api_cluster, client_cluster = unique("api"), unique("cli")
    for name in (api_cluster, client_cluster):
        ecs.create_cluster(clusterName=name)
    api_instance = register_instance(ecs, api_cluster)
    client_instance = register_instance(ecs, client_cluster)
    ecs.create_service(
        cluster=api_cluster, serviceName="api", taskDefinition=api_td, desiredCount=1,
        serviceConnectConfiguration={"enabled": True, "namespace": namespace, "services": [
            {"portName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}],
             "ingressPortOverride": 15000}]},
        **api_service,
    )
    ecs.create_service(
        cluster=client_cluster, serviceName="client", taskDefinition=_td(ecs, []),
        desiredCount=1, serviceConnectConfiguration={"enabled": True, "namespace": namespace},
    )
    (api_task,) = until(lambda: ecs.list_tasks(cluster=api_cluster)["taskArns"])
    (client_task,) = until(lambda: ecs.list_tasks(cluster=client_cluster)["taskArns"])
    return api_cluster, client_cluster, api_instance, client_instance, api_task, client_task


def test_client_task_hears_of_api_endpoints_on_another_instance(server: Server) -> None:
    ecs = server.client()
    namespace = _namespace(server)
    api_td = _td(ecs, [{"name": "api", "containerPort": 80, "hostPort": 0, "appProtocol": "http"}])
    api_cluster, client_cluster, api_instance, client_instance, api_task, client_task = (
        _api_and_client(server, namespace, api_td))

    async def body() -> None:
        agent = await connect(server, client_cluster, client_instance)
        api_agent = await connect(server, api_cluster, api_instance)
        try:
            first = await agent.next("TaskManifest", when=lambda m: _section(m, client_task))
            section = _section(first, client_task)
            assert section["upstreams"] == [{"name": "api", "protocol": "http",
                                             "idleTimeoutSeconds": 300,
                                             "perRequestTimeoutSeconds": 15}]
            assert section["outbound"] == [{"dnsName": "api", "port": 8080, "upstream": "api"}]
            assert section["inbound"] == []  # a client only serves nothing
            assert section["endpoints"] == {"api": []}
            mine = await api_agent.next("TaskManifest", when=lambda m: _section(m, api_task))
            (inbound,) = _section(mine, api_task)["inbound"]
            assert inbound == {"upstream": "api", "containerName": "app", "containerPort": 80,
                               "ingressPort": 15000, "protocol": "http"}

            _report_api_running(ecs, api_cluster, api_task)
            # The api task's Cloud Map instance reaches the client's agent, on another instance.
            pushed = await agent.next("TaskManifest", when=lambda m: (
                (_section(m, client_task) or {}).get("endpoints", {}).get("api")))
            (endpoint,) = _section(pushed, client_task)["endpoints"]["api"]
            assert endpoint["port"] == 40001 and endpoint["health"] == "HEALTHY"

            ecs.stop_task(cluster=api_cluster, task=api_task, reason="bye")
            gone = await agent.next("TaskManifest", when=lambda m: (
                (_section(m, client_task) or {}).get("endpoints") == {"api": []}))
            assert gone
        finally:
            await agent.close()
            await api_agent.close()

    asyncio.run(body())


def test_a_service_without_service_connect_has_no_section(server: Server) -> None:
    ecs = server.client()
    cluster = unique("plain")
    ecs.create_cluster(clusterName=cluster)
    instance = register_instance(ecs, cluster)
    ecs.create_service(cluster=cluster, serviceName="plain", taskDefinition=_td(ecs, []),
                       desiredCount=1)
    (task,) = until(lambda: ecs.list_tasks(cluster=cluster)["taskArns"])

    async def body() -> None:
        agent = await connect(server, cluster, instance)
        try:
            manifest = await agent.next("TaskManifest", when=lambda m: any(
                t["taskArn"] == task for t in m["tasks"]))
            assert all("serviceConnect" not in t for t in manifest["tasks"])
        finally:
            await agent.close()

    asyncio.run(body())


def test_an_endpoint_reaches_callers_unhealthy_until_its_task_reports_healthy(
    server: Server,
) -> None:
    """Endpoints are pushed when a task's health changes, not only when it starts or stops.

    An api task whose task definition has a container health check is RUNNING
    before its first check passes: callers' proxies must hear of it as UNHEALTHY
    (the balancer then sends it traffic only in panic mode), then HEALTHY once
    its agent reports so, and UNHEALTHY again when a check fails (within the
    service's grace period; past it the scheduler replaces the task, which
    withdraws the endpoint instead).
    """
    ecs = server.client()
    namespace = _namespace(server)
    api_td = unique("sc")
    ecs.register_task_definition(family=api_td, containerDefinitions=[{
        "name": "app", "image": "x", "memory": 64, "essential": True,
        "healthCheck": {"command": ["CMD-SHELL", "true"]},
        "portMappings": [{"name": "api", "containerPort": 80, "hostPort": 0,
                          "appProtocol": "http"}],
    }])
    # the grace period keeps the scheduler from replacing the task once it fails
    api_cluster, client_cluster, api_instance, client_instance, api_task, client_task = (
        _api_and_client(server, namespace, api_td, healthCheckGracePeriodSeconds=3600))

    def health(manifest: dict[str, Any]) -> list[Any]:
        section = _section(manifest, client_task) or {}
        return [e["health"] for e in section.get("endpoints", {}).get("api", [])]

    def changed_from(before: list[Any]) -> Callable[[dict[str, Any]], bool]:
        return lambda m: health(m) != before

    async def body() -> None:
        agent = await connect(server, client_cluster, client_instance)
        api_agent = await connect(server, api_cluster, api_instance)
        try:
            await agent.next("TaskManifest", when=lambda m: _section(m, client_task))
            await api_agent.next("TaskManifest", when=lambda m: _section(m, api_task))
            _report_api_running(ecs, api_cluster, api_task)
            # RUNNING, no check has passed yet: listed, but UNHEALTHY.
            latest = await agent.next("TaskManifest", when=lambda m: bool(health(m)))
            (endpoint,) = _section(latest, client_task)["endpoints"]["api"]
            assert endpoint["port"] == 40001 and endpoint["health"] == "UNHEALTHY"

            for status in ("HEALTHY", "UNHEALTHY"):
                await api_agent.send({
                    "type": "TaskHealth", "taskArn": api_task, "healthStatus": status,
                    "containers": [{"containerName": "app", "healthStatus": status}]})
                # The next manifest to the caller that lists the api's endpoints
                # differently is the one with the new health (not without the endpoint).
                latest = await agent.next("TaskManifest", when=changed_from(health(latest)))
                (endpoint,) = _section(latest, client_task)["endpoints"]["api"]
                assert endpoint["port"] == 40001 and endpoint["health"] == status
        finally:
            await agent.close()
            await api_agent.close()

    asyncio.run(body())


def _report_api_running(ecs: Any, cluster: str, task: str) -> None:
    """The api task RUNNING as its agent reports it: the app on host port 33000 and, bridge,
    the proxy's ingress (containerPort: the ingress port 15000) on host port 40001."""
    ecs.submit_task_state_change(
        cluster=cluster, task=task, status="RUNNING",
        containers=[{"containerName": "app", "status": "RUNNING", "runtimeId": "r",
                     "networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80,
                                          "hostPort": 33000, "protocol": "tcp"},
                                         {"bindIP": "0.0.0.0", "containerPort": 15000,
                                          "hostPort": 40001, "protocol": "tcp"}]}],
    )
