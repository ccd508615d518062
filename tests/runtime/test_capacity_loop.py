"""The live managed scaling loop on a real server, with the ``command`` launcher.

The server decides every second (``PORTSIDE_CAPACITY_PERIOD=1``). A service that
waits for a capacity provider whose group has no instance makes the group scale
out from zero to two (CapacityProviderReservation 200); the group's launch
command runs once per instance with the instance's environment; a failing
command is a scaling activity with its reason. Everything shows in
``POST /_portside/capacity``, ``GET /metrics`` and ``portside capacity``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_server
from tests.helpers import Server, unique, until
from tests.support.capacity import capacity, create_group, create_provider, metrics, provider

SLEEPER = "import time\nwhile True: time.sleep(1)\n"


@pytest.fixture(scope="module")
def rig(store_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp(f"capacity-{store_backend}")
    srv = make_server(store_backend, root)
    record = root / "launched.txt"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PORTSIDE_CAPACITY_PERIOD", "1")
        mp.setenv("PORTSIDE_SCALE_IN_AFTER", "2")
        srv.start()
    try:
        groups = {
            "ok": create_group(
                srv, unique("ok"), launcher="command", zones=("us-east-1a", "us-east-1b"),
                launch_command=(f'echo "$PORTSIDE_INSTANCE_ID $PORTSIDE_INSTANCE_TYPE '
                                f'$PORTSIDE_AVAILABILITY_ZONE $PORTSIDE_CPU $PORTSIDE_MEMORY '
                                f'$PORTSIDE_CLUSTER $PORTSIDE_ENDPOINT" >> {record}'),
                terminate_command=f'echo "gone $PORTSIDE_INSTANCE_ID" >> {record}'),
            "broken": create_group(srv, unique("broken"), launcher="command",
                                   launch_command="echo 'no hypervisor answers' >&2; exit 3"),
        }
        yield {"server": srv, "groups": groups, "record": record}
    finally:
        srv.stop()


def _waiting_service(srv: Server, cluster: str, cp: str) -> None:
    ecs = srv.client()
    ecs.create_cluster(clusterName=cluster, capacityProviders=[cp],
                       defaultCapacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])
    td = ecs.register_task_definition(family=unique("f"), containerDefinitions=[{
        "name": "app", "image": "python", "essential": True, "memory": 64, "cpu": 256,
        "entryPoint": [sys.executable, "-c"], "command": [SLEEPER]}])
    ecs.create_service(cluster=cluster, serviceName="web", desiredCount=3,
                       taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
                       capacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])


def test_scale_out_from_zero_runs_the_launch_command(rig: dict[str, Any]) -> None:
    srv: Server = rig["server"]
    cp, cluster = unique("cp"), unique("c")
    create_provider(srv.client(), cp, rig["groups"]["ok"])
    _waiting_service(srv, cluster, cp)

    # M > 0 with N = 0: reservation 200, target tracking wants two instances.
    def launched() -> dict[str, Any] | None:
        p = provider(srv, cp)
        done = [a for a in p["activities"] if a["action"] == "launch"]
        return p if len(p["instances"]) == 2 and len(done) == 2 else None

    p = until(launched, timeout=60)
    assert p["cluster"] == cluster
    assert p["group"]["desiredCapacity"] == 2
    assert p["reservation"] == 200
    assert p["waiting"] == 3
    assert {i["availabilityZone"] for i in p["instances"]} == {"us-east-1a", "us-east-1b"}
    assert all(i["lifecycleState"] == "Pending" for i in p["instances"])
    # Two zones: ECS steps by exactly minimumScalingStepSize (1) per decision, 0 -> 1 -> 2.
    steps = [a for a in reversed(p["activities"]) if a["action"] == "scale-out"]
    assert [(a["capacityFrom"], a["capacityTo"]) for a in steps] == [(0, 1), (1, 2)]
    scale_out = steps[0]
    assert scale_out["metric"] == "CapacityProviderReservation"
    assert scale_out["metricValue"] == 200
    assert "3 tasks waiting" in scale_out["cause"]

    # The launch command ran once per instance, with the instance's environment.
    lines = until(lambda: (lambda ls: ls if len(ls) == 2 else None)(
        rig["record"].read_text().splitlines() if rig["record"].exists() else []))
    ids = {i["instanceId"] for i in p["instances"]}
    for line in lines:
        iid, itype, zone, cpu, mem, c, endpoint = line.split()
        assert iid in ids and itype == "t3.small" and zone.startswith("us-east-1")
        assert (cpu, mem, c, endpoint) == ("2048", "1996", cluster, srv.endpoint)

    text = metrics(srv)
    labels = f'capacity_provider="{cp}",cluster="{cluster}"'
    assert f"portside_capacity_provider_reservation{{{labels}}} 200.0" in text
    assert f"portside_capacity_provider_tasks_waiting{{{labels}}} 3.0" in text
    assert f"portside_capacity_provider_target_capacity{{{labels}}} 100.0" in text
    name = p["group"]["name"]
    assert f'portside_autoscaling_group_desired_capacity{{group="{name}"}} 2.0' in text
    assert (f'portside_autoscaling_group_instances{{availability_zone="us-east-1a",'
            f'group="{name}",lifecycle_state="Pending"}} 1.0') in text


def test_a_failing_launch_command_is_an_activity_with_its_reason(rig: dict[str, Any]) -> None:
    srv: Server = rig["server"]
    cp, cluster = unique("cp"), unique("c")
    create_provider(srv.client(), cp, rig["groups"]["broken"])
    _waiting_service(srv, cluster, cp)

    def failed() -> Any:
        p = provider(srv, cp)
        return next((a for a in p["activities"] if a["action"] == "launch-failed"), None)

    activity = until(failed, timeout=60)
    assert "exited with code 3: no hypervisor answers" in activity["cause"]
    # The failed instance is Terminated, not left Pending. The group tries again every
    # period (a new Pending instance while the command runs): wait for a moment between.
    p = until(lambda: (lambda p: p if p["instances"] == [] else None)(provider(srv, cp)))
    assert p["group"]["desiredCapacity"] == 2

    # portside capacity prints the provider, its reservation and the cause.
    out = subprocess.run(
        [sys.executable, "-m", "portside.cli.main", "capacity", "--endpoint", srv.endpoint,
         "--cluster", cluster], capture_output=True, text=True, timeout=60,
        env={**os.environ, "COLUMNS": "400"}, check=True).stdout
    assert cp in out and "200 %" in out
    # the decision that asked for the instances, with the metric and why ...
    decisions = out.index(f"{cp}: last scaling decisions")
    steps = out.index(f"{cp}: last launcher steps")
    assert decisions < steps
    assert "scale-out" in out[decisions:steps]
    assert "CapacityProviderReservation 200.0 % is above the target 100 %" in out[decisions:steps]
    # ... and, apart, the launcher's failed attempts to get them
    assert "launch-failed" in out[steps:] and "launch-failed" not in out[decisions:steps]
    assert "no hypervisor answers" in out[steps:]


def test_capacity_view_errors_are_aws_shaped(rig: dict[str, Any]) -> None:
    srv: Server = rig["server"]
    out = subprocess.run(
        [sys.executable, "-m", "portside.cli.main", "capacity", "--endpoint", srv.endpoint,
         "--cluster", "nope"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "ClusterNotFoundException" in out.stderr
    assert capacity(srv, cluster=None) is not None
