"""The agent session against a real server, spoken by a hand-written client.

The server runs with a 2 s heartbeat timeout and 6 s credentials, so loss and
rotation show within seconds. The client (tests/contract/agent_client.py) is
what `portside agent` does on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_server
from tests.contract.agent_client import (
    connect,
    describe,
    eventually,
    refused,
    register_instance,
    remaining,
    run,
    setup_cluster,
)
from tests.helpers import Server, client, unique

HEARTBEAT_TIMEOUT = 2
CREDENTIAL_TTL = 6


@pytest.fixture(scope="module")
def srv(store_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PORTSIDE_AGENT_HEARTBEAT_TIMEOUT", str(HEARTBEAT_TIMEOUT))
        mp.setenv("PORTSIDE_AGENT_CREDENTIAL_TTL", str(CREDENTIAL_TTL))
        server = make_server(store_backend, tmp_path_factory.mktemp("agent")).start()
    yield server
    server.stop()


# -- the tests -------------------------------------------------------------------


def test_discover_poll_endpoint(srv: Server) -> None:
    ecs = srv.client()
    cluster, instance, _ = setup_cluster(ecs)
    out = ecs.discover_poll_endpoint(cluster=cluster, containerInstance=instance)
    assert out["endpoint"] == f"ws://127.0.0.1:{srv.port}/"
    assert out["telemetryEndpoint"] == out["serviceConnectEndpoint"] == out["endpoint"]
    cli = json.loads(
        srv.aws("ecs", "discover-poll-endpoint", "--cluster", cluster,
                "--container-instance", instance).stdout
    )
    assert cli["endpoint"] == out["endpoint"]
    with pytest.raises(ClientError) as err:
        ecs.discover_poll_endpoint(cluster=unique("nope"))
    assert err.value.response["Error"]["Code"] == "ClusterNotFoundException"


def test_task_lifecycle_over_a_session(srv: Server) -> None:
    ecs = srv.client()
    cluster, instance, td = setup_cluster(ecs)
    task = ecs.run_task(cluster=cluster, taskDefinition=td, launchType="EC2",
                        overrides={"containerOverrides": [{"name": "web", "command": ["sleep", "9"]}]},
                        )["tasks"][0]
    arn = task["taskArn"]
    assert task["containerInstanceArn"] == instance
    assert remaining(ecs, cluster, instance)["CPU"] == 1024 - 128

    async def body() -> None:
        agent = await connect(srv, cluster, instance)
        try:
            first = await agent.next("Credentials")
            assert agent.seen == ["Credentials"]  # credentials come first
            assert first["accessKeyId"].startswith("ASIA")
            assert first["expiration"] > time.time() + CREDENTIAL_TTL - 5
            manifest = await agent.next("TaskManifest")
            (payload,) = manifest["tasks"]
            assert payload["taskArn"] == arn and payload["desiredStatus"] == "RUNNING"
            assert payload["clusterArn"] == cluster and payload["networkMode"] == "bridge"
            (c,) = payload["containers"]
            assert c["name"] == "web" and c["image"] == "portside-test/busybox:latest"
            assert c["command"] == ["sleep", "9"]  # the override, applied
            assert c["portMappings"][0]["hostPort"] == 8080
            await agent.send({"type": "Ack", "seq": manifest["seq"]})
            await agent.send({"type": "Heartbeat", "runningTasks": []})

            own = agent.ecs(srv)  # the per-instance key pair signs the reports
            ack = own.submit_task_state_change(
                cluster=cluster, task=arn, status="RUNNING",
                pullStartedAt=time.time() - 2, pullStoppedAt=time.time() - 1,
                containers=[{
                    "containerName": "web", "runtimeId": "c0ffee", "status": "RUNNING",
                    "networkBindings": [
                        {"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 8080, "protocol": "tcp"}
                    ],
                }],
            )
            assert ack["acknowledgment"] == "ACK"
            t = describe(ecs, cluster, arn)
            assert t["lastStatus"] == "RUNNING" and t["desiredStatus"] == "RUNNING"
            assert t["connectivity"] == "CONNECTED"
            assert {"startedAt", "connectivityAt", "pullStartedAt", "pullStoppedAt"} <= set(t)
            assert t["version"] > task["version"]
            (tc,) = t["containers"]
            assert (tc["lastStatus"], tc["runtimeId"]) == ("RUNNING", "c0ffee")
            assert tc["networkBindings"][0]["bindIP"] == "0.0.0.0"
            assert remaining(ecs, cluster, instance)["CPU"] == 1024 - 128

            # a repeated report changes nothing; a backward one neither
            own.submit_task_state_change(cluster=cluster, task=arn, status="RUNNING")
            own.submit_task_state_change(cluster=cluster, task=arn, status="PENDING")
            again = describe(ecs, cluster, arn)
            assert (again["lastStatus"], again["version"]) == ("RUNNING", t["version"])

            await agent.send({"type": "TaskHealth", "taskArn": arn, "healthStatus": "HEALTHY",
                              "containers": [{"containerName": "web", "healthStatus": "HEALTHY"}]})
            eventually(lambda: _assert_eq(describe(ecs, cluster, arn)["healthStatus"], "HEALTHY"))

            ecs.stop_task(cluster=cluster, task=arn, reason="enough")
            stopping = await agent.next(
                "TaskManifest", when=lambda m: m["tasks"][0]["desiredStatus"] == "STOPPED"
            )
            assert stopping["seq"] > manifest["seq"]
            assert stopping["tasks"][0]["stopCode"] == "UserInitiated"
            assert stopping["tasks"][0]["stopReason"] == "enough"

            own = agent.ecs(srv)  # the newest pair: the first lasts CREDENTIAL_TTL (6 s) only
            own.submit_task_state_change(
                cluster=cluster, task=arn, status="STOPPED", executionStoppedAt=time.time(),
                containers=[{"containerName": "web", "status": "STOPPED", "exitCode": 143}],
            )
            empty = await agent.next("TaskManifest", when=lambda m: m["tasks"] == [])
            assert empty["seq"] > stopping["seq"]
        finally:
            await agent.close()

    run(body())
    t = describe(ecs, cluster, arn)
    assert (t["lastStatus"], t["stopCode"], t["stoppedReason"]) == ("STOPPED", "UserInitiated", "enough")
    assert {"stoppedAt", "stoppingAt", "executionStoppedAt"} <= set(t)
    assert t["containers"][0]["exitCode"] == 143
    assert remaining(ecs, cluster, instance)["CPU"] == 1024  # the reservation is freed


def _assert_eq(a: Any, b: Any) -> None:
    assert a == b


def test_essential_exit_and_network_reports(srv: Server) -> None:
    ecs = srv.client()
    cluster, instance, td = setup_cluster(ecs)
    arn = ecs.run_task(cluster=cluster, taskDefinition=td)["tasks"][0]["taskArn"]

    async def body() -> None:
        agent = await connect(srv, cluster, instance, presign=False)  # Authorization header
        try:
            await agent.next("TaskManifest")
            eni = {"id": "eni-att-1", "type": "ElasticNetworkInterface", "status": "ATTACHED",
                   "details": [{"name": "privateIPv4Address", "value": "10.77.0.9"}]}
            await agent.send({
                "type": "TaskNetwork", "taskArn": arn, "attachments": [eni],
                "containers": [{"containerName": "web", "networkInterfaces": [
                    {"attachmentId": "eni-att-1", "privateIpv4Address": "10.77.0.9"}]}],
            })
            own = agent.ecs(srv)
            own.submit_task_state_change(cluster=cluster, task=arn, status="RUNNING")
            own.submit_container_state_change(
                cluster=cluster, task=arn, containerName="web", status="STOPPED", exitCode=1
            )
            own.submit_task_state_change(cluster=cluster, task=arn, status="STOPPED")
        finally:
            await agent.close()

    run(body())
    t = describe(ecs, cluster, arn)
    assert (t["lastStatus"], t["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert t["stopCode"] == "EssentialContainerExited"
    assert t["stoppedReason"] == "Essential container in task exited"
    assert t["containers"][0]["exitCode"] == 1
    assert t["attachments"][0]["details"] == [{"name": "privateIPv4Address", "value": "10.77.0.9"}]
    assert t["containers"][0]["networkInterfaces"] == [
        {"attachmentId": "eni-att-1", "privateIpv4Address": "10.77.0.9"}
    ]


def test_agent_keys_act_for_their_own_instance_only(srv: Server) -> None:
    ecs = srv.client()
    cluster, a, td = setup_cluster(ecs)
    b = register_instance(ecs, cluster)
    on_b = ecs.start_task(cluster=cluster, taskDefinition=td, containerInstances=[b])["tasks"][0]

    async def body() -> None:
        agent = await connect(srv, cluster, a)
        try:
            creds = await agent.next("Credentials")
            with pytest.raises(ClientError) as err:
                agent.ecs(srv).submit_task_state_change(
                    cluster=cluster, task=on_b["taskArn"], status="RUNNING"
                )
            assert err.value.response["Error"]["Code"] == "AccessDeniedException"
            status = await refused(srv, cluster, b, key=creds["accessKeyId"],
                                   secret=creds["secretAccessKey"])
            assert status == 403
        finally:
            await agent.close()

    run(body())
    with pytest.raises(ClientError) as err:
        ecs.submit_task_state_change(cluster=cluster, task="0" * 32, status="RUNNING")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        ecs.submit_task_state_change(cluster=unique("nope"), task=on_b["taskArn"], status="RUNNING")
    assert err.value.response["Error"]["Code"] == "ClusterNotFoundException"
    # the operator's key may report for any task
    ecs.submit_task_state_change(cluster=cluster, task=on_b["taskArn"], status="RUNNING")
    assert describe(ecs, cluster, on_b["taskArn"])["lastStatus"] == "RUNNING"


def test_bad_signatures_are_refused_with_403(srv: Server) -> None:
    ecs = srv.client()
    cluster, instance, _ = setup_cluster(ecs)

    async def body() -> None:
        assert await refused(srv, cluster, instance, secret="wrong") == 403
        assert await refused(srv, cluster, instance, secret="wrong", presign=False) == 403
        assert await refused(srv, cluster, instance, key="AKIDUNKNOWN") == 403
        http = aiohttp.ClientSession()
        try:
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await http.ws_connect(f"{srv.endpoint}/ecs-agent/ws?clusterArn=x")
            assert err.value.status == 403
        finally:
            await http.close()
        missing = instance.rsplit("/", 1)[0] + "/" + "0" * 32
        assert await refused(srv, cluster, missing) == 400

    run(body())


def test_a_new_session_replaces_the_old_one(srv: Server) -> None:
    ecs = srv.client()
    cluster, instance, _ = setup_cluster(ecs)

    async def body() -> None:
        old = await connect(srv, cluster, instance)
        try:
            await old.next("TaskManifest")
            new = await connect(srv, cluster, instance)
            try:
                closed = await old.next("never")
                assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 4000)
                await new.next("Credentials")
                assert (await new.next("TaskManifest"))["tasks"] == []
            finally:
                await new.close()
        finally:
            await old.close()

    run(body())


async def _until(check: Any, timeout: float = 60) -> None:
    """Poll ``check()`` (blocking calls are fine here) without stopping the loop for long."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.1)


