"""RunTask with a capacity provider strategy, live: the tasks wait, the group scales out.

ECS answers a RunTask its provider has no room for with the tasks in PROVISIONING
(an Auto Scaling group provider with managed scaling), and managed scaling counts
them: the group, at zero, launches two instances (CapacityProviderReservation 200).
The ``local`` launcher starts a ``portside agent`` per instance; once they register
the waiting tasks are placed there and run (one per instance: each takes 1.5 of a
t3.small's 2 vCPUs). Modelled on test_capacity_local.py, whose helpers it reuses.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.e2e.test_capacity_local import SLEEPER, ZONES, _instances, _tasks
from tests.helpers import Server, stop_everything, unique, until
from tests.support.capacity import create_group, create_provider, provider

pytestmark = pytest.mark.slow


def test_run_task_waits_provisioning_and_runs_on_new_instances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTSIDE_CAPACITY_PERIOD", "1")
    monkeypatch.setenv("PORTSIDE_LAUNCHER_DRIVER", "process")
    srv = Server(data_dir=tmp_path).start()
    group = create_group(srv, unique("workers"), launcher="local", zones=ZONES, max_size=4,
                         protect=True)
    cluster, cp = unique("c"), unique("cp")
    ecs = srv.client()
    try:
        create_provider(ecs, cp, group, warmup=1, protection=True)
        # The cluster names the provider but has no default strategy: RunTask gives its own.
        ecs.create_cluster(clusterName=cluster, capacityProviders=[cp])
        td = ecs.register_task_definition(family=unique("job"), containerDefinitions=[{
            "name": "job", "image": "python", "essential": True, "memory": 64, "cpu": 1536,
            "entryPoint": [sys.executable, "-c"], "command": [SLEEPER], "stopTimeout": 2}])
        out = ecs.run_task(cluster=cluster, count=2,
                           taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
                           capacityProviderStrategy=[{"capacityProvider": cp, "weight": 1}])

        # No instance yet: both tasks wait in PROVISIONING for the provider, none failed.
        assert out["failures"] == []
        assert [t["lastStatus"] for t in out["tasks"]] == ["PROVISIONING", "PROVISIONING"]
        assert {t["capacityProviderName"] for t in out["tasks"]} == {cp}
        assert all("containerInstanceArn" not in t for t in out["tasks"])
        arns = {t["taskArn"] for t in out["tasks"]}

        # The group scales out from zero for them, and they run on its new instances.
        running = until(lambda: (lambda t: t if len(t) == 2 else None)(_tasks(ecs, cluster)),
                        timeout=180, every=0.5)
        assert {t["taskArn"] for t in running} == arns
        p = provider(srv, cp)
        assert p["group"]["desiredCapacity"] == 2
        first = next(a for a in reversed(p["activities"]) if a["action"] == "scale-out")
        assert (first["capacityFrom"], first["metricValue"]) == (0, 200)
        assert "2 tasks waiting" in first["cause"]
        ids = {i["instanceId"] for i in p["instances"]}
        instances = {ci["containerInstanceArn"]: ci for ci in _instances(ecs, cluster)}
        assert {ci["ec2InstanceId"] for ci in instances.values()} == ids
        for t in running:
            assert t["capacityProviderName"] == cp
            assert t["containerInstanceArn"] in instances
        # one per instance: 1.5 vCPU each on a 2-vCPU t3.small
        assert len({t["containerInstanceArn"] for t in running}) == 2
    finally:
        try:
            stop_everything(ecs, cluster)
        finally:
            srv.stop()
