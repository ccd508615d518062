"""RunTask, StartTask, StopTask, DescribeTasks, ListTasks through boto3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.ecs_fixtures import cluster_with_instances, register_td
from tests.helpers import Server, unique


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_run_task_with_no_instances_is_ecs_error(ecs: Any) -> None:
    name = unique("cl")
    ecs.create_cluster(clusterName=name)
    td = register_td(ecs)
    with pytest.raises(ClientError) as err:
        ecs.run_task(cluster=name, taskDefinition=td["taskDefinitionArn"])
    assert _code(err) == "InvalidParameterException"
    assert "No Container Instances" in err.value.response["Error"]["Message"]


def test_run_task_places_and_describes(ecs: Any) -> None:
    cluster, (ci,) = cluster_with_instances(ecs, 1, cpu=1024, memory=1024)
    td = register_td(ecs, memory=256, cpu=256)
    out = ecs.run_task(cluster=cluster, taskDefinition=td["family"], count=3, startedBy="me")
    assert out["failures"] == []
    tasks = out["tasks"]
    assert len(tasks) == 3
    for t in tasks:
        assert t["containerInstanceArn"] == ci
        assert t["lastStatus"] == "PENDING"
        assert t["desiredStatus"] == "RUNNING"
        assert t["launchType"] == "EC2"
        assert t["group"] == f"family:{td['family']}"
        assert t["containers"][0]["name"] == "web"
        assert t["availabilityZone"] == "us-east-1a"
    arns = [t["taskArn"] for t in tasks]
    desc = ecs.describe_tasks(cluster=cluster, tasks=[*arns, "nope"])
    assert sorted(t["taskArn"] for t in desc["tasks"]) == sorted(arns)
    assert desc["failures"][0]["reason"] == "MISSING"

    inst = ecs.describe_container_instances(cluster=cluster, containerInstances=[ci])
    ci_desc = inst["containerInstances"][0]
    remaining = {r["name"]: r for r in ci_desc["remainingResources"]}
    # 1024 - 3 * 256 = 256 left of each.
    assert remaining["CPU"]["integerValue"] == 256
    assert remaining["MEMORY"]["integerValue"] == 256
    assert ci_desc["pendingTasksCount"] == 3

    listed = ecs.list_tasks(cluster=cluster, startedBy="me")["taskArns"]
    assert sorted(listed) == sorted(arns)
    assert ecs.list_tasks(cluster=cluster, family=td["family"])["taskArns"]
    assert ecs.list_tasks(cluster=cluster, containerInstance=ci)["taskArns"]
    assert ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"] == []


def test_run_task_reports_resource_failures(ecs: Any) -> None:
    cluster, (ci,) = cluster_with_instances(ecs, 1, cpu=1024, memory=512)
    td = register_td(ecs, memory=1024, cpu=128)
    out = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"])
    assert out["tasks"] == []
    assert out["failures"] == [{"arn": ci, "reason": "RESOURCE:MEMORY"}]


def test_fixed_host_port_conflicts_on_second_task(ecs: Any) -> None:
    cluster, (ci,) = cluster_with_instances(ecs, 1)
    td = register_td(ecs, host_port=8080)
    first = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"])
    assert len(first["tasks"]) == 1
    second = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"])
    assert second["failures"] == [{"arn": ci, "reason": "RESOURCE:PORTS"}]


def test_run_task_client_token_is_idempotent(ecs: Any) -> None:
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    a = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"], count=2,
                     clientToken="tok-1")
    b = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"], count=2,
                     clientToken="tok-1")
    assert sorted(t["taskArn"] for t in a["tasks"]) == sorted(t["taskArn"] for t in b["tasks"])
    assert len(ecs.list_tasks(cluster=cluster)["taskArns"]) == 2


def test_distinct_instance_and_member_of(ecs: Any) -> None:
    cluster, cis = cluster_with_instances(ecs, 2)
    td = register_td(ecs)
    out = ecs.run_task(
        cluster=cluster, taskDefinition=td["taskDefinitionArn"], count=3,
        placementConstraints=[{"type": "distinctInstance"}],
    )
    assert len(out["tasks"]) == 2
    assert {t["containerInstanceArn"] for t in out["tasks"]} == set(cis)
    assert out["failures"]

    with pytest.raises(ClientError) as err:
        ecs.run_task(
            cluster=cluster, taskDefinition=td["taskDefinitionArn"],
            placementConstraints=[{"type": "memberOf", "expression": "attribute:ecs.instance-type =="}],
        )
    assert _code(err) == "InvalidParameterException"


def test_launch_type_and_strategy_together_refused(ecs: Any) -> None:
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    with pytest.raises(ClientError) as err:
        ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"], launchType="EC2",
                     capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}])
    assert _code(err) == "InvalidParameterException"


def test_awsvpc_needs_network_configuration(ecs: Any) -> None:
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs, network_mode="awsvpc")
    with pytest.raises(ClientError) as err:
        ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"])
    assert "Network Configuration must be provided" in err.value.response["Error"]["Message"]
    out = ecs.run_task(
        cluster=cluster, taskDefinition=td["taskDefinitionArn"],
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
    )
    assert out["tasks"][0]["lastStatus"] == "PROVISIONING"


def test_inactive_task_definition_is_refused(ecs: Any) -> None:
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    ecs.deregister_task_definition(taskDefinition=td["taskDefinitionArn"])
    with pytest.raises(ClientError) as err:
        ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"])
    assert _code(err) == "ClientException"


def test_start_task_on_named_instance(ecs: Any) -> None:
    cluster, cis = cluster_with_instances(ecs, 2)
    td = register_td(ecs)
    out = ecs.start_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"],
                         containerInstances=[cis[1]])
    assert [t["containerInstanceArn"] for t in out["tasks"]] == [cis[1]]
    missing = ecs.start_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"],
                             containerInstances=["0" * 32])
    assert missing["failures"][0]["reason"] == "MISSING"


def test_stop_task(ecs: Any) -> None:
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    arn = ecs.run_task(cluster=cluster, taskDefinition=td["taskDefinitionArn"])["tasks"][0]["taskArn"]
    stopped = ecs.stop_task(cluster=cluster, task=arn, reason="done here")["task"]
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stoppedReason"] == "done here"
    assert stopped["stopCode"] == "UserInitiated"
    assert arn in ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
    with pytest.raises(ClientError) as err:
        ecs.stop_task(cluster=cluster, task="f" * 32)
    assert _code(err) == "InvalidParameterException"


def test_tasks_in_unknown_cluster(ecs: Any) -> None:
    with pytest.raises(ClientError) as err:
        ecs.list_tasks(cluster=unique("none"))
    assert _code(err) == "ClusterNotFoundException"


def test_aws_cli_run_task(server: Server) -> None:
    import json

    ecs = server.client()
    cluster, _ = cluster_with_instances(ecs, 1)
    td = register_td(ecs)
    out = json.loads(server.aws("ecs", "run-task", "--cluster", cluster,
                                "--task-definition", td["family"], "--count", "2").stdout)
    assert len(out["tasks"]) == 2
