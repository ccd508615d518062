"""Service Connect registration follows each task's own deployment, as ECS keys it.

During a rollout to a task definition with other ports, the old deployment's
tasks are registered in Cloud Map as their own configuration says (the port
their proxy listens on), the new deployment's as theirs says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from portside.controllers.registrations import decide
from portside.controllers.snapshot import MemorySnapshot
from portside.domain.ecs.service import Deployment, Service
from portside.domain.ecs.service_connect import registry_arns, task_registry
from portside.domain.ecs.task import Container, Task
from portside.domain.servicediscovery.instance import Instance
from portside.domain.servicediscovery.service import Service as SdService

NOW = datetime(2026, 12, 6, tzinfo=UTC)
CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/c"
SD_API = "arn:aws:servicediscovery:us-east-1:000000000000:service/srv-api"
SD_OLD = "arn:aws:servicediscovery:us-east-1:000000000000:service/srv-old"


def _cfg(container: str, port: int, ingress: int, *, mode: str | None = None,
         discovery_arn: str = SD_API) -> dict[str, Any]:
    entry = {"discovery_name": "api", "discovery_arn": discovery_arn,
             "container_name": container, "container_port": port, "ingress_port": ingress}
    if mode:
        entry["network_mode"] = mode
    return {"enabled": True, "namespace": "arn:ns", "services": [entry]}


def _deployment(dep_id: str, cfg: Any, status: str) -> Deployment:
    return Deployment(id=dep_id, status=status, task_definition=f"td:{dep_id}", desired_count=1,
                      created_at=NOW, updated_at=NOW, service_connect_configuration=cfg)


def _service(old: Any, new: Any) -> Service:
    """A service rolling out from deployment ``d-old`` (``old``) to ``d-new`` (``new``)."""
    return Service(service_arn=f"{CLUSTER.replace('cluster', 'service')}/api", service_name="api",
                   cluster_arn=CLUSTER, created_at=NOW, task_definition="td:d-new",
                   service_connect_configuration=new,
                   deployments=(_deployment("d-new", new, "PRIMARY"),
                                _deployment("d-old", old, "ACTIVE")))


def _task(name: str, started_by: str | None, container: str = "app",
          bindings: tuple[tuple[int, int], ...] = (), address: str | None = None) -> Task:
    arn = f"arn:aws:ecs:us-east-1:000000000000:task/c/{name}"
    attachments = ({"details": [{"name": "privateIPv4Address", "value": address}]},) \
        if address else ()
    return Task(task_arn=arn, cluster_arn=CLUSTER, task_definition_arn="td", created_at=NOW,
                last_status="RUNNING", group="service:api", started_by=started_by,
                attachments=attachments,
                containers=(Container(container_arn=f"{arn}/{container}", task_arn=arn,
                                      name=container, network_bindings=tuple(
                                          {"container_port": c, "host_port": h}
                                          for c, h in bindings)),))


def test_awsvpc_tasks_are_registered_on_their_own_deployments_ingress_port() -> None:
    # the new definition uses 15443 as a container port: its ingress port is 15444
    svc = _service(_cfg("app", 8080, 15443), _cfg("web", 15443, 15444))
    old = _task("old", "d-old", address="10.0.0.1")
    new = _task("new", "d-new", container="web", address="10.0.0.2")
    sd = SdService(id="srv-api", arn=SD_API, account="000000000000", region="us-east-1",
                   name="api", namespace_id="ns-1", type="HTTP", created_at=NOW)
    changes = decide(MemorySnapshot([svc, old, new, sd]), NOW)
    ports = {c.id: c.attributes["AWS_INSTANCE_PORT"] for c in changes if isinstance(c, Instance)}
    assert ports == {"old": "15443", "new": "15444"}


def test_bridge_tasks_are_found_by_their_own_deployments_container_and_ingress_port() -> None:
    svc = _service(_cfg("app", 8080, 15443, mode="bridge"),
                   _cfg("web", 15443, 15444, mode="bridge"))
    old = _task("old", "d-old", bindings=((8080, 33000), (15443, 40001)))
    new = _task("new", "d-new", container="web", bindings=((15443, 33001), (15444, 40002)))
    assert task_registry(svc, old, SD_API) == {
        "registry_arn": SD_API, "container_name": "app", "container_port": 15443,
        "ingress_reported": True}
    assert task_registry(svc, new, SD_API) == {
        "registry_arn": SD_API, "container_name": "web", "container_port": 15444,
        "ingress_reported": True}
    # a task of no known deployment is registered as the service is configured now
    assert task_registry(svc, _task("x", "ecs-svc/gone"), SD_API) == task_registry(
        svc, new, SD_API)


def test_a_deployment_without_service_connect_registers_nothing() -> None:
    svc = _service({"enabled": False}, _cfg("app", 8080, 15443))
    assert task_registry(svc, _task("old", "d-old"), SD_API) is None
    assert registry_arns(svc) == [SD_API]


def test_old_tasks_stay_in_their_deployments_cloud_map_service() -> None:
    """A new discovery name: the old deployment's Cloud Map service is still kept (its
    tasks stay there until they stop), and a task is in its own deployment's only."""
    svc = _service(_cfg("app", 8080, 15443, discovery_arn=SD_OLD), _cfg("app", 8080, 15443))
    assert registry_arns(svc) == [SD_API, SD_OLD]
    old = _task("old", "d-old")
    assert task_registry(svc, old, SD_API) is None
    assert task_registry(svc, old, SD_OLD) is not None
    assert task_registry(svc, _task("new", "d-new"), SD_OLD) is None
