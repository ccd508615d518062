"""Managed scaling's decisions in DescribeCapacityProviders and as a Prometheus counter.

ECS's CapacityProvider shape has no member for the reservation or the last scaling
decision, so portside adds ``portsideScaling`` as an extension member: a raw signed
request (and ``aws ecs describe-capacity-providers --debug``) sees it, boto3 parses
the response as before and drops it. ``updateStatusReason`` keeps ECS's meaning (the
outcome of updating or deleting the provider) and carries no scaling reason.

The server decides every second; the group (two zones, one instance type) uses the
``command`` launcher with ``true``: its instances stay Pending, so the group steps
0 -> 1 -> 2 (two zones: exactly minimumScalingStepSize per decision) and holds.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import make_server
from tests.helpers import REGION, Server, unique, until
from tests.support.capacity import create_group, create_provider, metrics, provider

TARGET = "AmazonEC2ContainerServiceV20141113.DescribeCapacityProviders"


@pytest.fixture(scope="module")
def rig(store_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    srv = make_server(store_backend, tmp_path_factory.mktemp(f"describe-{store_backend}"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PORTSIDE_CAPACITY_PERIOD", "1")
        srv.start()
    try:
        group = create_group(srv, unique("asg"), launcher="command", launch_command="true",
                             zones=("us-east-1a", "us-east-1b"))
        cp, cluster = unique("cp"), unique("c")
        ecs = srv.client()
        create_provider(ecs, cp, group)
        ecs.create_cluster(clusterName=cluster, capacityProviders=[cp],
                           defaultCapacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])
        td = ecs.register_task_definition(family=unique("f"), containerDefinitions=[{
            "name": "app", "image": "python", "essential": True, "memory": 64, "cpu": 256,
            "entryPoint": [sys.executable, "-c"], "command": ["pass"]}])
        ecs.create_service(cluster=cluster, serviceName="web", desiredCount=3,
                           taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
                           capacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])
        # The group has scaled to two instances, launched both, and a later decision has
        # counted both as warming: it holds there.
        def settled() -> dict[str, Any] | None:
            p = provider(srv, cp)
            launched = [a for a in p["activities"] if a["action"] == "launch"]
            return p if len(launched) == 2 and p["warming"] == 2 else None

        view = until(settled)
        yield {"server": srv, "cp": cp, "view": view}
    finally:
        srv.stop()


def raw_describe(srv: Server, names: list[str]) -> dict[str, Any]:
    """DescribeCapacityProviders as a raw SigV4-signed awsJson request: the body as sent."""
    body = json.dumps({"capacityProviders": names}).encode()
    req = AWSRequest(method="POST", url=srv.endpoint + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET})
    SigV4Auth(Credentials("test", "test"), "ecs", REGION).add_auth(req)
    http = urllib.request.Request(req.url, data=body, headers=dict(req.headers.items()),
                                  method="POST")
    with urllib.request.urlopen(http, timeout=30) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def test_boto3_parses_the_response_and_drops_the_extension(rig: dict[str, Any]) -> None:
    [got] = rig["server"].client().describe_capacity_providers(
        capacityProviders=[rig["cp"]])["capacityProviders"]
    assert got["name"] == rig["cp"] and got["status"] == "ACTIVE"
    assert got["autoScalingGroupProvider"]["managedScaling"]["status"] == "ENABLED"
    assert "portsideScaling" not in got
    # the scaling reason is not an update status: the provider was never updated or deleted
    assert "updateStatus" not in got and "updateStatusReason" not in got


def test_a_raw_request_sees_the_reservation_and_the_last_action(rig: dict[str, Any]) -> None:
    srv, cp = rig["server"], rig["cp"]
    plain = unique("plain")  # managed scaling left at its default, DISABLED
    srv.client().create_capacity_provider(name=plain, autoScalingGroupProvider={
        "autoScalingGroupArn": create_group(srv, unique("asg"), launcher="command",
                                            launch_command="true")})
    body = raw_describe(srv, [cp, plain, "FARGATE"])
    by_name = {p["name"]: p for p in body["capacityProviders"]}
    scaling = by_name[cp]["portsideScaling"]
    view = provider(srv, cp)
    # the launcher's two launches came after the scale-outs: newest of all, not decisions
    assert view["activities"][0]["action"] == "launch"
    newest = view["decisions"][0]
    assert scaling == {
        "managedScaling": True, "targetCapacity": 100,
        # M = 1 (the waiting work's binpack, one step), N = 0: 200 %, the scale from zero
        "reservation": 200.0, "needed": 1, "running": 0, "warming": 2, "waiting": 3,
        "updatedAt": scaling["updatedAt"],
        "lastAction": {"action": newest["action"], "from": newest["capacityFrom"],
                       "to": newest["capacityTo"], "reason": newest["cause"],
                       "at": newest["at"]},
    }  # fmt: skip
    # lastAction is the newest decision (the step 1 -> 2), with the metric that moved it
    assert (newest["action"], newest["capacityFrom"], newest["capacityTo"]) == ("scale-out", 1, 2)
    assert scaling["lastAction"]["reason"].startswith(
        "CapacityProviderReservation 200.0 % is above the target 100 %: M = 1 instance needed")
    # without managed scaling nothing is measured; Fargate has no group to scale
    assert by_name[plain]["portsideScaling"] == {
        "managedScaling": False, "targetCapacity": 100, "reservation": None, "needed": 0,
        "running": 0, "warming": 0, "waiting": 0, "updatedAt": None, "lastAction": None}
    assert "portsideScaling" not in by_name["FARGATE"]


def test_the_scale_out_reasons_read_as_sentences(rig: dict[str, Any]) -> None:
    steps = [a for a in reversed(rig["view"]["activities"]) if a["action"] == "scale-out"]
    assert [(a["capacityFrom"], a["capacityTo"]) for a in steps] == [(0, 1), (1, 2)]
    cause = steps[0]["cause"]
    assert "M = 1 instance needed, N = 0 running, 3 tasks waiting" in cause
    assert "the group has 1 instance type and 2 Availability Zones" in cause


def test_the_aws_cli_shows_the_extension_only_in_its_debug_log(rig: dict[str, Any]) -> None:
    out = rig["server"].aws("ecs", "describe-capacity-providers", "--capacity-providers",
                            rig["cp"], "--debug")
    assert "portsideScaling" not in out.stdout
    assert json.loads(out.stdout)["capacityProviders"][0]["name"] == rig["cp"]
    assert '"portsideScaling"' in out.stderr


def test_the_scaling_actions_counter(rig: dict[str, Any]) -> None:
    text = metrics(rig["server"])
    assert "# TYPE portside_capacity_provider_scaling_actions_total counter" in text
    labels = f'action="scale-out",capacity_provider="{rig["cp"]}"'
    assert f"portside_capacity_provider_scaling_actions_total{{{labels}}} 2.0" in text
    # launches are the launcher's steps, not scaling decisions: not counted
    assert f'action="launch",capacity_provider="{rig["cp"]}"' not in text
