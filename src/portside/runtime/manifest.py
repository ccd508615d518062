"""The TaskManifest an instance's agent receives: its whole desired state.

Every task placed on the instance whose ``last_status`` is not STOPPED, each
as a TaskPayload (docs/agent-protocol.md): the task's identity and desired
status, and its task definition's containers and volumes in ECS's camelCase
wire form (botocore's ContainerDefinition and Volume shapes) with the task's
overrides already applied, so the agent never needs the task definition.

Overrides follow RunTask's documented rules: ``command`` replaces the
definition's command; ``environment`` variables are added to the definition's,
an override winning over a variable of the same name; ``environmentFiles`` are
added; ``cpu``, ``memory``, ``memoryReservation`` replace; ``resourceRequirements``
replace those of the same type. Task-level ``cpu``/``memory`` overrides replace
the definition's.

A task whose service has Service Connect enabled also carries a
``serviceConnect`` section: its proxy's aliases, upstreams and current
endpoints (runtime/service_connect_payload.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import botocore.session
from botocore.model import Shape

from portside.aws.shapes import encode_output, epoch_seconds
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import TaskDefinition
from portside.store.store import Store


@cache
def shape(name: str) -> Shape:
    """A shape of botocore's ECS model, by name."""
    model = botocore.session.get_session().get_service_model("ecs")
    return model.shape_for(name)


def _wire(name: str, value: Any) -> Any:
    return encode_output(shape(name), value, epoch_seconds)


def instance_tasks(store: Store, instance: ContainerInstance) -> list[Task]:
    """The tasks placed on ``instance`` that are not STOPPED yet, oldest first.

    The Fargate pool (domain/ecs/fargate.py) runs the Fargate tasks of every cluster."""
    from portside.domain.ecs.fargate import is_pool

    found = (
        store.all(Task.KIND) if is_pool(instance)
        else store.children(Task.KIND, instance.cluster_arn)
    )  # fmt: skip
    return [
        t
        for t in found.values()
        if t.container_instance_arn == instance.container_instance_arn
        and t.last_status != "STOPPED"
    ]


def apply_container_override(c: Mapping[str, Any], o: Mapping[str, Any]) -> dict[str, Any]:
    """A container definition (snake_case) with one ContainerOverride applied."""
    out = dict(c)
    if o.get("command") is not None:
        out["command"] = list(o["command"])
    if o.get("environment"):
        env = {e["name"]: e for e in out.get("environment") or ()}
        env.update({e["name"]: e for e in o["environment"]})
        out["environment"] = list(env.values())
    if o.get("environment_files"):
        out["environment_files"] = [*(out.get("environment_files") or ()), *o["environment_files"]]
    for key in ("cpu", "memory", "memory_reservation"):
        if o.get(key) is not None:
            out[key] = o[key]
    if o.get("resource_requirements"):
        replaced = {r["type"] for r in o["resource_requirements"]}
        kept = [r for r in out.get("resource_requirements") or () if r["type"] not in replaced]
        out["resource_requirements"] = [*kept, *o["resource_requirements"]]
    return out


def _containers(task: Task, td: TaskDefinition | None) -> list[dict[str, Any]]:
    overrides = {o.get("name"): o for o in (task.overrides or {}).get("container_overrides") or ()}
    arns = {c.name: c.container_arn for c in task.containers}
    out = []
    for c in td.container_definitions if td is not None else ():
        applied = apply_container_override(c, overrides.get(c["name"]) or {})
        wire = _wire("ContainerDefinition", applied)
        wire["containerArn"] = arns.get(c["name"])
        out.append(wire)
    return out


def _service_name(task: Task) -> str | None:
    if task.service_arn:
        return task.service_arn.rsplit("/", 1)[-1]
    if task.group and task.group.startswith("service:"):
        return task.group.split(":", 1)[1]
    return None


def task_payload(task: Task, td: TaskDefinition | None) -> dict[str, Any]:
    """One TaskPayload (camelCase, as the agent reads it)."""
    overrides = task.overrides or {}
    payload: dict[str, Any] = {
        "taskArn": task.task_arn,
        "clusterArn": task.cluster_arn,
        "taskDefinitionArn": task.task_definition_arn,
        "family": td.family if td is not None else None,
        "revision": td.revision if td is not None else None,
        "version": task.version,
        "desiredStatus": task.desired_status,
        "networkMode": (td.network_mode if td is not None else None) or "bridge",
        "cpu": overrides.get("cpu") or (td.cpu if td is not None else None),
        "memory": overrides.get("memory") or (td.memory if td is not None else None),
        "containers": _containers(task, td),
        "volumes": [_wire("Volume", v) for v in (td.volumes if td is not None else ())],
        "attachments": [_wire("Attachment", a) for a in task.attachments] or None,
        "serviceName": _service_name(task),
        "availabilityZone": task.availability_zone,
        "launchType": task.launch_type,
        "group": task.group,
        "startedBy": task.started_by,
    }
    if task.desired_status == "STOPPED":
        payload["stopReason"] = task.stopped_reason
        payload["stopCode"] = task.stop_code
    return {k: v for k, v in payload.items() if v is not None}


def manifest_tasks(store: Store, instance: ContainerInstance) -> list[dict[str, Any]]:
    """The ``tasks`` of the instance's TaskManifest."""
    memo: dict[Any, Any] = {}
    return [_payload(store, t, memo) for t in instance_tasks(store, instance)]


def _payload(store: Store, task: Task, memo: dict[Any, Any] | None = None) -> dict[str, Any]:
    from portside.runtime.service_connect_payload import service_connect_section

    td = store.get(TaskDefinition.KIND, task.task_definition_arn)
    payload = task_payload(task, td if isinstance(td, TaskDefinition) else None)
    connect = service_connect_section(store, task, memo)
    if connect is not None:
        payload["serviceConnect"] = connect
    if task.desired_status == "STOPPED" and still_registered(store, task):
        # Drain before kill: the stop reaches the agent once Cloud Map no longer
        # sends traffic to the task (controllers/registrations.py removes it).
        payload["desiredStatus"] = "RUNNING"
        payload.pop("stopReason", None)
        payload.pop("stopCode", None)
    return payload


def still_registered(store: Store, task: Task) -> bool:
    """Whether a Cloud Map instance ECS registered for ``task`` still exists."""
    if task.service_arn is None and not (task.group or "").startswith("service:"):
        return False
    from portside.controllers.registrations import registry_service_id
    from portside.domain.ecs.service_connect import registry_arns
    from portside.domain.servicediscovery.instance import instance_key

    service = next(
        (s for s in store.children("service", task.cluster_arn).values() if s.group == task.group),
        None,
    )
    if service is None:
        return False
    # Service Connect: any deployment's Cloud Map service (the task's own deployment's holds it)
    return any(
        store.get("sd_instance", instance_key(registry_service_id(arn), task.task_id)) is not None
        for arn in (*(r["registry_arn"] for r in service.service_registries),
                    *registry_arns(service))
    )


def instances_touched(changes: Iterable[Any]) -> set[str]:
    """The instance ARNs whose session a batch of store changes may concern.

    A task's instance (its manifest may change) and a changed instance itself
    (it may have been deregistered).
    """
    out = set()
    for c in changes:
        if isinstance(c, Task | ContainerInstance) and c.container_instance_arn is not None:
            out.add(c.container_instance_arn)
    return out
