"""The registration controller's rules that the contract tests cannot show as absences.

An awsvpc task without a reported address is not registered at all; a health
change alone leaves DiscoverInstancesRevision where it is; a registry the
service no longer lists keeps a running task's instance (its health followed)
and drops a stopped one's; another account's registry with the same names is
never touched.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from portside.controllers.registrations import decide
from portside.controllers.snapshot import MemorySnapshot
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.ecs.service import Service
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import TaskDefinition
from portside.domain.servicediscovery.instance import Instance
from portside.domain.servicediscovery.model import HealthCheckCustomConfig
from portside.domain.servicediscovery.service import Service as SdService
from portside.store.store import Delete

NOW = datetime(2026, 12, 6, tzinfo=UTC)
ACCOUNT = "000000000000"
CLUSTER = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/c"
TD = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:1"
HOST = ContainerInstance(container_instance_arn=f"arn:aws:ecs:us-east-1:{ACCOUNT}:container-instance/c/h",
                         cluster_arn=CLUSTER, registered_at=NOW, ec2_instance_id="i-1")


def _sd(sd_id: str, account: str = ACCOUNT) -> SdService:
    return SdService(id=sd_id, arn=f"arn:aws:servicediscovery:us-east-1:{account}:service/{sd_id}",
                     account=account, region="us-east-1", name="web", namespace_id="ns-1",
                     type="DNS_HTTP", created_at=NOW,
                     health_check_custom_config=HealthCheckCustomConfig())


def _service(*registries: str) -> Service:
    return Service(service_arn=f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/c/web",
                   service_name="web", cluster_arn=CLUSTER, created_at=NOW, task_definition=TD,
                   service_registries=tuple({"registry_arn": _sd(r).arn, "port": 80}
                                            for r in registries))


def _td(mode: str, checked: bool = False) -> TaskDefinition:
    container: dict[str, Any] = {"name": "web"}
    if checked:
        container["health_check"] = {"command": ["CMD", "true"]}
    return TaskDefinition(task_definition_arn=TD, family="web", revision=1, registered_at=NOW,
                          network_mode=mode, container_definitions=(container,))


def _task(address: str | None = None, **kw: Any) -> Task:
    details = [{"name": "subnetId", "value": "subnet-1"}]
    if address:
        details.append({"name": "privateIPv4Address", "value": address})
    eni = {"id": "eni-1", "type": "ElasticNetworkInterface", "details": details}
    return Task(task_arn=f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/c/t1", cluster_arn=CLUSTER,
                task_definition_arn=TD, created_at=NOW, last_status="RUNNING",
                group="service:web", attachments=(eni,),
                container_instance_arn=HOST.container_instance_arn, **kw)


def _instance(sd_id: str, account: str = ACCOUNT, health: str = "HEALTHY") -> Instance:
    return Instance(service_id=sd_id, id="t1", account=account, created_at=NOW,
                    custom_health=health,
                    attributes={"AWS_INSTANCE_IPV4": "10.0.0.1", "AWS_INSTANCE_PORT": "80",
                                "ECS_SERVICE_NAME": "web", "ECS_CLUSTER_NAME": "c"})


def _puts(changes: list[Any]) -> dict[str, Instance]:
    return {c.key: c for c in changes if isinstance(c, Instance)}


def test_an_awsvpc_task_waits_for_its_own_address() -> None:
    base = [_service("srv-a"), _sd("srv-a"), _td("awsvpc"), HOST]  # the host has an address
    assert decide(MemorySnapshot([*base, _task()]), NOW) == []
    (inst,) = _puts(decide(MemorySnapshot([*base, _task("10.0.0.7")]), NOW)).values()
    assert inst.attributes["AWS_INSTANCE_IPV4"] == "10.0.0.7"


def test_a_health_change_alone_leaves_the_revision() -> None:
    base = [_service("srv-a"), _sd("srv-a"), _td("awsvpc", checked=True)]
    (inst,) = _puts(decide(MemorySnapshot([*base, _task("10.0.0.1", health_status="UNHEALTHY")]),
                           NOW)).values()
    healthy = _task("10.0.0.1", health_status="HEALTHY")
    changes = decide(MemorySnapshot([*base, healthy, inst]), NOW)
    assert [c.custom_health for c in _puts(changes).values()] == ["HEALTHY"]
    assert not any(isinstance(c, SdService) for c in changes)


def test_an_unlisted_registry_keeps_a_running_task_and_drops_a_stopped_one() -> None:
    base = [_service("srv-b"), _sd("srv-a"), _sd("srv-b"), _td("awsvpc", checked=True)]
    old = _instance("srv-a")
    running = _task("10.0.0.1", health_status="UNHEALTHY")
    changes = decide(MemorySnapshot([*base, running, old]), NOW)
    kept = _puts(changes)[old.key]
    assert (kept.attributes, kept.custom_health) == (old.attributes, "UNHEALTHY")
    assert not any(isinstance(c, Delete) for c in changes)

    stopped = dataclasses.replace(running, desired_status="STOPPED")
    changes = decide(MemorySnapshot([*base, stopped, old]), NOW)
    assert Delete(Instance.KIND, old.key) in changes
    assert old.key not in _puts(changes)


def test_another_accounts_registry_is_not_touched() -> None:
    other = "111111111111"
    snap = [_service(), _sd("srv-x", account=other), _td("awsvpc"),
            _task("10.0.0.1", desired_status="STOPPED"), _instance("srv-x", account=other)]
    assert decide(MemorySnapshot(snap), NOW) == []
