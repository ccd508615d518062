"""A hand-written agent for contract tests: the session's wire protocol, nothing more.

What `portside agent` does on the wire (docs/agent-protocol.md): a SigV4-signed
WebSocket for Credentials, TaskManifests, Heartbeats and health; boto3 for the
ECS calls. Plus the few ECS set-ups the agent tests share.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import yarl
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from portside.agent.drivers.base import TaskNetwork
from portside.agent.session import Outbox
from tests.helpers import REGION, Server, client, unique, until

# -- a tiny agent ---------------------------------------------------------------


def session_url(
    srv: Server, cluster: str, instance: str, key: str = "test", secret: str = "test",
    presign: bool = True,
) -> tuple[yarl.URL, dict[str, str]]:
    """The signed session URL (presigned, or plain with an Authorization header)."""
    query = urlencode(
        {"clusterArn": cluster, "containerInstanceArn": instance, "agentVersion": "test"}
    )
    req = AWSRequest(method="GET", url=f"{srv.endpoint}/ecs-agent/ws?{query}")
    creds = Credentials(key, secret)
    if presign:
        SigV4QueryAuth(creds, "ecs", REGION, expires=60).add_auth(req)
        return yarl.URL(req.url, encoded=True), {}
    SigV4Auth(creds, "ecs", REGION).add_auth(req)
    headers = {k: v for k, v in req.headers.items() if k.lower() in ("authorization", "x-amz-date")}
    return yarl.URL(req.url, encoded=True), headers


class Agent:
    """One session: remembers the latest credentials and manifest it was sent."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self.http, self.ws = http, ws
        self.credentials: dict[str, Any] | None = None
        self.manifest: dict[str, Any] | None = None
        self.seen: list[str] = []

    async def next(self, kind: str, timeout: float = 10, when: Callable[[Any], bool] = bool) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            msg = await asyncio.wait_for(self.ws.receive(), max(left, 0.01))
            if msg.type != aiohttp.WSMsgType.TEXT:
                return msg
            data = json.loads(msg.data)
            self.seen.append(data["type"])
            if data["type"] == "Credentials":
                self.credentials = data
            elif data["type"] == "TaskManifest":
                self.manifest = data
            elif data["type"] == "Ping":
                await self.send({"type": "Pong"})
            if data["type"] == kind and when(data):
                return data

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    def ecs(self, srv: Server) -> Any:
        assert self.credentials is not None
        return client(
            srv.endpoint,
            key=self.credentials["accessKeyId"],
            secret=self.credentials["secretAccessKey"],
        )

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()


async def connect(srv: Server, cluster: str, instance: str, **kw: Any) -> Agent:
    url, headers = session_url(srv, cluster, instance, **kw)
    http = aiohttp.ClientSession()
    try:
        ws = await http.ws_connect(url, headers=headers)
    except BaseException:
        await http.close()
        raise
    return Agent(http, ws)


async def refused(srv: Server, cluster: str, instance: str, **kw: Any) -> int:
    """The HTTP status of a session request the server must refuse."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        agent = await connect(srv, cluster, instance, **kw)
        await agent.close()
    return err.value.status


# -- fixtures of the ECS kind --------------------------------------------------------


def register_instance(ecs: Any, cluster: str, cpu: int = 1024, memory: int = 2048) -> str:
    doc = {"instanceId": "i-" + unique("x")[-10:].rjust(17, "0"), "availabilityZone": "us-east-1a",
           "instanceType": "t3.medium", "region": REGION}
    out = ecs.register_container_instance(
        cluster=cluster,
        instanceIdentityDocument=json.dumps(doc),
        totalResources=[
            {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]},
        ],
        versionInfo={"agentVersion": "test"},
    )
    return str(out["containerInstance"]["containerInstanceArn"])


def task_definition(ecs: Any) -> str:
    out = ecs.register_task_definition(
        family=unique("web"),
        networkMode="bridge",
        containerDefinitions=[
            {
                "name": "web",
                "image": "portside-test/busybox:latest",
                "cpu": 128,
                "memory": 256,
                "command": ["httpd", "-f"],
                "environment": [{"name": "A", "value": "1"}],
                "portMappings": [{"containerPort": 80, "hostPort": 8080}],
            }
        ],
    )
    return str(out["taskDefinition"]["taskDefinitionArn"])


def setup_cluster(ecs: Any) -> tuple[str, str, str]:
    """A cluster with one instance and a task definition: (cluster ARN, instance ARN, td ARN)."""
    cluster = ecs.create_cluster(clusterName=unique("agent"))["cluster"]["clusterArn"]
    return cluster, register_instance(ecs, cluster), task_definition(ecs)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def remaining(ecs: Any, cluster: str, instance: str) -> dict[str, Any]:
    (ci,) = ecs.describe_container_instances(cluster=cluster, containerInstances=[instance])[
        "containerInstances"
    ]
    return {r["name"]: r.get("integerValue", r.get("stringSetValue")) for r in ci["remainingResources"]}


def describe(ecs: Any, cluster: str, task: str) -> dict[str, Any]:
    return dict(ecs.describe_tasks(cluster=cluster, tasks=[task])["tasks"][0])


def eventually(check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)




def report_network(srv: Server, cluster: str, task_arn: str, address: str,
                   container: str = "web", agent_cluster: str | None = None,
                   instance: str | None = None) -> None:
    """What the task's agent sends once an awsvpc task's ENI is up (its address; the
    message built by the agent's own ``Outbox``), over a session of the task's instance
    (``instance`` in ``agent_cluster`` for a Fargate task, whose instance DescribeTasks
    hides); returns once DescribeTasks shows the address."""
    ecs = srv.client()
    instance = instance or describe(ecs, cluster, task_arn)["containerInstanceArn"]
    box = Outbox()
    box.task_network(task_arn, TaskNetwork("awsvpc", "169.254.170.2", address=address,
                                           mac_address="02:42:0a:00:00:07"), [container])
    (message,) = box.replay()

    async def body() -> None:
        agent = await connect(srv, agent_cluster or cluster, instance)
        try:
            await agent.next("TaskManifest")
            await agent.send(message)
        finally:
            await agent.close()

    run(body())
    until(lambda: any(d.get("value") == address
                      for a in describe(ecs, cluster, task_arn).get("attachments") or ()
                      for d in a.get("details") or ()))
