"""The agent's side of the wire: signing, registration parameters, the outbox."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp

from portside.agent.drivers.base import TaskNetwork
from portside.agent.ecs_client import Credentials, EcsClient
from portside.agent.registration import MachineSpec, cluster_arn_of, register_params
from portside.agent.session import Outbox
from portside.aws import sigv4

INSTANCE = "arn:aws:ecs:us-east-1:000000000000:container-instance/prod/0123456789abcdef"


def with_client(check: object) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            client = EcsClient("http://127.0.0.1:4600", "us-east-1", Credentials("test", "test"), http)
            check(client)  # type: ignore[operator]

    asyncio.run(main())


def test_api_calls_are_signed_as_portside_verifies_them() -> None:
    def check(client: EcsClient) -> None:
        body = b'{"cluster":"prod"}'
        headers = client.sign("POST", "http://127.0.0.1:4600/", body, {"X-Amz-Target": "x.Y"})
        lower = {k.lower(): v for k, v in headers.items()}
        lower["host"] = "127.0.0.1:4600"
        caller = sigv4.verify("POST", "/", "", lower, body, {"test": "test"}, datetime.now(UTC))
        assert (caller.access_key, caller.service, caller.region) == ("test", "ecs", "us-east-1")

    with_client(check)


def test_the_websocket_upgrade_is_signed_with_its_query() -> None:
    def check(client: EcsClient) -> None:
        client.set_instance_credentials(Credentials("AKINSTANCE", "s3cret", expiration=None))
        url = client.websocket_url("ws://127.0.0.1:4600/", {
            "clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/prod",
            "containerInstanceArn": INSTANCE, "agentVersion": "0.1.0",
        })
        assert url.startswith("ws://127.0.0.1:4600/ecs-agent/ws?agentVersion=0.1.0&clusterArn=arn%3Aaws")
        headers = {k.lower(): v for k, v in client.websocket_headers(url).items()}
        headers["host"] = "127.0.0.1:4600"
        parts = urlsplit(url)
        caller = sigv4.verify("GET", parts.path, parts.query, headers, b"", {"AKINSTANCE": "s3cret"},
                              datetime.now(UTC))
        assert caller.access_key == "AKINSTANCE"

    with_client(check)


def test_expired_instance_credentials_fall_back_to_the_bootstrap_pair() -> None:
    def check(client: EcsClient) -> None:
        client.set_instance_credentials(Credentials("AKOLD", "x", expiration=1.0))
        assert client.credentials().access_key == "test"
        client.set_instance_credentials(Credentials("AKNEW", "y", expiration=4e9))
        assert client.credentials().access_key == "AKNEW"
        assert client.credentials(bootstrap=True).access_key == "test"

    with_client(check)


def test_registration_parameters() -> None:
    spec = MachineSpec(cluster="prod", region="us-east-1", availability_zone="us-east-1b",
                       instance_type="m5.large", instance_id="i-0123456789abcdef0", cpu=2048, memory=4096,
                       attributes=(("stack", "blue"), ("gpu", None)))
    params = register_params(spec, driver_version="20.10.24", driver_attributes=[("ecs.capability.task-eni", None)],
                             extra_ports=[41000], container_instance_arn=INSTANCE)
    resources = {r["name"]: r for r in params["totalResources"]}
    assert resources["CPU"]["integerValue"] == 2048 and resources["MEMORY"]["integerValue"] == 4096
    assert resources["PORTS"]["stringSetValue"] == ["22", "2375", "2376", "41000", "51678", "51679"]
    attrs = {a["name"]: a.get("value") for a in params["attributes"]}
    assert attrs["ecs.availability-zone"] == "us-east-1b" and attrs["ecs.instance-type"] == "m5.large"
    assert attrs["ecs.os-type"] == "linux" and attrs["stack"] == "blue"
    assert "gpu" in attrs and attrs["gpu"] is None and "ecs.capability.task-eni" in attrs
    doc = json.loads(params["instanceIdentityDocument"])
    assert doc["instanceId"] == "i-0123456789abcdef0" and doc["region"] == "us-east-1"
    assert params["versionInfo"]["dockerVersion"] == "DockerVersion: 20.10.24"
    assert params["containerInstanceArn"] == INSTANCE
    assert cluster_arn_of(INSTANCE, "prod") == "arn:aws:ecs:us-east-1:000000000000:cluster/prod"


def test_the_outbox_replays_the_latest_state_per_task() -> None:
    async def main() -> None:
        box = Outbox()
        box.task_health("t1", "UNKNOWN", [("app", "UNKNOWN")])
        box.task_health("t1", "HEALTHY", [("app", "HEALTHY")])
        box.task_network("t2", TaskNetwork("awsvpc", "10.0.0.1", address="10.0.0.7", mac_address="02:aa"),
                         ["app"])
        replay = box.replay()
        assert [m["type"] for m in replay] == ["TaskHealth", "TaskNetwork"]
        assert replay[0]["healthStatus"] == "HEALTHY" and box.queue.empty()
        (attachment,) = replay[1]["attachments"]
        details = {d["name"]: d["value"] for d in attachment["details"]}
        assert details["privateIPv4Address"] == "10.0.0.7" and attachment["type"] == "ElasticNetworkInterface"
        iface = replay[1]["containers"][0]["networkInterfaces"][0]
        assert iface == {"attachmentId": attachment["id"], "privateIpv4Address": "10.0.0.7"}
        box.forget("t1")
        assert [m["type"] for m in box.replay()] == ["TaskNetwork"]

    asyncio.run(main())
