"""Task definition operations, and what services and tasks need from a definition.

Revisions: each family has one ``TaskDefinitionFamily`` record holding the last
revision handed out. RegisterTaskDefinition validates first, then reads that
record and commits the record and the new revision together, with no await in
between: on portside's single event loop that is atomic, so concurrent
registrations of one family get 1, 2, 3, … with no gap or duplicate, and a
number is never reused after deregistration or deletion.

References (``resolve_task_definition``): ``family`` names the latest ACTIVE
revision; ``family:revision`` and a full ARN name one revision whatever its
status. Only ACTIVE revisions may start new work (``usable_for_new_tasks``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from portside.aws.arn import is_arn, parse_arn
from portside.domain.ecs.model import Failure, PortReservation, Reservation
from portside.domain.ecs.tags import Tag, parse_tags
from portside.domain.ecs.task_definition import (
    ACTIVE,
    DELETE_IN_PROGRESS,
    INACTIVE,
    TaskDefinition,
    TaskDefinitionFamily,
)
from portside.domain.ecs.task_definition_containers import container_memory, gpu_count, network
from portside.domain.ecs.task_definition_rules import check_registration, check_request_size
from portside.domain.errors import ClientException, InvalidParameterException
from portside.domain.pagination import Page, paginate
from portside.domain.scope import Scope
from portside.store.store import Delete, Store

NOT_FOUND = "Unable to describe task definition."
MAX_DELETE = 10


def family_arn(scope: Scope, family: str) -> str:
    return scope.ecs(f"task-definition/{family}")


def task_definition_arn(scope: Scope, family: str, revision: int) -> str:
    return f"{family_arn(scope, family)}:{revision}"


# -- references ------------------------------------------------------------


def _parse_ref(scope: Scope, ref: str) -> tuple[str, int | None] | None:
    """(family, revision or None) named by ``ref``; None for an ARN outside ``scope``."""
    name = ref
    if is_arn(ref):
        arn = parse_arn(ref)
        if (
            arn is None
            or arn.service != "ecs"
            or arn.resource_type != "task-definition"
            or (arn.region, arn.account) != (scope.region, scope.account)
        ):
            return None
        name = arn.resource.split("/", 1)[1] if "/" in arn.resource else ""
    family, sep, rev = name.partition(":")
    if not sep:
        return family, None
    if not rev.isdigit() or int(rev) < 1:
        raise InvalidParameterException(f"Invalid revision number. Number: {rev}")
    return family, int(rev)


def _revision(store: Store, scope: Scope, family: str, revision: int) -> TaskDefinition | None:
    td = store.get(TaskDefinition.KIND, task_definition_arn(scope, family, revision))
    return td if isinstance(td, TaskDefinition) else None


def latest_active(store: Store, scope: Scope, family: str) -> TaskDefinition | None:
    """The highest ACTIVE revision of ``family``, if it has one."""
    record = store.get(TaskDefinitionFamily.KIND, family_arn(scope, family))
    if record is None:
        return None
    for revision in range(record.last_revision, 0, -1):
        td = _revision(store, scope, family, revision)
        if td is not None and td.active:
            return td
    return None


def resolve_task_definition(store: Store, scope: Scope, ref: str) -> TaskDefinition:
    """The definition ``ref`` names (family, family:revision or ARN), or ClientException."""
    parsed = _parse_ref(scope, ref)
    if parsed is None:
        raise ClientException(NOT_FOUND)
    family, revision = parsed
    td = (
        latest_active(store, scope, family)
        if revision is None
        else _revision(store, scope, family, revision)
    )
    if td is None:
        raise ClientException(NOT_FOUND)
    return td


def usable_for_new_tasks(td: TaskDefinition) -> bool:
    """RunTask, StartTask, CreateService and UpdateService accept only ACTIVE revisions."""
    return td.status == ACTIVE


def task_reservation(td: TaskDefinition) -> Reservation:
    """What one task of ``td`` holds on its instance.

    cpu and memory: the task-level values if set, else the sum over containers
    (a container reserves its memoryReservation if set, else its memory).
    Ports: the host ports the definition fixes — every port under host mode,
    non-zero host ports under bridge, none under awsvpc (the task has its own
    ENI) or none. GPUs: one entry per GPU required, named by the container that
    needs it; placement swaps them for the instance's GPU ids.
    """
    containers = td.container_definitions
    cpu = int(td.cpu) if td.cpu else sum(int(c.get("cpu") or 0) for c in containers)
    memory = (
        int(td.memory) if td.memory else sum(container_memory(c) or 0 for c in containers)
    )
    mode = network(td.network_mode)
    ports: dict[PortReservation, None] = {}
    if mode in ("host", "bridge"):
        for c in containers:
            for p in c.get("port_mappings") or ():
                host = p.get("host_port") or (p.get("container_port") if mode == "host" else 0)
                if host:
                    ports[PortReservation(int(host), p.get("protocol") or "tcp")] = None
    gpus = tuple(c["name"] for c in containers for _ in range(gpu_count(c)))
    return Reservation(cpu=cpu, memory=memory, ports=tuple(ports), gpus=gpus,
                       eni=mode == "awsvpc")


# -- operations ------------------------------------------------------------


def register_task_definition(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    family: str,
    container_definitions: Sequence[Mapping[str, Any]],
    request_size: int = 0,
    tags: Sequence[Mapping[str, Any]] | None = None,
    network_mode: str | None = None,
    requires_compatibilities: Sequence[str] | None = None,
    cpu: str | None = None,
    memory: str | None = None,
    task_role_arn: str | None = None,
    execution_role_arn: str | None = None,
    volumes: Sequence[Mapping[str, Any]] | None = None,
    placement_constraints: Sequence[Mapping[str, Any]] | None = None,
    pid_mode: str | None = None,
    ipc_mode: str | None = None,
    proxy_configuration: Mapping[str, Any] | None = None,
    inference_accelerators: Sequence[Mapping[str, Any]] | None = None,
    ephemeral_storage: Mapping[str, Any] | None = None,
    runtime_platform: Mapping[str, Any] | None = None,
    enable_fault_injection: bool | None = None,
    trusted_execution_configuration: Mapping[str, Any] | None = None,
) -> TaskDefinition:
    check_request_size(request_size)
    checked = check_registration(
        family=family,
        container_definitions=container_definitions,
        network_mode=network_mode,
        requires_compatibilities=requires_compatibilities,
        cpu=cpu,
        memory=memory,
        pid_mode=pid_mode,
        ipc_mode=ipc_mode,
        volumes=volumes,
        ephemeral_storage=ephemeral_storage,
    )
    parsed_tags = parse_tags(tags)
    names = {c["name"] for c in checked.container_definitions}
    if proxy_configuration is not None and proxy_configuration["container_name"] not in names:
        raise ClientException(
            f"The proxy configuration names container '{proxy_configuration['container_name']}',"
            " which is not defined in the task definition."
        )
    # From here to the commit nothing awaits: reading and bumping the counter is atomic.
    key = family_arn(scope, family)
    record = store.get(TaskDefinitionFamily.KIND, key) or TaskDefinitionFamily(key, family)
    record = dataclasses.replace(record, last_revision=record.last_revision + 1)
    td = TaskDefinition(
        task_definition_arn=task_definition_arn(scope, family, record.last_revision),
        family=family,
        revision=record.last_revision,
        registered_at=now,
        container_definitions=checked.container_definitions,
        network_mode=network_mode,
        requires_compatibilities=checked.requires_compatibilities,
        compatibilities=checked.compatibilities,
        cpu=checked.cpu,
        memory=checked.memory,
        task_role_arn=task_role_arn,
        execution_role_arn=execution_role_arn,
        volumes=tuple(dict(v) for v in volumes or ()),
        placement_constraints=tuple(dict(p) for p in placement_constraints or ()),
        runtime_platform=None if runtime_platform is None else dict(runtime_platform),
        inference_accelerators=tuple(dict(i) for i in inference_accelerators or ()),
        pid_mode=pid_mode,
        ipc_mode=ipc_mode,
        proxy_configuration=None if proxy_configuration is None else dict(proxy_configuration),
        ephemeral_storage=None if ephemeral_storage is None else dict(ephemeral_storage),
        enable_fault_injection=enable_fault_injection,
        trusted_execution_configuration=(
            None
            if trusted_execution_configuration is None
            else dict(trusted_execution_configuration)
        ),
        registered_by=f"arn:aws:iam::{scope.account}:root",
        tags=parsed_tags,
    )
    store.commit([record, td])
    return td


def describe_task_definition(
    store: Store, scope: Scope, *, task_definition: str, include: Sequence[str] | None = None
) -> tuple[TaskDefinition, tuple[Tag, ...] | None]:
    """The definition, and its tags when ``include`` has TAGS."""
    td = resolve_task_definition(store, scope, task_definition)
    return td, td.tags if "TAGS" in (include or ()) else None


def _in_scope(store: Store, scope: Scope) -> list[TaskDefinition]:
    prefix = scope.ecs("task-definition/")
    return [td for key, td in store.all(TaskDefinition.KIND).items() if key.startswith(prefix)]


def list_task_definitions(
    store: Store,
    scope: Scope,
    *,
    family_prefix: str | None = None,
    status: str | None = None,
    sort: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Page:
    """ARNs by family name, then revision (ASC); DESC reverses both.

    ``familyPrefix`` is, despite its name, the full family name (ECS's API reference).
    """
    wanted = status or ACTIVE
    found = [
        td
        for td in _in_scope(store, scope)
        if td.status == wanted and (family_prefix is None or td.family == family_prefix)
    ]
    found.sort(key=lambda td: (td.family, td.revision), reverse=sort == "DESC")
    return paginate([td.task_definition_arn for td in found], next_token, max_results)


def list_task_definition_families(
    store: Store,
    scope: Scope,
    *,
    family_prefix: str | None = None,
    status: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Page:
    """Family names in order. ACTIVE: with an ACTIVE revision; INACTIVE: with none; ALL."""
    wanted = status or ACTIVE
    families: dict[str, bool] = {}
    for td in _in_scope(store, scope):
        if family_prefix is None or td.family.startswith(family_prefix):
            families[td.family] = families.get(td.family, False) or td.active
    names = sorted(
        name
        for name, active in families.items()
        if wanted == "ALL" or active == (wanted == ACTIVE)
    )
    return paginate(names, next_token, max_results)


def deregister_task_definition(
    store: Store, scope: Scope, now: datetime, *, task_definition: str
) -> TaskDefinition:
    """ACTIVE → INACTIVE. A revision is required; deregistering again changes nothing."""
    parsed = _parse_ref(scope, task_definition)
    if parsed is not None and parsed[1] is None:
        raise ClientException("Revision is missing.")
    td = resolve_task_definition(store, scope, task_definition)
    if td.status != ACTIVE:
        return td
    gone = dataclasses.replace(td, status=INACTIVE, deregistered_at=now)
    store.commit([gone])
    return gone


def delete_task_definitions(
    store: Store, scope: Scope, now: datetime, *, task_definitions: Sequence[str]
) -> tuple[list[TaskDefinition], list[Failure]]:
    """INACTIVE → DELETE_IN_PROGRESS, per revision; the rest are failures, not errors."""
    if not task_definitions:
        raise InvalidParameterException(
            "size of TaskDefinition references list must be greater than 0"
        )
    if len(task_definitions) > MAX_DELETE:
        raise InvalidParameterException(
            f"Size of TaskDefinition references list cannot exceed {MAX_DELETE}"
        )
    deleted: dict[str, TaskDefinition] = {}
    changed: list[TaskDefinition] = []
    failures: list[Failure] = []
    for ref in task_definitions:
        reason, td = _deletable(store, scope, ref)
        if td is None:
            failures.append(Failure(arn=ref, reason=reason))
            continue
        if td.status == INACTIVE and td.task_definition_arn not in deleted:
            td = dataclasses.replace(td, status=DELETE_IN_PROGRESS, delete_requested_at=now)
            changed.append(td)
        deleted.setdefault(td.task_definition_arn, td)
    store.commit(changed)
    return list(deleted.values()), failures


def _deletable(store: Store, scope: Scope, ref: str) -> tuple[str, TaskDefinition | None]:
    try:
        parsed = _parse_ref(scope, ref)
    except InvalidParameterException:
        parsed = None
    family, revision = parsed if parsed is not None else ("", None)
    if revision is None:
        return (
            "The specified task definition identifier is invalid. Specify a valid name or "
            "ARN and try again.",
            None,
        )
    td = _revision(store, scope, family, revision)
    if td is None:
        return (
            "The specified task definition does not exist. Specify a valid account, "
            "family, revision and try again.",
            None,
        )
    if td.status == ACTIVE:
        return (
            "The specified task definition is still in ACTIVE status. Please deregister "
            "the target and try again.",
            None,
        )
    return "", td


class _Reader(Protocol):
    def all(self, kind: str) -> Mapping[str, Any]: ...


def purgeable(store: _Reader, in_use: Collection[str]) -> list[Delete]:
    """Removals for DELETE_IN_PROGRESS revisions no task or service in ``in_use`` references.

    ECS keeps such a revision until the last task and service using it are gone;
    a reconciler that knows which definitions are in use commits these
    (controllers/retention.py). ``store`` is the store or a controller's snapshot.
    """
    return [
        Delete(TaskDefinition.KIND, arn)
        for arn, td in store.all(TaskDefinition.KIND).items()
        if td.status == DELETE_IN_PROGRESS and arn not in in_use
    ]
