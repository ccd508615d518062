"""Task operations: RunTask, StartTask, StopTask, DescribeTasks, ListTasks.

RunTask and StartTask decide placement with the scheduler (through
``placement.place``) and record each placed task with the resources it holds
on its instance; the agent on that instance makes it run. A task that cannot
be placed is a ``failures`` entry with ECS's reason, never a fake success.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from portside.aws.arn import is_arn
from portside.domain.ecs import fargate
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.clusters import get_cluster
from portside.domain.ecs.model import Failure, Reservation
from portside.domain.ecs.tags import parse_tags
from portside.domain.ecs.task import Container, Task
from portside.domain.ecs.task_launch import (
    check_launch_target,
    check_network,
    launch_target,
    require_active,
)
from portside.domain.errors import InvalidParameterException
from portside.domain.pagination import Page, paginate
from portside.domain.scope import Scope
from portside.store.store import Store


def task_arn(scope: Scope, cluster: Cluster, ref: str) -> str:
    return ref if is_arn(ref) else scope.ecs(f"task/{cluster.cluster_name}/{ref}")


def find_task(store: Store, scope: Scope, cluster: Cluster, ref: str) -> Task | None:
    found = store.get(Task.KIND, task_arn(scope, cluster, ref))
    return found if isinstance(found, Task) and found.cluster_arn == cluster.cluster_arn else None


def new_task(
    scope: Scope,
    now: datetime,
    cluster: Cluster,
    td: Any,
    reserved: Reservation,
    *,
    instance: Any | None,
    group: str,
    launch_type: str | None,
    capacity_provider_name: str | None = None,
    started_by: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    tags: Sequence[Any] = (),
    client_token: str | None = None,
    service_arn: str | None = None,
    enable_execute_command: bool = False,
    task_id: str | None = None,
    platform_version: str | None = None,
    network_configuration: Mapping[str, Any] | None = None,
) -> Task:
    """A task record for one placement (PROVISIONING for awsvpc or capacity providers).

    A FARGATE task gets its platform version (LATEST: the current one) and family;
    an awsvpc task its PRECREATED ENI attachment (:func:`eni_attachment`)."""
    tid = task_id or uuid.uuid4().hex
    arn = scope.ecs(f"task/{cluster.cluster_name}/{tid}")
    containers = tuple(
        Container(
            container_arn=scope.ecs(f"container/{cluster.cluster_name}/{tid}/{uuid.uuid4()}"),
            task_arn=arn,
            name=c["name"],
            image=c.get("image"),
            cpu=str(c.get("cpu", 0)),
            memory=str(c["memory"]) if c.get("memory") is not None else None,
            memory_reservation=(
                str(c["memory_reservation"]) if c.get("memory_reservation") is not None else None
            ),
        )
        for c in td.container_definitions
    )
    provisioning = td.network_mode == "awsvpc" or capacity_provider_name is not None
    on_fargate = launch_type == "FARGATE"
    az = instance.attribute("ecs.availability-zone") if instance is not None else None
    return Task(
        task_arn=arn,
        cluster_arn=cluster.cluster_arn,
        task_definition_arn=td.task_definition_arn,
        created_at=now,
        last_status="PROVISIONING" if provisioning else "PENDING",
        desired_status="RUNNING",
        launch_type=launch_type,
        capacity_provider_name=capacity_provider_name,
        container_instance_arn=instance.container_instance_arn if instance is not None else None,
        availability_zone=az,
        containers=containers,
        cpu=str(reserved.cpu) if reserved.cpu else td.cpu,
        memory=str(reserved.memory) if reserved.memory else td.memory,
        group=group,
        started_by=started_by,
        overrides=dict(overrides) if overrides else {"container_overrides": []},
        tags=tuple(tags),
        reserved=reserved,
        client_token=client_token,
        service_arn=service_arn,
        enable_execute_command=enable_execute_command,
        attachments=eni_attachment(arn, network_configuration) if td.network_mode == "awsvpc" else (),
        platform_version=fargate.platform_version(platform_version) if on_fargate else None,
        platform_family=fargate.PLATFORM_FAMILY if on_fargate else None,
    )


def eni_attachment(arn: str, network_configuration: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """The ENI attachment ECS gives an awsvpc task when it creates it: PRECREATED, with its subnet.

    The agent reports it ATTACHED with the address once it set the network up
    (``task_state.apply_network`` keeps the subnet). ECS picks a subnet in the
    instance's availability zone; portside's subnets are only names, so the
    first one is as good as any. The id is the one the agent derives from the
    task ARN (``agent.session._attachment_id``), so its report matches it.
    """
    subnets = ((network_configuration or {}).get("awsvpc_configuration") or {}).get("subnets") or ()
    if not subnets:
        return ()
    return ({
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, arn + "#eni")),
        "type": "ElasticNetworkInterface",
        "status": "PRECREATED",
        "details": [{"name": "subnetId", "value": subnets[0]}],
    },)


def released_attachments(task: Task) -> tuple[Any, ...]:
    """``task``'s attachments once it stopped: its ENI is DELETED (ECS: DETACHED, then DELETED).

    Shared by a stop that needs no agent (``request_stop``) and an agent's
    STOPPED report (``task_state``), so both leave the same attachments.
    """
    return tuple(
        {**a, "status": "DELETED"} if a.get("type") == "ElasticNetworkInterface" else a
        for a in task.attachments
    )


def _reservation(td: Any, overrides: Mapping[str, Any] | None) -> Reservation:
    from portside.domain.ecs.task_definitions import task_reservation

    reserved = task_reservation(td)
    if overrides:
        cpu, mem = overrides.get("cpu"), overrides.get("memory")
        reserved = dataclasses.replace(
            reserved,
            cpu=int(cpu) if cpu else reserved.cpu,
            memory=int(mem) if mem else reserved.memory,
        )
    return reserved


def run_task(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    task_definition: str,
    cluster: str | None = None,
    count: int | None = None,
    group: str | None = None,
    launch_type: str | None = None,
    capacity_provider_strategy: Sequence[Mapping[str, Any]] | None = None,
    placement_constraints: Sequence[Any] | None = None,
    placement_strategy: Sequence[Any] | None = None,
    network_configuration: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    started_by: str | None = None,
    tags: Sequence[Mapping[str, Any]] | None = None,
    client_token: str | None = None,
    propagate_tags: str | None = None,
    enable_ecs_managed_tags: bool | None = None,
    enable_execute_command: bool | None = None,
    platform_version: str | None = None,
    reference_id: str | None = None,
    volume_configurations: Sequence[Any] | None = None,
) -> tuple[list[Task], list[Failure]]:
    from portside.domain.ecs.placement import place
    from portside.domain.ecs.placement_rules import check_placement
    from portside.domain.ecs.task_definitions import resolve_task_definition

    c = get_cluster(store, scope, cluster)
    if client_token:
        earlier = [
            t for t in store.children(Task.KIND, c.cluster_arn).values()
            if t.client_token == client_token
        ]
        if earlier:
            return earlier, []
    n = 1 if count is None else count
    if not 1 <= n <= 10:
        raise InvalidParameterException("count must be between 1 and 10.")
    if started_by is not None and len(started_by) > 128:
        raise InvalidParameterException("startedBy can be at most 128 characters.")
    td = resolve_task_definition(store, scope, task_definition)
    require_active(td)
    launch_type, cps = launch_target(store, scope, c, td, launch_type, capacity_provider_strategy)
    check_network(td, network_configuration)
    td_constraints = tuple(td.placement_constraints or ())
    constraints, strategies = check_placement(
        list(td_constraints) + list(placement_constraints or ()), placement_strategy
    )
    task_tags = parse_tags(tags)
    if propagate_tags == "TASK_DEFINITION":
        task_tags = tuple({t.key: t for t in (*td.tags, *task_tags)}.values())
    reserved = _reservation(td, overrides)
    task_group = group or f"family:{td.family}"
    if fargate.wants_fargate(launch_type, cps):
        tasks, failures = _run_on_fargate(
            store, scope, now, c, td, reserved, n, task_group, cps,
            platform_version=platform_version, started_by=started_by, overrides=overrides,
            tags=task_tags, client_token=client_token,
            enable_execute_command=bool(enable_execute_command),
            network_configuration=network_configuration,
        )  # fmt: skip
        store.commit(tasks)
        return tasks, failures
    outcome = place(
        store,
        c,
        td,
        reserved,
        count=n,
        group=task_group,
        launch_type=launch_type,
        capacity_provider_strategy=cps,
        constraints=constraints,
        strategies=strategies,
        seed=client_token or f"{c.cluster_arn}:{store.revision}",
    )
    tasks = [
        new_task(
            scope, now, c, td, p.reservation,
            instance=p.instance,
            group=task_group,
            launch_type=launch_type,
            capacity_provider_name=p.capacity_provider,
            started_by=started_by,
            overrides=overrides,
            tags=task_tags,
            client_token=client_token,
            enable_execute_command=bool(enable_execute_command),
            network_configuration=network_configuration,
        )
        for p in outcome.placements
    ]
    tasks += [
        new_task(
            scope, now, c, td, reserved,
            instance=None,
            group=task_group,
            launch_type=launch_type,
            capacity_provider_name=provider,
            started_by=started_by,
            overrides=overrides,
            tags=task_tags,
            client_token=client_token,
            enable_execute_command=bool(enable_execute_command),
            network_configuration=network_configuration,
        )
        for provider in outcome.waiting
    ]
    store.commit([*tasks, *_records(c, now, tasks, outcome)])
    return tasks, outcome.failures


def _run_on_fargate(
    store: Store, scope: Scope, now: datetime, cluster: Cluster, td: Any,
    reserved: Reservation, count: int, group: str, cps: Sequence[Any], **kw: Any,
) -> tuple[list[Task], list[Failure]]:  # fmt: skip
    """RunTask's FARGATE / FARGATE_SPOT tasks, placed on the Fargate pool (fargate.py)."""
    from portside.domain.ecs.placement import split_by_strategy, task_request

    states = fargate.pool_states(store)
    if not states:
        return [], [Failure(reason=fargate.NO_POOL)]
    providers: list[str | None] = list(split_by_strategy(cps, count, {})) if cps else [None] * count
    req = task_request(td, reserved, group=group, launch_type="FARGATE")
    seed = kw.get("client_token") or f"{cluster.cluster_arn}:{store.revision}"
    result = fargate.place([s for _, s in states], req, count, seed)
    pools = {i.container_instance_arn: i for i, _ in states}
    tasks = [
        new_task(scope, now, cluster, td, p.reservation, instance=pools[p.instance_arn],
                 group=group, launch_type="FARGATE", capacity_provider_name=providers[i], **kw)
        for i, p in enumerate(result.placements) if p is not None
    ]  # fmt: skip
    failures = [Failure(reason=fargate.UNAVAILABLE) for _ in result.unplaced]
    return tasks, failures


