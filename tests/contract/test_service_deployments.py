"""Service deployment history against a real server: ListServiceDeployments,
DescribeServiceDeployments, DescribeServiceRevisions, StopServiceDeployment.

As in test_service_controller.py, no agent runs: the test registers instances
and reports task state with SubmitTaskStateChange as an agent would (the
process-driver agents' version of a failing deployment is in
tests/e2e/test_service_deployment_history.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.contract.test_service_controller import (
    describe,
    has_event,
    report,
    setup_cluster,
    taskdef,
    tasks,
)
from tests.contract.test_service_controller import srv as srv
from tests.helpers import Server, client, unique, until

BREAKER = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}


@pytest.fixture
def api(srv: Server) -> Any:
    return srv.client("ecs")


def history(api: Any, cluster: str, name: str, **kw: Any) -> list[dict[str, Any]]:
    return list(api.list_service_deployments(cluster=cluster, service=name, **kw)
                ["serviceDeployments"])


def one(api: Any, arn: str) -> dict[str, Any]:
    out = api.describe_service_deployments(serviceDeploymentArns=[arn])
    assert out["failures"] == []
    return dict(out["serviceDeployments"][0])


def play_agents(api: Any, cluster: str, name: str, fail_td: str | None = None) -> None:
    """Start what is pending (fail it if it is of ``fail_td``), stop what is to stop."""
    for t in tasks(api, cluster, name, "STOPPED"):
        if t["lastStatus"] != "STOPPED":
            report(api, cluster, t, "STOPPED")
    for t in tasks(api, cluster, name):
        if t["lastStatus"] == "PENDING":
            if t["taskDefinitionArn"] == fail_td:
                report(api, cluster, t, "STOPPED", exit_code=1)
            else:
                report(api, cluster, t, "RUNNING")


def settled(api: Any, cluster: str, name: str, fail_td: str | None = None) -> Any:
    def check() -> dict[str, Any] | None:
        play_agents(api, cluster, name, fail_td)
        s = describe(api, cluster, name)
        done = len(s["deployments"]) == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED"
        return s if done else None

    return until(check)


@pytest.fixture
def running(api: Any) -> Iterator[tuple[str, str, str]]:
    """A cluster with a service 'web' of two tasks whose first deployment completed."""
    cluster, _ = setup_cluster(api)
    good = taskdef(api, unique("good"))
    api.create_service(cluster=cluster, serviceName="web", taskDefinition=good, desiredCount=2,
                       deploymentConfiguration=BREAKER)
    settled(api, cluster, "web")
    yield cluster, "web", good


def test_a_completed_deployment_and_its_revision(api: Any, running: tuple[str, str, str]) -> None:
    cluster, name, good = running
    svc = describe(api, cluster, name)
    (brief,) = until(lambda: [b for b in history(api, cluster, name)
                              if b["status"] == "SUCCESSFUL"] or None)
    assert brief["serviceArn"] == svc["serviceArn"] and brief["clusterArn"] == svc["clusterArn"]
    assert f":service-deployment/{cluster}/{name}/" in brief["serviceDeploymentArn"]
    dep_number = svc["deployments"][0]["id"].split("/")[1]
    assert brief["targetServiceRevisionArn"].endswith(
        f":service-revision/{cluster}/{name}/{dep_number}")
    assert brief["createdAt"] <= brief["startedAt"] <= brief["finishedAt"]

    full = one(api, brief["serviceDeploymentArn"])
    assert full["status"] == "SUCCESSFUL" and full["sourceServiceRevisions"] == []
    target = full["targetServiceRevision"]
    assert (target["requestedTaskCount"], target["runningTaskCount"]) == (2, 2)
    assert full["deploymentCircuitBreaker"]["status"] == "MONITORING_COMPLETE"
    assert full["deploymentCircuitBreaker"]["threshold"] == 3
    assert full["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": True, "rollback": True}
    assert "rollback" not in full

    (rev,) = api.describe_service_revisions(
        serviceRevisionArns=[brief["targetServiceRevisionArn"]])["serviceRevisions"]
    assert rev["taskDefinition"] == good and rev["serviceArn"] == svc["serviceArn"]
    assert rev["containerImages"] == [{"containerName": "app", "image": "busybox"}]
    assert rev["createdAt"] == brief["createdAt"]

    # another region knows neither: an ARN of us-east-1 names nothing in us-west-2
    west = client(api.meta.endpoint_url, "ecs", region="us-west-2")
    out = west.describe_service_deployments(serviceDeploymentArns=[brief["serviceDeploymentArn"]])
    assert out["serviceDeployments"] == [] and out["failures"][0]["reason"] == "MISSING"
    out = west.describe_service_revisions(serviceRevisionArns=[brief["targetServiceRevisionArn"]])
    assert out["serviceRevisions"] == [] and out["failures"][0]["reason"] == "MISSING"
    with pytest.raises(ClientError) as err:
        west.stop_service_deployment(serviceDeploymentArn=brief["serviceDeploymentArn"])
    assert err.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"


def test_a_failing_deployment_rolls_back_in_the_history(
    api: Any, running: tuple[str, str, str]
) -> None:
    cluster, name, good = running
    (first,) = history(api, cluster, name)
    bad = taskdef(api, unique("bad"), image="no-such-image")
    api.update_service(cluster=cluster, service=name, taskDefinition=bad)
    failing = until(lambda: [b for b in history(api, cluster, name)
                             if b["serviceDeploymentArn"] != first["serviceDeploymentArn"]])[0]
    assert failing["status"] in ("PENDING", "IN_PROGRESS")

    # the breaker trips, rolls back, and the history keeps it after DescribeServices drops it
    svc = settled(api, cluster, name, fail_td=bad)
    assert svc["taskDefinition"] == good
    rolled = until(lambda: (b := one(api, failing["serviceDeploymentArn"]))["status"]
                   == "ROLLBACK_SUCCESSFUL" and b)
    assert rolled["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert rolled["deploymentCircuitBreaker"]["failureCount"] >= 3
    assert rolled["rollback"]["reason"].startswith("The deployment circuit breaker")
    assert rolled["finishedAt"] >= rolled["rollback"]["startedAt"]
    (source,) = rolled["sourceServiceRevisions"]
    assert source["arn"] == first["targetServiceRevisionArn"]
    assert svc["deployments"][0]["id"].split("/")[1] == rolled["rollback"][
        "serviceRevisionArn"].rsplit("/", 1)[1]

    revs = api.describe_service_revisions(serviceRevisionArns=[
        rolled["targetServiceRevision"]["arn"], rolled["rollback"]["serviceRevisionArn"]])
    assert [r["taskDefinition"] for r in revs["serviceRevisions"]] == [bad, good]

    # filters: by status, by creation time, newest first
    assert [b["status"] for b in history(api, cluster, name)] == [
        "ROLLBACK_SUCCESSFUL", "SUCCESSFUL"]
    only = history(api, cluster, name, status=["ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"])
    assert [b["serviceDeploymentArn"] for b in only] == [failing["serviceDeploymentArn"]]
    assert history(api, cluster, name, status=["STOPPED"]) == []
    later = history(api, cluster, name, createdAt={"after": first["createdAt"]})
    assert [b["serviceDeploymentArn"] for b in later] == [failing["serviceDeploymentArn"]]
    earlier = history(api, cluster, name, createdAt={"before": failing["createdAt"]})
    assert [b["serviceDeploymentArn"] for b in earlier] == [first["serviceDeploymentArn"]]

    # a finished deployment cannot be stopped
    with pytest.raises(ClientError) as err:
        api.stop_service_deployment(serviceDeploymentArn=failing["serviceDeploymentArn"],
                                    stopType="ROLLBACK")
    assert err.value.response["Error"]["Code"] == "ConflictException"


def test_stop_service_deployment_rolls_back(api: Any, srv: Server,
                                            running: tuple[str, str, str]) -> None:
    """No circuit breaker trips: the new tasks just never start. The user rolls back."""
    cluster, name, good = running
    api.update_service(cluster=cluster, service=name, taskDefinition=taskdef(api, unique("v2")),
                       deploymentConfiguration={"deploymentCircuitBreaker": {
                           "enable": False, "rollback": False}})
    stuck = until(lambda: [b for b in history(api, cluster, name, status=["IN_PROGRESS"])])[0]
    arn = stuck["serviceDeploymentArn"]

    out = json.loads(srv.aws("ecs", "stop-service-deployment", "--service-deployment-arn", arn,
                             "--stop-type", "ROLLBACK").stdout)
    assert out == {"serviceDeploymentArn": arn}
    assert one(api, arn)["status"] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
    # asking again while it rolls back is not an error
    api.stop_service_deployment(serviceDeploymentArn=arn)

    svc = settled(api, cluster, name)
    assert svc["taskDefinition"] == good
    done = until(lambda: (b := one(api, arn))["status"] == "ROLLBACK_SUCCESSFUL" and b)
    assert done["rollback"]["reason"] == "StopServiceDeployment requested a rollback."
    assert done["deploymentCircuitBreaker"]["status"] == "DISABLED"


def test_a_replaced_deployment_is_stopped_and_a_breaker_without_rollback_stops(
    api: Any, running: tuple[str, str, str]
) -> None:
    cluster, name, _ = running
    api.update_service(cluster=cluster, service=name, taskDefinition=taskdef(api, unique("v2")))
    (replaced,) = until(lambda: history(api, cluster, name, status=["PENDING", "IN_PROGRESS"]))
    api.update_service(cluster=cluster, service=name, forceNewDeployment=True)
    gone = until(lambda: (b := one(api, replaced["serviceDeploymentArn"]))["status"]
                 == "STOPPED" and b)
    assert gone["statusReason"] == "A new service deployment started before this one finished."
    assert gone["stoppedAt"] == gone["finishedAt"]
    settled(api, cluster, name)
    assert len(history(api, cluster, name, status=["SUCCESSFUL"])) == 2

    bad = taskdef(api, unique("bad"), image="no-such-image")
    api.update_service(cluster=cluster, service=name, taskDefinition=bad,
                       deploymentConfiguration={"deploymentCircuitBreaker": {
                           "enable": True, "rollback": False}})

    def breaker_stopped() -> dict[str, Any] | None:
        play_agents(api, cluster, name, fail_td=bad)
        found = history(api, cluster, name, status=["STOPPED"])
        return found[0] if len(found) == 2 else None

    stopped = one(api, until(breaker_stopped)["serviceDeploymentArn"])
    assert stopped["statusReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert stopped["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert "rollback" not in stopped


def test_pagination_and_errors(api: Any) -> None:
    cluster, _ = setup_cluster(api, zones=("us-east-1a",))
    td = taskdef(api, unique("p"))
    api.create_service(cluster=cluster, serviceName="p", taskDefinition=td, desiredCount=0)
    until(lambda: has_event(api, cluster, "p", "steady state"))
    for _ in range(4):
        api.update_service(cluster=cluster, service="p", forceNewDeployment=True)
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = api.list_service_deployments(cluster=cluster, service="p", maxResults=2, **token)
        assert len(page["serviceDeployments"]) <= 2
        seen += [b["serviceDeploymentArn"] for b in page["serviceDeployments"]]
        if "nextToken" not in page:
            break
        token = {"nextToken": page["nextToken"]}
    assert len(seen) == len(set(seen)) == 5
    assert seen == [b["serviceDeploymentArn"] for b in history(api, cluster, "p")]
    future = datetime.now(UTC) + timedelta(days=1)
    assert history(api, cluster, "p", createdAt={"after": future}) == []

    with pytest.raises(ClientError) as err:
        api.list_service_deployments(cluster=cluster, service="nope")
    assert err.value.response["Error"]["Code"] == "ServiceNotFoundException"
    with pytest.raises(ClientError) as err:
        api.list_service_deployments(cluster=unique("nope"), service="p")
    assert err.value.response["Error"]["Code"] == "ClusterNotFoundException"
    with pytest.raises(ClientError) as err:
        api.list_service_deployments(cluster=cluster, service="p", maxResults=101)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"

    missing = seen[0][: seen[0].rindex("/")] + "/AAAAAAAAAAAAAAAAAAAA"
    out = api.describe_service_deployments(serviceDeploymentArns=[seen[0], missing])
    assert [d["serviceDeploymentArn"] for d in out["serviceDeployments"]] == [seen[0]]
    assert out["failures"] == [{"arn": missing, "reason": "MISSING"}]
    rev_missing = missing.replace(":service-deployment/", ":service-revision/")
    out = api.describe_service_revisions(serviceRevisionArns=[rev_missing])
    assert (out["serviceRevisions"], out["failures"]) == ([], [{"arn": rev_missing,
                                                                "reason": "MISSING"}])
    with pytest.raises(ClientError) as err:
        api.describe_service_deployments(serviceDeploymentArns=[missing] * 21)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        api.stop_service_deployment(serviceDeploymentArn=missing, stopType="ROLLBACK")
    assert err.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"

    # the first deployment has no earlier revision to roll back to
    api.create_service(cluster=cluster, serviceName="q", taskDefinition=td, desiredCount=1)
    (first,) = until(lambda: history(api, cluster, "q"))
    with pytest.raises(ClientError) as err:
        api.stop_service_deployment(serviceDeploymentArn=first["serviceDeploymentArn"])
    assert err.value.response["Error"]["Code"] == "ConflictException"

    # deleting the service stops what is ongoing, and the history goes with the service
    api.delete_service(cluster=cluster, service="q", force=True)
    assert one(api, first["serviceDeploymentArn"])["status"] == "STOPPED"

    def deleted() -> bool:
        play_agents(api, cluster, "q")
        return bool(describe(api, cluster, "q")["status"] == "INACTIVE")

    until(deleted)
    out = api.describe_service_deployments(serviceDeploymentArns=[first["serviceDeploymentArn"]])
    assert out["failures"][0]["reason"] == "MISSING"
