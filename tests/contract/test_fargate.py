"""FARGATE and FARGATE_SPOT through boto3: the Fargate pool, task shapes, ECS's errors.

A pool here is a container instance registered with the attribute
``portside.fargate-pool`` (what ``portside up``'s hidden agent does), on a server
of its own: the pool serves every cluster of its server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_server
from tests.contract.ecs_fixtures import register_instance, register_td
from tests.helpers import Server, unique, until

NET = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}
POOL = [{"name": "portside.fargate-pool", "value": "true"}]


@pytest.fixture(scope="module")
def pool_server(store_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = make_server(store_backend, tmp_path_factory.mktemp(f"fargate-{store_backend}")).start()
    ecs = srv.client("ecs")
    ecs.create_cluster(clusterName="default")
    register_instance(ecs, "default", cpu=4096, memory=8192, az="us-east-1b", attributes=POOL)
    yield srv
    srv.stop()


@pytest.fixture
def fecs(pool_server: Server) -> Any:
    return pool_server.client("ecs")


def fargate_td(ecs: Any, cpu: str = "256", memory: str = "512") -> str:
    td = ecs.register_task_definition(
        family=unique("fg"), networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu=cpu, memory=memory,
        containerDefinitions=[{"name": "web", "image": "busybox", "essential": True,
                               "portMappings": [{"containerPort": 80}]}],
    )["taskDefinition"]
    return str(td["taskDefinitionArn"])


def apps_cluster(ecs: Any) -> str:
    name = unique("apps")
    ecs.create_cluster(clusterName=name, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    return name


def test_run_task_fargate_has_fargate_shape(fecs: Any) -> None:
    cluster = apps_cluster(fecs)
    out = fecs.run_task(cluster=cluster, taskDefinition=fargate_td(fecs), launchType="FARGATE",
                        networkConfiguration=NET, count=2)
    assert out["failures"] == []
    assert len(out["tasks"]) == 2
    arns = [t["taskArn"] for t in out["tasks"]]
    for t in fecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] + out["tasks"]:
        assert t["launchType"] == "FARGATE"
        assert "containerInstanceArn" not in t
        assert "capacityProviderName" not in t
        assert t["platformVersion"] == "1.4.0"
        assert t["platformFamily"] == "Linux"
        assert t["availabilityZone"] == "us-east-1b"
        assert t["lastStatus"] == "PROVISIONING"
    assert fecs.list_tasks(cluster=cluster, launchType="FARGATE")["taskArns"]


def test_capacity_provider_strategy_names_the_provider(fecs: Any) -> None:
    cluster = apps_cluster(fecs)
    out = fecs.run_task(
        cluster=cluster, taskDefinition=fargate_td(fecs), networkConfiguration=NET, count=4,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "base": 1, "weight": 1},
                                  {"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        platformVersion="LATEST",
    )
    names = [t["capacityProviderName"] for t in out["tasks"]]
    # base 1 on FARGATE, then the other 3 by weight 1:1 (ties to the first listed)
    assert sorted(names) == ["FARGATE", "FARGATE", "FARGATE", "FARGATE_SPOT"]
    assert {t["launchType"] for t in out["tasks"]} == {"FARGATE"}
    assert all("containerInstanceArn" not in t for t in out["tasks"])


def test_pool_is_hidden_and_no_ec2_capacity(fecs: Any) -> None:
    assert fecs.list_container_instances(cluster="default")["containerInstanceArns"] == []
    got = fecs.describe_clusters(clusters=["default"])["clusters"][0]
    assert got["registeredContainerInstancesCount"] == 0
    assert fecs.list_attributes(cluster="default", targetType="container-instance")["attributes"] == []
    with pytest.raises(ClientError) as err:
        fecs.run_task(cluster="default", taskDefinition=register_td(fecs)["taskDefinitionArn"])
    assert "No Container Instances were found" in err.value.response["Error"]["Message"]


def test_full_pool_says_capacity_is_unavailable(fecs: Any) -> None:
    cluster = apps_cluster(fecs)
    big = fargate_td(fecs, cpu="4096", memory="8192")
    out = fecs.run_task(cluster=cluster, taskDefinition=big, launchType="FARGATE",
                        networkConfiguration=NET, count=2)
    assert len(out["tasks"]) <= 1
    assert out["failures"]
    assert out["failures"][0]["reason"].startswith("Capacity is unavailable at this time.")
    for t in out["tasks"]:
        fecs.stop_task(cluster=cluster, task=t["taskArn"])


def test_fargate_errors_are_ecs_errors(fecs: Any) -> None:
    cluster = apps_cluster(fecs)
    bridge = register_td(fecs)["taskDefinitionArn"]
    with pytest.raises(ClientError) as err:
        fecs.run_task(cluster=cluster, taskDefinition=bridge, launchType="FARGATE")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert err.value.response["Error"]["Message"] == (
        "Task definition does not support launch_type FARGATE."
    )
    with pytest.raises(ClientError) as err:
        fecs.run_task(cluster=cluster, taskDefinition=fargate_td(fecs), launchType="FARGATE")
    assert "Network Configuration must be provided" in err.value.response["Error"]["Message"]
    plain = unique("plain")
    fecs.create_cluster(clusterName=plain)
    with pytest.raises(ClientError) as err:
        fecs.run_task(cluster=plain, taskDefinition=fargate_td(fecs),
                      capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
                      networkConfiguration=NET)
    assert "not associated with the cluster" in err.value.response["Error"]["Message"]


def test_fargate_service_places_on_the_pool(fecs: Any) -> None:
    cluster = apps_cluster(fecs)
    fecs.create_service(cluster=cluster, serviceName="web", taskDefinition=fargate_td(fecs),
                        desiredCount=2, launchType="FARGATE", networkConfiguration=NET)

    def placed() -> list[dict[str, Any]]:
        arns = fecs.list_tasks(cluster=cluster, serviceName="web")["taskArns"]
        return fecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if len(arns) == 2 else []

    tasks = until(placed)
    assert {t["launchType"] for t in tasks} == {"FARGATE"}
    assert all("containerInstanceArn" not in t for t in tasks)
    fecs.delete_service(cluster=cluster, service="web", force=True)


def test_without_a_pool_fargate_fails_honestly(ecs: Any) -> None:
    cluster = unique("nopool")
    ecs.create_cluster(clusterName=cluster)
    out = ecs.run_task(cluster=cluster, taskDefinition=fargate_td(ecs), launchType="FARGATE",
                       networkConfiguration=NET)
    assert out["tasks"] == []
    assert out["failures"][0]["reason"].startswith("Capacity is unavailable at this time")



def test_delete_default_cluster_leaves_the_pool_serving(
    store_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The hidden pool does not keep ``default`` from being deleted, and serves on."""
    srv = make_server(store_backend, tmp_path_factory.mktemp(f"fg-del-{store_backend}")).start()
    try:
        ecs = srv.client("ecs")
        ecs.create_cluster(clusterName="default")
        register_instance(ecs, "default", cpu=4096, memory=8192, attributes=POOL)
        gone = ecs.delete_cluster(cluster="default")["cluster"]
        assert gone["status"] == "INACTIVE"
        cluster = apps_cluster(ecs)
        out = ecs.run_task(cluster=cluster, taskDefinition=fargate_td(ecs), launchType="FARGATE",
                           networkConfiguration=NET)
        assert out["failures"] == [] and len(out["tasks"]) == 1
        # A user's instance in a new ``default`` still keeps it, as ECS does.
        ecs.create_cluster(clusterName="default")
        mine = register_instance(ecs, "default")
        with pytest.raises(ClientError) as err:
            ecs.delete_cluster(cluster="default")
        assert err.value.response["Error"]["Code"] == "ClusterContainsContainerInstancesException"
        ecs.deregister_container_instance(cluster="default", containerInstance=mine)
        assert ecs.delete_cluster(cluster="default")["cluster"]["status"] == "INACTIVE"
    finally:
        srv.stop()