def test_silent_agent_becomes_disconnected(srv: Server) -> None:
    ecs = srv.client()
    cluster, instance, _ = setup_cluster(ecs)
    api_only = register_instance(ecs, cluster)  # no agent ever connects for it

    def connected(which: str = instance) -> bool:
        (ci,) = ecs.describe_container_instances(cluster=cluster, containerInstances=[which])[
            "containerInstances"
        ]
        return bool(ci["agentConnected"])

    async def body() -> None:
        agent = await connect(srv, cluster, instance)
        try:
            await agent.next("TaskManifest")
            await agent.send({"type": "Heartbeat", "runningTasks": []})
            # waited for: the heartbeat travels on the session, the describe on another
            # connection, and a 2 s stall since the session opened marks the agent lost
            await _until(connected)
            await asyncio.sleep(HEARTBEAT_TIMEOUT)  # no heartbeats now
            await _until(lambda: not connected())
            assert connected(api_only)  # registration's word stands without an agent
            await agent.send({"type": "Heartbeat", "runningTasks": []})
            await _until(connected)
        finally:
            await agent.close()

    run(body())


def test_credentials_rotate_and_the_old_pair_lasts_until_it_expires(srv: Server) -> None:
    ecs = srv.client()
    cluster, instance, _ = setup_cluster(ecs)

    async def body() -> tuple[dict[str, Any], dict[str, Any]]:
        agent = await connect(srv, cluster, instance)
        try:
            a = await agent.next("Credentials")
            # keep heartbeating while waiting for the rotation (a third of the lifetime left)
            deadline = time.monotonic() + CREDENTIAL_TTL
            b = None
            while b is None and time.monotonic() < deadline:
                await agent.send({"type": "Heartbeat", "runningTasks": []})
                with contextlib.suppress(TimeoutError):
                    b = await agent.next("Credentials", timeout=0.5)
            assert b is not None and b["accessKeyId"] != a["accessKeyId"]
            assert b["expiration"] > a["expiration"]
            return a, b
        finally:
            await agent.close()

    a, b = run(body())
    old = client(srv.endpoint, key=a["accessKeyId"], secret=a["secretAccessKey"])
    new = client(srv.endpoint, key=b["accessKeyId"], secret=b["secretAccessKey"])
    if time.time() < a["expiration"] - 0.5:
        old.list_clusters()  # still valid until its own expiration
    new.list_clusters()
    time.sleep(max(0.0, a["expiration"] - time.time()) + 2.5)  # whole seconds on the wire
    with pytest.raises(ClientError) as err:
        old.list_clusters()
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    new.list_clusters()


def test_credentials_survive_a_restart(
    store_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("agent-restart")
    first = make_server(store_backend, data).start()
    try:
        ecs = first.client()
        cluster, instance, _ = setup_cluster(ecs)

        async def body() -> dict[str, Any]:
            agent = await connect(first, cluster, instance)
            try:
                creds = dict(await agent.next("Credentials"))
                await agent.next("TaskManifest")
                # SIGTERM with the session open: the session is closed
                await asyncio.to_thread(first.stop)
                closed = await agent.next("never")
                assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 1001)
                return creds
            finally:
                await agent.close()

        creds = run(body())
        second = Server(data_dir=data, database_url=first.database_url, port=first.port).start()
        try:
            own = client(second.endpoint, key=creds["accessKeyId"], secret=creds["secretAccessKey"])
            own.discover_poll_endpoint(cluster=cluster, containerInstance=instance)
        finally:
            second.stop()
    finally:
        first.stop()
