"""Managed scaling end to end with the ``local`` launcher: real agents come and go.

A service on a capacity provider whose group has no instance, created at zero
and scaled up to two, makes managed scaling launch two
(CapacityProviderReservation 200); the ``local`` launcher
starts a ``portside agent`` per instance with the instance type's capacity and
the instance's zone; each registers as the group instance (its ec2InstanceId),
becomes the provider's, and the service's tasks run there (one per instance:
each takes 1.5 of a t3.small's 2 vCPUs). Scaled to zero, the
instances are empty, stay below target for ``PORTSIDE_SCALE_IN_AFTER`` (2 s
here instead of 15 minutes), are drained and stopped: their container
instances are deregistered and their agents' state directories removed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Server, stop_everything, unique, until
from tests.support.capacity import create_group, create_provider, metrics, provider

pytestmark = pytest.mark.slow

SLEEPER = "import time\nwhile True: time.sleep(1)\n"
ZONES = ("us-east-1a", "us-east-1b")


def _tasks(ecs: Any, cluster: str, status: str = "RUNNING") -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster=cluster)["taskArns"]
    if not arns:
        return []
    return [t for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
            if t["lastStatus"] == status]


def _instances(ecs: Any, cluster: str) -> list[dict[str, Any]]:
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    if not arns:
        return []
    return list(ecs.describe_container_instances(
        cluster=cluster, containerInstances=arns)["containerInstances"])


def test_local_agents_scale_out_run_tasks_and_scale_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTSIDE_CAPACITY_PERIOD", "1")
    monkeypatch.setenv("PORTSIDE_SCALE_IN_AFTER", "2")
    monkeypatch.setenv("PORTSIDE_LAUNCHER_DRIVER", "process")
    monkeypatch.setenv("PORTSIDE_SERVICE_SETTLE", "1")
    srv = Server(data_dir=tmp_path).start()
    group = create_group(srv, unique("workers"), launcher="local", zones=ZONES, max_size=4,
                         protect=True)
    cluster, cp = unique("c"), unique("cp")
    ecs = srv.client()
    try:
        create_provider(ecs, cp, group, warmup=1, protection=True)
        ecs.create_cluster(clusterName=cluster, capacityProviders=[cp],
                           defaultCapacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])
        td = ecs.register_task_definition(family=unique("app"), containerDefinitions=[{
            "name": "app", "image": "python", "essential": True, "memory": 64, "cpu": 1536,
            "entryPoint": [sys.executable, "-c"], "command": [SLEEPER], "stopTimeout": 2}])
        ecs.create_service(cluster=cluster, serviceName="app", desiredCount=0,
                           taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
                           capacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])
        ecs.update_service(cluster=cluster, service="app", desiredCount=2)

        # Scale out from zero: two local agents start, register, and the tasks run there.
        running = until(lambda: (lambda t: t if len(t) == 2 else None)(_tasks(ecs, cluster)),
                        timeout=120, every=0.5)
        p = provider(srv, cp)
        ids = {i["instanceId"] for i in p["instances"]}
        assert len(ids) == 2 and p["group"]["desiredCapacity"] == 2
        instances = {ci["containerInstanceArn"]: ci for ci in _instances(ecs, cluster)}
        assert len(instances) == 2
        for ci in instances.values():
            attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
            assert ci["ec2InstanceId"] in ids
            assert ci["capacityProviderName"] == cp
            assert attrs["ecs.instance-type"] == "t3.small"
            assert attrs["ecs.availability-zone"] in ZONES
            cpu = next(r for r in ci["registeredResources"] if r["name"] == "CPU")
            assert cpu["integerValue"] == 2048
        assert {a["ecs.availability-zone"] for a in (
            {x["name"]: x.get("value") for x in ci["attributes"]} for ci in instances.values()
        )} == set(ZONES)
        for t in running:
            assert t["containerInstanceArn"] in instances
            assert t["capacityProviderName"] == cp
        for iid in ids:
            assert (tmp_path / "instances" / iid / "agent.log").exists()

        # Busy instances are protected from scale-in (managed termination protection).
        p = until(lambda: (lambda p: p if all(i["protectedFromScaleIn"] for i in p["instances"])
                           else None)(provider(srv, cp)), timeout=60)
        assert all(i["lifecycleState"] == "InService" for i in p["instances"])
        assert 'portside_capacity_provider_instances_running{capacity_provider="' + cp in metrics(srv)

        # Scale to zero: the empty agents are drained, stopped and deregistered.
        ecs.update_service(cluster=cluster, service="app", desiredCount=0)
        until(lambda: not _instances(ecs, cluster), timeout=120, every=0.5)
        p = until(lambda: (lambda p: p if not p["instances"] else None)(provider(srv, cp)),
                  timeout=60)
        assert p["group"]["desiredCapacity"] == 0
        assert [a["action"] for a in p["launcherSteps"]].count("terminated") == 2
        scale_in = next(a for a in p["decisions"] if a["action"] == "scale-in")
        assert scale_in["capacityFrom"] == 2 and scale_in["capacityTo"] == 0
        # below target for at least PORTSIDE_SCALE_IN_AFTER (longer if a decision came late)
        waited = re.search(r"below the target 100 % for (\d+) seconds?:", scale_in["cause"])
        assert waited is not None and int(waited.group(1)) >= 2, scale_in["cause"]
        # managed draining: both empty agents were named, drained, then let go
        removing = scale_in["cause"].split("Removing ", 1)[-1]
        assert all(iid in removing for iid in ids) and removing.endswith(" after draining.")
        for iid in ids:
            assert not (tmp_path / "instances" / iid).exists()
        assert not _tasks(ecs, cluster)
    finally:
        try:
            stop_everything(ecs, cluster)
        finally:
            srv.stop()


def _agent_pid(data: Path, iid: str) -> int:
    """The pid in the instance's pid file (read again if caught while the launcher rewrites it)."""
    import json

    def read() -> int | None:
        try:
            return int(json.loads((data / "instances" / iid / "agent.pid").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return None

    return int(until(read, timeout=30))


def _alive(pid: int) -> bool:
    from portside.agent.drivers.process_spawn import start_ticks

    return start_ticks(pid) is not None


def test_local_agents_survive_crashes_and_control_plane_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal

    monkeypatch.setenv("PORTSIDE_CAPACITY_PERIOD", "1")
    monkeypatch.setenv("PORTSIDE_LAUNCHER_DRIVER", "process")
    srv = Server(data_dir=tmp_path).start()
    group = create_group(srv, unique("workers"), launcher="local", zones=ZONES[:1],
                         max_size=4, protect=True)
    cluster, cp = unique("c"), unique("cp")
    ecs = srv.client()
    try:
        create_provider(ecs, cp, group, warmup=1, protection=True)
        ecs.create_cluster(clusterName=cluster, capacityProviders=[cp],
                           defaultCapacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])
        td = ecs.register_task_definition(family=unique("app"), containerDefinitions=[{
            "name": "app", "image": "python", "essential": True, "memory": 64, "cpu": 1536,
            "entryPoint": [sys.executable, "-c"], "command": [SLEEPER], "stopTimeout": 2}])
        ecs.create_service(cluster=cluster, serviceName="app", desiredCount=2,
                           taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
                           capacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])
        first = until(lambda: (lambda t: t if len(t) == 2 else None)(_tasks(ecs, cluster)),
                      timeout=120, every=0.5)
        tasks = {t["taskArn"] for t in first}
        ids = sorted(i["instanceId"] for i in provider(srv, cp)["instances"])
        arns = {ci["containerInstanceArn"] for ci in _instances(ecs, cluster)}

        def settled() -> bool:
            cis = _instances(ecs, cluster)
            return ({ci["containerInstanceArn"] for ci in cis} == arns
                    and all(ci["agentConnected"] for ci in cis)
                    and {t["taskArn"] for t in _tasks(ecs, cluster)} == tasks)

        # An agent that crashes is started again and comes back as the same instance.
        crashed = _agent_pid(tmp_path, ids[0])
        os.kill(crashed, signal.SIGKILL)
        until(lambda: _agent_pid(tmp_path, ids[0]) != crashed, timeout=60)
        until(settled, timeout=120, every=0.5)

        # Stopping the control plane stops its agents (their tasks keep running) ...
        pids = [_agent_pid(tmp_path, i) for i in ids]
        srv.stop()
        assert not any(_alive(p) for p in pids)
        # ... and starting it again starts them from their state: same instances, same tasks.
        # (settled() alone can hold before the new agents start: wait for live pid files too)
        srv.start()
        until(lambda: settled() and all(_alive(_agent_pid(tmp_path, i)) for i in ids),
              timeout=120, every=0.5)
        assert sorted(i["instanceId"] for i in provider(srv, cp)["instances"]) == ids
        restarted = [_agent_pid(tmp_path, i) for i in ids]
        assert not set(restarted) & set(pids)

        # A control plane killed with -9 leaves them running; the next one takes them over.
        srv.kill()
        assert all(_alive(p) for p in restarted)
        srv.start()
        until(settled, timeout=120, every=0.5)
        assert [_agent_pid(tmp_path, i) for i in ids] == restarted
        assert sorted(i["instanceId"] for i in provider(srv, cp)["instances"]) == ids
    finally:
        try:
            stop_everything(ecs, cluster)
        finally:
            srv.stop()
