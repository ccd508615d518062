"""The service controller's clocks against a real server: health check grace and start backoff.

The unit tests (tests/unit/controllers/test_services_decide.py) check these
rules as pure functions of a snapshot and ``now``; here the running server's
own clock drives them. The test plays the agents: a hand-written agent session
(tests/contract/agent_client.py) reports container health, and
SubmitTaskStateChange reports task state, as in test_service_controller.py.

Nothing asserts how long a step took on the test's clock: the grace period is
checked on the server's task timestamps (a lower bound, which a slow machine
only makes easier), and the backoff by counting launches against a service
in the same cluster whose tasks are not throttled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_server
from tests.contract.agent_client import connect, register_instance
from tests.contract.test_service_controller import (
    ENV,
    describe,
    events,
    report,
    setup_cluster,
    taskdef,
    tasks,
)
from tests.helpers import Server, unique, until

GRACE = 10
"""healthCheckGracePeriodSeconds: long enough that the UNHEALTHY report lands well within it."""

HEALTH_REASON = "Task failed container health checks"


@pytest.fixture(scope="module")
def srv(store_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with pytest.MonkeyPatch.context() as mp:
        for k, v in ENV.items():
            mp.setenv(k, v)
        server = make_server(store_backend, tmp_path_factory.mktemp("timing")).start()
    yield server
    server.stop()


@pytest.fixture
def api(srv: Server) -> Any:
    return srv.client("ecs")


def _checked_taskdef(api: Any) -> str:
    return str(api.register_task_definition(
        family=unique("hc"),
        containerDefinitions=[{
            "name": "app", "image": "busybox", "cpu": 128, "memory": 128, "essential": True,
            "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "retries": 1},
        }],
    )["taskDefinition"]["taskDefinitionArn"])


def _manifest_has(arn: str, desired: str) -> Any:
    return lambda m: any(t["taskArn"] == arn and t["desiredStatus"] == desired for t in m["tasks"])


def test_an_unhealthy_task_is_replaced_only_after_the_grace_period(api: Any, srv: Server) -> None:
    cluster = api.create_cluster(clusterName=unique("grace"))["cluster"]["clusterArn"]
    instance = register_instance(api, cluster)
    api.create_service(cluster=cluster, serviceName="hc", taskDefinition=_checked_taskdef(api),
                       desiredCount=1, healthCheckGracePeriodSeconds=GRACE)

    async def body() -> tuple[str, str]:
        agent = await connect(srv, cluster, instance)
        try:
            first = await agent.next("TaskManifest", timeout=60, when=lambda m: m["tasks"])
            (sick,) = [t["taskArn"] for t in first["tasks"]]
            own = agent.ecs(srv)
            await asyncio.to_thread(
                own.submit_task_state_change, cluster=cluster, task=sick, status="RUNNING",
                containers=[{"containerName": "app", "status": "RUNNING"}],
            )
            await agent.send({"type": "TaskHealth", "taskArn": sick, "healthStatus": "UNHEALTHY",
                              "containers": [{"containerName": "app",
                                              "healthStatus": "UNHEALTHY"}]})
            # The scheduler asks the agent to stop it, and starts a replacement.
            await agent.next("TaskManifest", timeout=90, when=_manifest_has(sick, "STOPPED"))
            if agent.manifest is None or not [
                t for t in agent.manifest["tasks"] if t["taskArn"] != sick
            ]:
                await agent.next("TaskManifest", timeout=60,
                                 when=lambda m: any(t["taskArn"] != sick for t in m["tasks"]))
            assert agent.manifest is not None
            (fresh,) = [t["taskArn"] for t in agent.manifest["tasks"] if t["taskArn"] != sick]
            await asyncio.to_thread(
                own.submit_task_state_change, cluster=cluster, task=sick, status="STOPPED",
                containers=[{"containerName": "app", "status": "STOPPED", "exitCode": 143}],
            )
            return sick, fresh
        finally:
            await agent.close()

    sick, fresh = asyncio.run(body())
    (old,) = api.describe_tasks(cluster=cluster, tasks=[sick])["tasks"]
    assert (old["lastStatus"], old["healthStatus"]) == ("STOPPED", "UNHEALTHY")
    assert (old["stopCode"], old["stoppedReason"]) == ("ServiceSchedulerInitiated", HEALTH_REASON)
    # Not before the grace period, counted from when it started (the server's clock).
    assert (old["stoppingAt"] - old["startedAt"]).total_seconds() >= GRACE
    (new,) = api.describe_tasks(cluster=cluster, tasks=[fresh])["tasks"]
    assert new["desiredStatus"] == "RUNNING" and new["group"] == "service:hc"
    task_id = sick.rsplit("/", 1)[-1]
    assert f"(service hc) (task {task_id}) failed container health checks." in events(
        describe(api, cluster, "hc"))


def _launches(api: Any, cluster: str, name: str) -> int:
    """Every task the service ever started (STOPPED ones are kept long enough here)."""
    return sum(
        len(api.list_tasks(cluster=cluster, serviceName=name, desiredStatus=s)["taskArns"])
        for s in ("RUNNING", "STOPPED")
    )


def test_tasks_that_keep_failing_to_start_are_launched_less_and_less_often(api: Any) -> None:
    """ECS's service throttle: PENDING straight to STOPPED, again and again, spaces launches out.

    ``broken``'s tasks never start; ``crashy``'s start and exit at once, which ECS does
    not throttle. The same agent loop plays both, so ``crashy``'s launches are what
    ``broken`` would get without the backoff.
    """
    cluster, _ = setup_cluster(api)
    for name in ("broken", "crashy"):
        api.create_service(cluster=cluster, serviceName=name, desiredCount=1,
                           taskDefinition=taskdef(api, unique(name)))
    throttled = ("(service broken) is unable to consistently start tasks successfully. "
                 "For more information, see the Troubleshooting section of the Amazon ECS "
                 "Developer Guide.")

    def agents() -> None:
        for t in tasks(api, cluster, "broken"):
            if t["lastStatus"] == "PENDING":
                report(api, cluster, t, "STOPPED", exit_code=1)
        for t in tasks(api, cluster, "crashy"):
            if t["lastStatus"] == "PENDING":
                report(api, cluster, t, "RUNNING")
            elif t["lastStatus"] == "RUNNING":
                report(api, cluster, t, "STOPPED", exit_code=1)

    def window(crashes: int) -> tuple[int, int] | None:
        agents()
        counts = _launches(api, cluster, "broken"), _launches(api, cluster, "crashy")
        warned = throttled in events(describe(api, cluster, "broken"))
        return counts if warned and counts[1] >= crashes else None

    counts: tuple[int, int] = until(lambda: window(15), timeout=120, every=0.1)
    broken, crashy = counts
    # Three failures in a row, then 15 s, 30 s, 1 min … between launches: without the
    # backoff, broken would have kept pace with crashy.
    assert broken <= 5 < crashy
    stopped = tasks(api, cluster, "broken", "STOPPED")
    assert {t["stopCode"] for t in stopped} == {"TaskFailedToStart"}
    assert all("startedAt" not in t for t in stopped)

    def again() -> bool:
        """Spaced out, not given up: broken launches again once its delay has passed."""
        agents()
        return _launches(api, cluster, "broken") > broken

    until(again, timeout=120, every=0.2)
