"""Service Connect TLS and proxy policies through the ECS API: validation, the manifest, tags."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509

from tests.contract.agent_client import connect, register_instance
from tests.helpers import Server, unique, until

PCA = "arn:aws:acm-pca:us-east-1:000000000000:certificate-authority/test"
TLS = {"issuerCertificateAuthority": {"awsPcaAuthorityArn": PCA}, "kmsKey": "k", "roleArn": "r"}
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}


def _namespace(server: Server) -> str:
    sd = server.client("servicediscovery")
    name = unique("sc")
    op = sd.create_http_namespace(Name=name)["OperationId"]
    until(lambda: sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS")
    return name


def _td(ecs: Any, ports: list[dict[str, Any]], mode: str = "awsvpc") -> str:
    family = unique("tls")
    ecs.register_task_definition(family=family, networkMode=mode, containerDefinitions=[{
        "name": "app", "image": "x", "memory": 64, "essential": True, "portMappings": ports,
    }])
    return family


def _section(manifest: dict[str, Any], task_arn: str) -> Any:
    return next((t.get("serviceConnect") for t in manifest["tasks"] if t["taskArn"] == task_arn),
                None)


API_PORTS = [{"name": "api", "containerPort": 8080, "appProtocol": "http"}]


@pytest.mark.parametrize(
    ("service", "mode", "message"),
    [
        ({"tls": {"issuerCertificateAuthority": {}}}, "awsvpc", "awsPcaAuthorityArn"),
        ({"tls": TLS, "ingressPortOverride": 8080}, "awsvpc", "container port"),
    ],
)
def test_invalid_tls_configurations(
    server: Server, service: dict[str, Any], mode: str, message: str
) -> None:
    ecs = server.client()
    cluster = unique("c")
    ecs.create_cluster(clusterName=cluster)
    with pytest.raises(ClientError) as err:
        ecs.create_service(
            cluster=cluster, serviceName=unique("s"), taskDefinition=_td(ecs, API_PORTS, mode),
            desiredCount=0, **({"networkConfiguration": NETWORK} if mode == "awsvpc" else {}),
            serviceConnectConfiguration={"enabled": True, "namespace": _namespace(server),
                                         "services": [{"portName": "api", **service}]},
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert message in err.value.response["Error"]["Message"]


def test_policy_tags_are_validated(server: Server) -> None:
    ecs = server.client()
    cluster = unique("c")
    ecs.create_cluster(clusterName=cluster)
    with pytest.raises(ClientError) as err:
        ecs.create_service(cluster=cluster, serviceName=unique("s"),
                           taskDefinition=_td(ecs, [], "bridge"), desiredCount=0,
                           tags=[{"key": "portside:retry.maxRetries", "value": "many"}])
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    arn = ecs.create_service(cluster=cluster, serviceName=unique("s"),
                             taskDefinition=_td(ecs, [], "bridge"),
                             desiredCount=0)["service"]["serviceArn"]
    out = server.aws("ecs", "tag-resource", "--resource-arn", arn, "--tags",
                     "key=portside:outlier.consecutive5xx,value=0", check=False)
    assert out.returncode != 0 and "InvalidParameterException" in out.stderr
    assert "between 1 and 1000" in out.stderr


def test_tls_service_gets_certificates_and_policies_reach_callers(server: Server) -> None:
    ecs = server.client()
    namespace = _namespace(server)
    cluster = unique("tls")
    ecs.create_cluster(clusterName=cluster)
    instance = register_instance(ecs, cluster, cpu=4096, memory=8192)
    api = ecs.create_service(
        cluster=cluster, serviceName="api", taskDefinition=_td(ecs, API_PORTS), desiredCount=1,
        networkConfiguration=NETWORK,
        tags=[{"key": "portside:outlier.consecutive5xx", "value": "3"}],
        serviceConnectConfiguration={"enabled": True, "namespace": namespace, "services": [
            {"portName": "api", "clientAliases": [{"port": 8080, "dnsName": "api"}],
             "tls": TLS}]},
    )["service"]
    described = ecs.describe_services(cluster=cluster, services=["api"])["services"][0]
    sc_service = described["deployments"][0]["serviceConnectConfiguration"]["services"][0]
    assert sc_service["tls"] == TLS  # echoed as given
    ecs.create_service(
        cluster=cluster, serviceName="client", taskDefinition=_td(ecs, []), desiredCount=1,
        networkConfiguration=NETWORK,
        serviceConnectConfiguration={"enabled": True, "namespace": namespace},
    )
    (api_task,) = until(lambda: ecs.list_tasks(cluster=cluster, serviceName="api")["taskArns"])
    (client_task,) = until(lambda: ecs.list_tasks(cluster=cluster,
                                                  serviceName="client")["taskArns"])

    async def body() -> None:
        agent = await connect(server, cluster, instance)
        try:
            first = await agent.next("TaskManifest", when=lambda m: _section(m, api_task)
                                     and _section(m, client_task))
            mine, theirs = _section(first, api_task), _section(first, client_task)
            (inbound,) = mine["inbound"]
            assert (inbound["ingressPort"], inbound["tls"]) == (15443, True)
            (upstream,) = theirs["upstreams"]
            assert upstream == {"name": "api", "protocol": "http", "idleTimeoutSeconds": 300,
                                "perRequestTimeoutSeconds": 15, "tls": True,
                                "outlier": {"consecutive5xx": 3}}
            ca = x509.load_pem_x509_certificate(mine["tls"]["certificateAuthority"].encode())
            certs = {}
            for arn, section in ((api_task, mine), (client_task, theirs)):
                assert section["tls"]["certificateAuthority"] == mine["tls"]["certificateAuthority"]
                cert = x509.load_pem_x509_certificate(section["tls"]["certificate"].encode())
                cert.verify_directly_issued_by(ca)
                assert cert.not_valid_after_utc - cert.not_valid_before_utc <= timedelta(days=7)
                certs[arn] = cert
            sans = certs[api_task].extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
            assert sans == ["api"]  # what the client's proxy checks: the discovery name

            # A policy tag set later reaches the callers' proxies in a new manifest,
            # with the same certificates (nothing re-issued).
            ecs.tag_resource(resourceArn=api["serviceArn"], tags=[
                {"key": "portside:retry.maxRetries", "value": "1"},
                {"key": "portside:loadBalancing", "value": "least_request"}])
            pushed = await agent.next("TaskManifest", when=lambda m: (
                _section(m, client_task)["upstreams"][0].get("retry")))
            (upstream,) = _section(pushed, client_task)["upstreams"]
            assert upstream["retry"] == {"maxRetries": 1}
            assert upstream["loadBalancing"] == "least_request"
            assert upstream["outlier"] == {"consecutive5xx": 3}
            assert _section(pushed, client_task)["tls"] == theirs["tls"]
        finally:
            await agent.close()

    asyncio.run(body())


def test_bridge_tls_service_is_accepted_and_its_task_gets_a_certificate(server: Server) -> None:
    """As in ECS, TLS works in the bridge mode too: the task's inbound listener (on its
    ingress host port) takes mTLS, with a certificate naming the discovery name."""
    ecs = server.client()
    cluster = unique("tlsb")
    ecs.create_cluster(clusterName=cluster)
    instance = register_instance(ecs, cluster, cpu=4096, memory=8192)
    ecs.create_service(
        cluster=cluster, serviceName="api", taskDefinition=_td(ecs, API_PORTS, "bridge"),
        desiredCount=1,
        serviceConnectConfiguration={"enabled": True, "namespace": _namespace(server),
                                     "services": [{"portName": "api", "tls": TLS,
                                                   "clientAliases": [{"port": 8080}]}]},
    )
    described = ecs.describe_services(cluster=cluster, services=["api"])["services"][0]
    assert described["deployments"][0]["serviceConnectConfiguration"]["services"][0]["tls"] == TLS
    (task,) = until(lambda: ecs.list_tasks(cluster=cluster, serviceName="api")["taskArns"])

    async def body() -> None:
        agent = await connect(server, cluster, instance)
        try:
            manifest = await agent.next("TaskManifest", when=lambda m: _section(m, task))
            section = _section(manifest, task)
            (inbound,) = section["inbound"]
            assert (inbound["ingressPort"], inbound["tls"]) == (15443, True)
            (upstream,) = section["upstreams"]
            assert upstream["tls"] is True
            ca = x509.load_pem_x509_certificate(section["tls"]["certificateAuthority"].encode())
            cert = x509.load_pem_x509_certificate(section["tls"]["certificate"].encode())
            cert.verify_directly_issued_by(ca)
            sans = cert.extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
            assert sans == ["api"]
        finally:
            await agent.close()

    asyncio.run(body())