def _records(cluster: Cluster, now: datetime, tasks: Sequence[Task], outcome: Any) -> list[Any]:
    """Placement explanations for ``portside explain``: per task, and the last failure."""
    from portside.domain.ecs.placement_record import PlacementRecord, run_task_key

    records: list[Any] = []
    failed: list[str] = []
    for index, text, labels in outcome.explanations():
        if index >= 0:
            records.append(PlacementRecord(tasks[index].task_arn, cluster.cluster_arn, now, labels, text))
        else:
            failed.append(text)
    if failed:
        records.append(
            PlacementRecord(run_task_key(cluster.cluster_arn), cluster.cluster_arn, now, (), "\n".join(failed))
        )
    return records


def start_task(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    container_instances: Sequence[str],
    task_definition: str,
    cluster: str | None = None,
    group: str | None = None,
    network_configuration: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    started_by: str | None = None,
    tags: Sequence[Mapping[str, Any]] | None = None,
    propagate_tags: str | None = None,
    enable_ecs_managed_tags: bool | None = None,
    enable_execute_command: bool | None = None,
    reference_id: str | None = None,
    volume_configurations: Sequence[Any] | None = None,
) -> tuple[list[Task], list[Failure]]:
    from portside.domain.ecs.placement import place_on
    from portside.domain.ecs.task_definitions import resolve_task_definition

    c = get_cluster(store, scope, cluster)
    if not 1 <= len(container_instances) <= 10:
        raise InvalidParameterException("containerInstances must list 1 to 10 instances.")
    td = resolve_task_definition(store, scope, task_definition)
    require_active(td)
    check_launch_target(store, scope, c, td, None, ())
    check_network(td, network_configuration)
    reserved = _reservation(td, overrides)
    task_group = group or f"family:{td.family}"
    outcome = place_on(store, scope, c, td, reserved, container_instances, group=task_group)
    task_tags = parse_tags(tags)
    tasks = [
        new_task(
            scope, now, c, td, p.reservation,
            instance=p.instance,
            group=task_group,
            launch_type="EXTERNAL" if p.instance.external else "EC2",
            started_by=started_by,
            overrides=overrides,
            tags=task_tags,
            enable_execute_command=bool(enable_execute_command),
            network_configuration=network_configuration,
        )
        for p in outcome.placements
    ]
    store.commit([*tasks, *_records(c, now, tasks, outcome)])
    return tasks, outcome.failures


