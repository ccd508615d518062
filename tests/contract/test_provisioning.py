"""Tasks an Auto Scaling provider has no room for wait in PROVISIONING (boto3).

As ECS does when the provider has managed scaling: RunTask and services create
the task PROVISIONING with its capacity provider and no container instance
(managed scaling counts it); without managed scaling RunTask fails at once.
Placing them once an instance of the provider appears is covered by
tests/unit/controllers/test_provisioning.py and the capacity end-to-end tests.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.ecs_fixtures import register_instance, register_td
from tests.helpers import unique, until


def _provider(ecs: Any, managed: bool = True) -> str:
    name = unique("cp")
    ecs.create_capacity_provider(name=name, autoScalingGroupProvider={
        "autoScalingGroupArn": f"arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:"
                               f"1:autoScalingGroupName/{unique('asg')}",
        "managedScaling": {"status": "ENABLED" if managed else "DISABLED", "targetCapacity": 100},
    })  # fmt: skip
    return name


def _cluster(ecs: Any, provider: str) -> str:
    cluster = unique("cl")
    ecs.create_cluster(clusterName=cluster, capacityProviders=[provider],
                       defaultCapacityProviderStrategy=[{"capacityProvider": provider, "weight": 1}])
    return cluster


def test_run_task_waits_provisioning_when_the_provider_has_managed_scaling(ecs: Any) -> None:
    cp = _provider(ecs)
    cluster = _cluster(ecs, cp)
    out = ecs.run_task(cluster=cluster, taskDefinition=register_td(ecs)["taskDefinitionArn"],
                       count=2)
    assert out["failures"] == []
    assert len(out["tasks"]) == 2
    arns = [t["taskArn"] for t in out["tasks"]]
    for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]:
        assert (t["lastStatus"], t["desiredStatus"]) == ("PROVISIONING", "RUNNING")
        assert t["capacityProviderName"] == cp
        assert "containerInstanceArn" not in t
    assert sorted(ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]) == sorted(arns)
    for arn in arns:  # a waiting task stops at once
        assert ecs.stop_task(cluster=cluster, task=arn)["task"]["lastStatus"] == "STOPPED"


def test_run_task_fails_at_once_without_managed_scaling(ecs: Any) -> None:
    cp = _provider(ecs, managed=False)
    cluster = _cluster(ecs, cp)
    td = register_td(ecs)["taskDefinitionArn"]
    with pytest.raises(ClientError) as err:
        ecs.run_task(cluster=cluster, taskDefinition=td,
                     capacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])
    assert err.value.response["Error"]["Message"] == "No Container Instances were found in your cluster."
    register_instance(ecs, cluster)  # an instance, but none of the provider's
    out = ecs.run_task(cluster=cluster, taskDefinition=td,
                       capacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])
    assert out["tasks"] == []
    reasons = [f["reason"] for f in out["failures"]]
    assert f"No Container Instances in capacity provider {cp}." in reasons


def test_service_tasks_wait_provisioning_and_the_events_say_why(ecs: Any) -> None:
    cp = _provider(ecs)
    cluster = _cluster(ecs, cp)
    td = register_td(ecs)["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=td, desiredCount=2,
                       capacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])

    def waiting() -> list[dict[str, Any]]:
        arns = ecs.list_tasks(cluster=cluster, serviceName="web")["taskArns"]
        return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if len(arns) == 2 else []

    for t in until(waiting):
        assert t["lastStatus"] == "PROVISIONING"
        assert t["capacityProviderName"] == cp
        assert "containerInstanceArn" not in t
    svc = until(lambda: next(
        (s for s in ecs.describe_services(cluster=cluster, services=["web"])["services"]
         if s["events"]), None))
    assert svc["pendingCount"] == 2
    assert any(f"waits in PROVISIONING for capacity provider {cp}" in e["message"]
               for e in svc["events"])
    ecs.delete_service(cluster=cluster, service="web", force=True)
    until(lambda: not ecs.list_tasks(cluster=cluster)["taskArns"])
