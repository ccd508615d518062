"""Service operations through boto3: shapes, validation, idempotency."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.ecs_fixtures import cluster_with_instances, register_td
from tests.helpers import unique


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_create_describe_update_delete(ecs: Any) -> None:
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    name = unique("svc")
    svc = ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=td["family"],
                             desiredCount=0, tags=[{"key": "a", "value": "b"}])["service"]
    assert svc["serviceArn"].endswith(f":service/{cluster}/{name}")
    assert svc["status"] == "ACTIVE"
    assert svc["launchType"] == "EC2"
    assert svc["schedulingStrategy"] == "REPLICA"
    assert svc["deploymentConfiguration"]["maximumPercent"] == 200
    assert svc["deploymentConfiguration"]["minimumHealthyPercent"] == 100
    (dep,) = svc["deployments"]
    assert dep["status"] == "PRIMARY"
    assert dep["rolloutState"] == "IN_PROGRESS"
    assert dep["taskDefinition"] == td["taskDefinitionArn"]

    got = ecs.describe_services(cluster=cluster, services=[name, "nope"], include=["TAGS"])
    assert got["services"][0]["tags"] == [{"key": "a", "value": "b"}]
    assert got["failures"][0]["reason"] == "MISSING"
    assert svc["serviceArn"] in ecs.list_services(cluster=cluster)["serviceArns"]

    td2 = register_td(ecs, family=td["family"])
    up = ecs.update_service(cluster=cluster, service=name, taskDefinition=td2["taskDefinitionArn"])
    deps = up["service"]["deployments"]
    assert [d["status"] for d in deps] == ["PRIMARY", "ACTIVE"]
    assert deps[0]["taskDefinition"] == td2["taskDefinitionArn"]

    gone = ecs.delete_service(cluster=cluster, service=name)["service"]
    assert gone["status"] in ("DRAINING", "INACTIVE")
    assert svc["serviceArn"] not in ecs.list_services(cluster=cluster)["serviceArns"] or (
        gone["status"] == "DRAINING"
    )


def test_delete_scaled_service_needs_force(ecs: Any) -> None:
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    name = unique("svc")
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=td["family"],
                       desiredCount=1)
    with pytest.raises(ClientError) as err:
        ecs.delete_service(cluster=cluster, service=name)
    assert _code(err) == "InvalidParameterException"
    assert ecs.delete_service(cluster=cluster, service=name, force=True)["service"]["status"] == "DRAINING"


def test_create_service_client_token(ecs: Any) -> None:
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    name = unique("svc")
    a = ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=td["family"],
                           desiredCount=0, clientToken="t1")["service"]
    b = ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=td["family"],
                           desiredCount=0, clientToken="t1")["service"]
    assert a["serviceArn"] == b["serviceArn"]
    assert a["createdAt"] == b["createdAt"]
    with pytest.raises(ClientError) as err:
        ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=td["family"],
                           desiredCount=0, clientToken="t2")
    assert _code(err) == "InvalidParameterException"


def test_service_validation(ecs: Any) -> None:
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    with pytest.raises(ClientError) as err:
        ecs.create_service(cluster=cluster, serviceName=unique("s"), taskDefinition=td["family"],
                           desiredCount=1, schedulingStrategy="DAEMON")
    assert _code(err) == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        ecs.create_service(cluster=cluster, serviceName=unique("s"), taskDefinition="nope:1",
                           desiredCount=1)
    assert _code(err) == "ClientException"
    with pytest.raises(ClientError) as err:
        ecs.create_service(cluster=unique("none"), serviceName="s", taskDefinition=td["family"],
                           desiredCount=1)
    assert _code(err) == "ClusterNotFoundException"
    with pytest.raises(ClientError) as err:
        ecs.update_service(cluster=cluster, service=unique("none"), desiredCount=2)
    assert _code(err) == "ServiceNotFoundException"
    with pytest.raises(ClientError) as err:
        ecs.create_service(
            cluster=cluster, serviceName=unique("s"), taskDefinition=td["family"], desiredCount=1,
            placementStrategy=[{"type": "binpack", "field": "disk"}],
        )
    assert _code(err) == "InvalidParameterException"


def test_cluster_with_services_cannot_be_deleted(ecs: Any) -> None:
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    ecs.create_service(cluster=cluster, serviceName=unique("s"), taskDefinition=td["family"],
                       desiredCount=0)
    with pytest.raises(ClientError) as err:
        ecs.delete_cluster(cluster=cluster)
    assert _code(err) == "ClusterContainsServicesException"


def test_list_services_paginates_by_ten(ecs: Any) -> None:
    name = unique("cl")
    ecs.create_cluster(clusterName=name)
    td = register_td(ecs)
    for i in range(12):
        ecs.create_service(cluster=name, serviceName=f"s{i}", taskDefinition=td["family"],
                           desiredCount=0)
    first = ecs.list_services(cluster=name)
    assert len(first["serviceArns"]) == 10 and first["nextToken"]
    second = ecs.list_services(cluster=name, nextToken=first["nextToken"])
    assert len(second["serviceArns"]) == 2 and "nextToken" not in second