def stop_task(
    store: Store, scope: Scope, now: datetime, *, task: str, cluster: str | None = None,
    reason: str | None = None,
) -> Task:
    c = get_cluster(store, scope, cluster)
    if reason is not None and len(reason) > 255:
        raise InvalidParameterException("reason can be at most 255 characters.")
    found = find_task(store, scope, c, task)
    if found is None:
        raise InvalidParameterException("The referenced task was not found.")
    if found.desired_status == "STOPPED":
        return found
    stopped = request_stop(found, now, reason or "Task stopped by user", "UserInitiated")
    store.commit([stopped])
    return stopped


def request_stop(task: Task, now: datetime, reason: str, code: str) -> Task:
    """Desired STOPPED; a task that never reached an instance is STOPPED at once."""
    changes: dict[str, Any] = dict(
        desired_status="STOPPED",
        stopped_reason=reason,
        stop_code=code,
        stopping_at=now,
        version=task.version + 1,
    )
    if task.container_instance_arn is None or task.last_status in ("PROVISIONING",):
        changes.update(
            last_status="STOPPED",
            stopped_at=now,
            execution_stopped_at=now,
            containers=tuple(
                dataclasses.replace(ct, last_status="STOPPED") for ct in task.containers
            ),
            # its network interface goes too, as on an agent's STOPPED report (task_state)
            attachments=released_attachments(task),
        )
    return dataclasses.replace(task, **changes)


