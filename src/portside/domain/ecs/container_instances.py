"""Container instance operations: register, deregister, describe, list, change state.

RegisterContainerInstance is what an agent calls when its host joins a
cluster: the host's identity document names its EC2 instance, zone and type;
``totalResources`` its CPU, memory and ports; ``attributes`` its capabilities.
ECS adds its built-in attributes (``ecs.availability-zone``,
``ecs.instance-type``, ``ecs.os-type``, ``ecs.cpu-architecture``, …) and
counts ports 22, 2375, 2376, 51678 and 51679 as always taken.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from portside.aws.arn import is_arn
from portside.domain.ecs.attributes import check_attribute, is_builtin, to_attributes
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.clusters import get_cluster
from portside.domain.ecs.container_instance import (
    ACTIVE,
    DRAINING,
    INACTIVE,
    RESERVED_PORTS,
    Attribute,
    ContainerInstance,
    HealthStatus,
    Resource,
    VersionInfo,
    remaining,
    usage,
)
from portside.domain.ecs.fargate import is_pool
from portside.domain.ecs.model import Failure
from portside.domain.ecs.tags import merge_tags, parse_tags
from portside.domain.errors import ClientException, InvalidParameterException
from portside.domain.pagination import Page, paginate
from portside.domain.scope import Scope
from portside.store.store import Store

MAX_DESCRIBE = 100
INCLUDES = ("TAGS", "CONTAINER_INSTANCE_HEALTH")

DEFAULT_CAPABILITIES = (
    *(f"com.amazonaws.ecs.capability.docker-remote-api.1.{v}" for v in range(17, 45)),
    "com.amazonaws.ecs.capability.logging-driver.json-file",
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "com.amazonaws.ecs.capability.logging-driver.none",
    "com.amazonaws.ecs.capability.logging-driver.syslog",
    "com.amazonaws.ecs.capability.task-iam-role",
    "com.amazonaws.ecs.capability.task-iam-role-network-host",
    "ecs.capability.execution-role-awslogs",
    "ecs.capability.container-health-check",
    "ecs.capability.container-ordering",
    "ecs.capability.task-cpu-mem-limit",
    "ecs.capability.task-eni",
    "ecs.capability.secrets.asm.environment-variables",
    "ecs.capability.secrets.ssm.environment-variables",
    "ecs.capability.private-registry-authentication.secretsmanager",
    "ecs.capability.service-connect-v1",
    "ecs.capability.docker-plugin.local",
)
"""What a current ECS agent reports; used when a registration reports no capabilities."""


def instance_arn(scope: Scope, cluster: Cluster, ref: str) -> str:
    """The ARN a container instance reference (an ARN or its id) names in ``cluster``."""
    return ref if is_arn(ref) else scope.ecs(f"container-instance/{cluster.cluster_name}/{ref}")


def find_instance(
    store: Store, scope: Scope, cluster: Cluster, ref: str
) -> ContainerInstance | None:
    found = store.get(ContainerInstance.KIND, instance_arn(scope, cluster, ref))
    if isinstance(found, ContainerInstance) and found.cluster_arn == cluster.cluster_arn:
        return found
    return None


def register_container_instance(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    cluster: str | None = None,
    instance_identity_document: str | None = None,
    instance_identity_document_signature: str | None = None,
    total_resources: Sequence[Mapping[str, Any]] | None = None,
    version_info: Mapping[str, Any] | None = None,
    container_instance_arn: str | None = None,
    attributes: Sequence[Mapping[str, Any]] | None = None,
    platform_devices: Sequence[Mapping[str, Any]] | None = None,
    tags: Sequence[Mapping[str, Any]] | None = None,
) -> ContainerInstance:
    c = get_cluster(store, scope, cluster)
    doc = _identity(instance_identity_document)
    resources = _resources(total_resources, platform_devices)
    given = to_attributes(attributes or ())
    for a in given:
        check_attribute(a.name, a.value)
    info = VersionInfo(**dict(version_info)) if version_info else None
    new_tags = parse_tags(tags)
    if container_instance_arn:
        old = store.get(ContainerInstance.KIND, container_instance_arn)
        if not isinstance(old, ContainerInstance) or old.cluster_arn != c.cluster_arn:
            raise InvalidParameterException(
                f"Container instance {container_instance_arn} is not registered to cluster "
                f"{c.cluster_name}."
            )
        if not old.registered:
            raise ClientException(
                "The container instance has been deregistered; register it as a new container "
                "instance."
            )
        custom = [a for a in old.attributes if not is_builtin(a.name)]
        updated = dataclasses.replace(
            old,
            ec2_instance_id=doc.get("instanceId") or old.ec2_instance_id,
            registered_resources=resources,
            version_info=info or old.version_info,
            attributes=_with_builtins(given, doc, keep=custom),
            tags=merge_tags(old.tags, new_tags),
            agent_connected=True,
            version=old.version + 1,
            last_heartbeat_at=now,
        )
        store.commit([updated])
        return updated
    instance = ContainerInstance(
        container_instance_arn=scope.ecs(f"container-instance/{c.cluster_name}/{uuid.uuid4().hex}"),
        cluster_arn=c.cluster_arn,
        registered_at=now,
        ec2_instance_id=doc.get("instanceId"),
        version_info=info,
        registered_resources=resources,
        status=ACTIVE,
        agent_connected=True,
        attributes=_with_builtins(given, doc),
        tags=new_tags,
        last_heartbeat_at=now,
    )
    store.commit([instance])
    return instance


def _identity(document: str | None) -> dict[str, Any]:
    if not document:
        return {}
    try:
        doc = json.loads(document)
    except ValueError:
        raise InvalidParameterException(
            "The instance identity document is not valid JSON."
        ) from None
    if not isinstance(doc, dict):
        raise InvalidParameterException("The instance identity document must be a JSON object.")
    return doc


def _resources(
    total: Sequence[Mapping[str, Any]] | None, devices: Sequence[Mapping[str, Any]] | None
) -> tuple[Resource, ...]:
    by_name: dict[str, Resource] = {}
    for r in total or ():
        name, kind = r.get("name"), r.get("type")
        if not name or kind not in ("INTEGER", "LONG", "DOUBLE", "STRINGSET"):
            raise InvalidParameterException(
                "Each total resource needs a name and a type of INTEGER, LONG, DOUBLE or STRINGSET."
            )
        values = [r.get("integer_value"), r.get("long_value"), r.get("double_value")]
        if any(v is not None and v < 0 for v in values):
            raise InvalidParameterException(f"Resource {name} cannot be negative.")
        by_name[name] = Resource(
            name, kind, r.get("integer_value"), r.get("long_value"), r.get("double_value"),
            tuple(r["string_set_value"]) if r.get("string_set_value") is not None else None,
        )  # fmt: skip
    for name in ("CPU", "MEMORY"):
        by_name.setdefault(name, Resource(name, "INTEGER", integer_value=0))
    ports = {int(p) for p in (by_name.get("PORTS") or Resource("PORTS", "STRINGSET"))
             .string_set_value or () if str(p).isdigit()}  # fmt: skip
    by_name["PORTS"] = _port_set("PORTS", ports | set(RESERVED_PORTS))
    udp = by_name.get("PORTS_UDP")
    by_name["PORTS_UDP"] = _port_set(
        "PORTS_UDP", {int(p) for p in (udp.string_set_value or ()) if p.isdigit()} if udp else set()
    )
    gpus = [d["id"] for d in devices or () if d.get("type") == "GPU"]
    if gpus:
        by_name["GPU"] = Resource("GPU", "STRINGSET", string_set_value=tuple(gpus))
    order = ["CPU", "MEMORY", "PORTS", "PORTS_UDP"]
    return tuple(
        sorted(by_name.values(), key=lambda r: order.index(r.name) if r.name in order else 9)
    )


def _port_set(name: str, ports: set[int]) -> Resource:
    return Resource(name, "STRINGSET", string_set_value=tuple(str(p) for p in sorted(ports)))


def _with_builtins(
    given: Sequence[Attribute], doc: Mapping[str, Any], keep: Sequence[Attribute] = ()
) -> tuple[Attribute, ...]:
    """The agent's attributes, ECS's built-in ones, and ``keep`` (custom ones already set)."""
    out: dict[str, Attribute] = {a.name: a for a in keep}
    for a in given:
        out[a.name] = Attribute(a.name, a.value)
    builtin = {
        "ecs.availability-zone": doc.get("availabilityZone"),
        "ecs.instance-type": doc.get("instanceType"),
        "ecs.ami-id": doc.get("imageId"),
        "ecs.cpu-architecture": doc.get("architecture") or "x86_64",
        "ecs.os-type": "linux",
    }
    for name, value in builtin.items():
        if value and name not in out:
            out[name] = Attribute(name, str(value))
    if not any(".capability." in name for name in out):
        for name in DEFAULT_CAPABILITIES:
            out[name] = Attribute(name)
    return tuple(out.values())


def deregister_container_instance(
    store: Store,
    scope: Scope,
    *,
    cluster: str | None = None,
    container_instance: str,
    force: bool = False,
) -> ContainerInstance:
    c = get_cluster(store, scope, cluster)
    inst = find_instance(store, scope, c, container_instance)
    if inst is None:
        raise InvalidParameterException(
            f"Container instance {container_instance} was not found in cluster {c.cluster_name}."
        )
    if inst.status == INACTIVE:
        return inst
    busy = any(
        t.container_instance_arn == inst.container_instance_arn and t.last_status != "STOPPED"
        for t in store.children("task", c.cluster_arn).values()
    )
    if busy and not force:
        raise InvalidParameterException(
            "Found running tasks on the instance: stop them first, or deregister with force "
            "(the tasks keep running, orphaned)."
        )
    gone = dataclasses.replace(
        inst, status=INACTIVE, agent_connected=False, version=inst.version + 1
    )
    store.commit([gone])
    return gone


def describe_container_instances(
    store: Store,
    scope: Scope,
    *,
    cluster: str | None = None,
    container_instances: Sequence[str],
    include: Sequence[str] | None = None,
) -> tuple[list[dict[str, Any]], list[Failure]]:
    c = get_cluster(store, scope, cluster)
    if len(container_instances) > MAX_DESCRIBE:
        raise InvalidParameterException(
            f"You can describe at most {MAX_DESCRIBE} container instances at a time."
        )
    found: list[ContainerInstance] = []
    failures: list[Failure] = []
    for ref in container_instances:
        inst = find_instance(store, scope, c, ref)
        if inst is None or is_pool(inst):  # the Fargate pool is not the user's instance
            failures.append(Failure(arn=instance_arn(scope, c, ref), reason="MISSING"))
        else:
            found.append(inst)
    return views(store, c.cluster_arn, found, include), failures


def view(
    store: Store, instance: ContainerInstance, include: Sequence[str] | None = None
) -> dict[str, Any]:
    """One ContainerInstance description (RegisterContainerInstance's answer, …)."""
    return views(store, instance.cluster_arn, [instance], include)[0]


def views(
    store: Store, cluster_arn: str, instances: Sequence[ContainerInstance],
    include: Sequence[str] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """ContainerInstance descriptions with what is left on each and its task counts."""
    wanted = set(include or ())
    used = usage(store.children("task", cluster_arn).values())
    out = []
    for inst in instances:
        u = used.get(inst.container_instance_arn)
        view = {f.name: getattr(inst, f.name) for f in dataclasses.fields(inst)}
        view["remaining_resources"] = remaining(inst, u)
        view["running_tasks_count"] = u.running_tasks_count if u else 0
        view["pending_tasks_count"] = u.pending_tasks_count if u else 0
        if "TAGS" not in wanted:
            view.pop("tags")
        if "CONTAINER_INSTANCE_HEALTH" in wanted:
            view["health_status"] = inst.health_status or HealthStatus("INSUFFICIENT_DATA")
        else:
            view.pop("health_status")
        out.append(view)
    return out


def list_container_instances(
    store: Store,
    scope: Scope,
    *,
    cluster: str | None = None,
    filter: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
    status: str | None = None,
) -> Page:
    from portside.domain.ecs.placement_view import instance_state
    from portside.scheduler.query import parse

    c = get_cluster(store, scope, cluster)
    instances = [
        i for i in store.children(ContainerInstance.KIND, c.cluster_arn).values()
        if (i.status == status if status else i.status != INACTIVE) and not is_pool(i)
    ]  # fmt: skip
    if filter:
        query = parse(filter)
        used = usage(store.children("task", c.cluster_arn).values())
        instances = [
            i for i in instances if query(instance_state(i, used.get(i.container_instance_arn)))
        ]
    return paginate([i.container_instance_arn for i in instances], next_token, max_results)


def update_container_instances_state(
    store: Store,
    scope: Scope,
    *,
    cluster: str | None = None,
    container_instances: Sequence[str],
    status: str,
) -> tuple[list[dict[str, Any]], list[Failure]]:
    """ACTIVE <-> DRAINING. DRAINING instances take no new tasks (the service scheduler
    replaces the service tasks running there); standalone tasks are left alone."""
    c = get_cluster(store, scope, cluster)
    if status not in (ACTIVE, DRAINING):
        raise InvalidParameterException(
            "Container instances can only be set to ACTIVE or DRAINING."
        )
    if len(container_instances) > 10:
        raise InvalidParameterException(
            "You can update the state of at most 10 container instances at a time."
        )
    changed: list[ContainerInstance] = []
    commits: list[ContainerInstance] = []
    failures: list[Failure] = []
    for ref in container_instances:
        inst = find_instance(store, scope, c, ref)
        if inst is None or is_pool(inst):  # the Fargate pool is not the user's instance
            failures.append(Failure(arn=instance_arn(scope, c, ref), reason="MISSING"))
        elif inst.status not in (ACTIVE, DRAINING):
            failures.append(
                Failure(
                    arn=inst.container_instance_arn,
                    reason=inst.status,
                    detail=f"A container instance in state {inst.status} cannot change state.",
                )
            )
        elif inst.status == status:
            changed.append(inst)
        else:
            commits.append(dataclasses.replace(inst, status=status, version=inst.version + 1))
            changed.append(commits[-1])
    store.commit(commits)
    return views(store, c.cluster_arn, changed), failures
