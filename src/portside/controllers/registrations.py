"""ECS → Cloud Map: keep each service's registry instances equal to its running tasks.

For every ECS service with a ``serviceRegistries`` entry, the desired set of
Cloud Map instances is one per task that is RUNNING and meant to keep
running, keyed by the task id, with the attributes ECS writes
(``AWS_INSTANCE_IPV4``, ``AWS_INSTANCE_PORT``, ``AVAILABILITY_ZONE``,
``REGION``, ``ECS_SERVICE_NAME``, ``ECS_CLUSTER_NAME``, ``EC2_INSTANCE_ID``,
``ECS_TASK_DEFINITION_FAMILY``). With a custom health check the instance is
UNHEALTHY until the task's container health check passes (HEALTHY at once
when the task defines none), and UNHEALTHY again when it fails. A task whose
desired status turns STOPPED leaves the set at once — the agent's manifest
holds the stop back until the instance is gone (``runtime/manifest.py``), so
no new traffic reaches a dying task.

Service Connect registers each task as its own deployment's configuration says
(container, port, ingress port: ``task_registry``), as ECS keys Service Connect
per deployment: during a rollout to a definition with other ports, old tasks
keep their registration until they stop.

A registry the service no longer lists (UpdateService changed or removed its
``serviceRegistries``, which starts a new deployment) keeps the instances of
the tasks already in it until each stops, and gains none.

An awsvpc task is registered under its own address only (serviceRegistries and
Service Connect alike): nothing until its agent has reported the ENI's
``privateIPv4Address``.

``DiscoverInstancesRevision`` moves when an instance is added, removed or
changes attributes, not on a health change (as Cloud Map's own RegisterInstance
and health updates do).

Only instances ECS registered (``ECS_SERVICE_NAME`` and ``ECS_CLUSTER_NAME``
match) are touched; instances a user registered by hand stay.

    decide(snapshot) -> list of store changes (instance puts and deletes,
                        the Cloud Map service's instances_revision bumped)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from portside.aws.arn import parse_arn
from portside.controllers.snapshot import Snapshot
from portside.domain.ecs.service_connect import registry_arns, task_registry
from portside.domain.ecs.task_definition_containers import network
from portside.domain.servicediscovery.instance import Instance, instance_key
from portside.store.store import Change, Delete

HEALTHY, UNHEALTHY = "HEALTHY", "UNHEALTHY"


def registry_service_id(registry_arn: str) -> str:
    """``srv-…`` from ``arn:aws:servicediscovery:REGION:ACCOUNT:service/srv-…``."""
    parsed = parse_arn(registry_arn)
    return parsed.resource_path[-1] if parsed and parsed.resource_path else registry_arn


def decide(snapshot: Snapshot, now: datetime) -> list[Change]:
    changes: list[Change] = []
    held = _held_registries(snapshot)
    for svc in snapshot.all("service").values():
        cluster_name = svc.cluster_arn.rsplit("/", 1)[-1]
        listed: set[str] = set()
        for reg in svc.service_registries:
            listed.add(registry_service_id(reg["registry_arn"]))
            changes += _reconcile(snapshot, now, svc, cluster_name, reg["registry_arn"],
                                  partial(task_attributes, snapshot, svc, cluster_name, reg))
        for arn in registry_arns(svc):  # Service Connect: each task as its deployment has it
            listed.add(registry_service_id(arn))
            changes += _reconcile(snapshot, now, svc, cluster_name, arn,
                                  partial(_connect_placed, snapshot, svc, cluster_name, arn))
        region, account = svc.cluster_arn.split(":")[3:5]
        for sd_id in sorted(held.get((cluster_name, svc.service_name), set()) - listed):
            sd = snapshot.get("sd_service", sd_id)
            if sd is not None and (sd.region, sd.account) == (region, account):
                changes += _reconcile(snapshot, now, svc, cluster_name, sd_id,
                                      partial(_kept, snapshot, sd_id))
    return changes


def _held_registries(snapshot: Snapshot) -> dict[tuple[str, str], set[str]]:
    """(cluster name, ECS service name) -> the Cloud Map services holding instances ECS
    registered for it. A registry the service no longer lists (UpdateService changed or
    removed it, or the deployment whose Service Connect configuration named it is gone)
    is found here, so its tasks still leave it when they stop."""
    held: dict[tuple[str, str], set[str]] = {}
    for i in snapshot.all("sd_instance").values():
        cluster, service = i.attributes.get("ECS_CLUSTER_NAME"), i.attributes.get("ECS_SERVICE_NAME")
        if cluster and service:
            held.setdefault((cluster, service), set()).add(i.service_id)
    return held


def _connect_placed(
    snapshot: Snapshot, svc: Any, cluster_name: str, arn: str, task: Any
) -> dict[str, str] | None:
    reg = task_registry(svc, task, registry_arn=arn)
    return None if reg is None else task_attributes(snapshot, svc, cluster_name, reg, task)


def _kept(snapshot: Snapshot, sd_id: str, task: Any) -> dict[str, str] | None:
    """A registry no longer listed: a task keeps the instance it has until it stops (the
    new deployment UpdateService started replaces it), and no task gets a new one."""
    old = snapshot.get("sd_instance", instance_key(sd_id, task.task_id))
    return None if old is None else dict(old.attributes)


def _reconcile(
    snapshot: Snapshot, now: datetime, svc: Any, cluster_name: str, registry_arn: str,
    attributes: Callable[[Any], dict[str, str] | None],
) -> list[Change]:
    """``attributes(task)``: the instance attributes ``task`` has in ``registry_arn`` (or a
    bare ``srv-…`` id), None when it is not (or not yet) registered there."""
    sd = snapshot.get("sd_service", registry_service_id(registry_arn))
    if sd is None:
        return []
    wanted: dict[str, dict[str, str]] = {}
    health: dict[str, str] = {}
    if svc.status != "INACTIVE":
        for task in snapshot.children("task", svc.cluster_arn).values():
            if (task.group != svc.group or task.desired_status != "RUNNING"
                    or task.last_status != "RUNNING"):
                continue
            attrs = attributes(task)
            if attrs is None:
                continue
            wanted[task.task_id] = attrs
            health[task.task_id] = task_health(snapshot, task)
    changes: list[Change] = []
    current = {
        i.id: i
        for i in snapshot.children("sd_instance", sd.id).values()
        if i.attributes.get("ECS_SERVICE_NAME") == svc.service_name
        and i.attributes.get("ECS_CLUSTER_NAME") == cluster_name
    }
    custom = sd.health_check_custom_config is not None
    moved = False  # DiscoverInstancesRevision moves when the instances or their attributes
    # do, as RegisterInstance and DeregisterInstance move it; a health change leaves it
    for task_id, attrs in wanted.items():
        old = current.get(task_id)
        status = health[task_id] if custom else None
        if old is not None and old.attributes == attrs and old.custom_health == status:
            continue
        moved = moved or old is None or old.attributes != attrs
        changes.append(
            Instance(
                service_id=sd.id,
                id=task_id,
                account=sd.account,
                created_at=old.created_at if old is not None else now,
                attributes=attrs,
                custom_health=status,
            )
        )
    stopping = {
        t.task_id: t for t in snapshot.children("task", svc.cluster_arn).values()
        if t.group == svc.group
    }
    for task_id in current.keys() - wanted.keys():
        moved = True
        changes.append(Delete(Instance.KIND, instance_key(sd.id, task_id)))
        task = stopping.get(task_id)
        if task is not None and task.last_status != "STOPPED":
            # The task changes too, so its agent's manifest is rebuilt and the
            # stop it was holding back (runtime/manifest.py) goes out now.
            changes.append(dataclasses.replace(task, version=task.version + 1))
    if moved:
        changes.append(dataclasses.replace(sd, instances_revision=snapshot.revision + 1))
    return changes


def task_health(snapshot: Snapshot, task: Any) -> str:
    """HEALTHY once the container health checks pass, or at once when there are none."""
    td = snapshot.get("task_definition", task.task_definition_arn)
    checked = td is not None and any(c.get("health_check") for c in td.container_definitions)
    if not checked:
        return HEALTHY
    return HEALTHY if task.health_status == "HEALTHY" else UNHEALTHY


def task_attributes(
    snapshot: Snapshot, svc: Any, cluster_name: str, reg: Any, task: Any
) -> dict[str, str] | None:
    """The Cloud Map attributes ECS registers for ``task``, or None when it has no address yet
    (an awsvpc task has its own ENI's, once its agent reports it; others their host's)."""
    inst = snapshot.get("container_instance", task.container_instance_arn or "")
    td = snapshot.get("task_definition", task.task_definition_arn)
    address = _task_address(task)  # its own ENI's, once the agent reports it
    if address is None and (td is None or network(td.network_mode) != "awsvpc"):
        address = _host_address(inst)
    if address is None:
        return None
    attrs = {"AWS_INSTANCE_IPV4": address}
    port = _port(task, reg)
    if port is None and reg.get("ingress_reported"):
        return None  # bridge Service Connect: the agent has not reported its proxy's port yet
    if port is not None:
        attrs["AWS_INSTANCE_PORT"] = str(port)
    region = svc.cluster_arn.split(":")[3]
    attrs.update(
        REGION=region,
        ECS_SERVICE_NAME=svc.service_name,
        ECS_CLUSTER_NAME=cluster_name,
        ECS_TASK_DEFINITION_FAMILY=task.task_definition_arn.rsplit("/", 1)[-1].split(":")[0],
    )
    if task.availability_zone:
        attrs["AVAILABILITY_ZONE"] = task.availability_zone
    if inst is not None and inst.ec2_instance_id:
        attrs["EC2_INSTANCE_ID"] = inst.ec2_instance_id
    return attrs


def _task_address(task: Any) -> str | None:
    for att in task.attachments:
        for d in att.get("details") or ():
            if d.get("name") == "privateIPv4Address" and d.get("value"):
                return str(d["value"])
    return None


def _host_address(inst: Any) -> str | None:
    if inst is None:
        return None
    return str(inst.attribute("portside.host-address") or "127.0.0.1")


def _port(task: Any, reg: Any) -> int | None:
    """The registry's port: ``port``, or the host port bound for containerName:containerPort
    (bridge Service Connect: the binding the agent reports for its proxy's ingress)."""
    if reg.get("port"):
        return int(reg["port"])
    name, cport = reg.get("container_name"), reg.get("container_port")
    if not name or not cport:
        return None
    for c in task.containers:
        if c.name != name:
            continue
        for b in c.network_bindings:
            if int(b.get("container_port") or 0) == int(cport) and b.get("host_port"):
                return int(b["host_port"])
    if _task_address(task) is not None:
        return int(cport)  # awsvpc: the task's own address, the container port
    return None