def describe_tasks(
    store: Store, scope: Scope, *, tasks: Sequence[str], cluster: str | None = None,
    include: Sequence[str] | None = None,
) -> tuple[list[Task], list[Failure]]:
    if len(tasks) > 100:
        raise InvalidParameterException("At most 100 tasks can be described at once.")
    c = get_cluster(store, scope, cluster)
    found: list[Task] = []
    failures: list[Failure] = []
    with_tags = bool(include and "TAGS" in include)
    for ref in tasks:
        t = find_task(store, scope, c, ref)
        if t is None:
            failures.append(Failure(arn=task_arn(scope, c, ref), reason="MISSING"))
        else:
            found.append(t if with_tags else dataclasses.replace(t, tags=()))
    return found, failures


def list_tasks(
    store: Store,
    scope: Scope,
    *,
    cluster: str | None = None,
    container_instance: str | None = None,
    family: str | None = None,
    started_by: str | None = None,
    service_name: str | None = None,
    desired_status: str | None = None,
    launch_type: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Page:
    c = get_cluster(store, scope, cluster)
    want = desired_status or "RUNNING"
    ci = None
    if container_instance:
        ci = (
            container_instance
            if is_arn(container_instance)
            else scope.ecs(f"container-instance/{c.cluster_name}/{container_instance}")
        )
    svc_group = f"service:{service_name.rsplit('/', 1)[-1]}" if service_name else None
    fam = f":task-definition/{family}:" if family else None
    keys = []
    for t in store.children(Task.KIND, c.cluster_arn).values():
        if want == "PENDING":
            if t.desired_status != "RUNNING" or t.last_status not in (
                "PROVISIONING", "PENDING", "ACTIVATING"
            ):
                continue
        elif t.desired_status != want:
            continue
        if ci and t.container_instance_arn != ci:
            continue
        if started_by and t.started_by != started_by:
            continue
        if svc_group and t.group != svc_group:
            continue
        if fam and fam not in t.task_definition_arn:
            continue
        if launch_type and t.launch_type != launch_type:
            continue
        keys.append(t.task_arn)
    return paginate(keys, next_token, max_results)
