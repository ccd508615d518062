"""What an agent reports, applied to a Task: SubmitTaskStateChange and friends.

The agent is the only writer of a task's known status, and its reports may
arrive late, twice, or out of order (a retry after a timeout). So a report only
ever moves things forward: the task's ``last_status`` along LIFECYCLE, each
container's along PENDING → RUNNING → STOPPED. A report that changes nothing
is ignored — no commit, no ``version`` bump — which makes every report
idempotent. A change bumps ``version`` once.

Timestamps follow ECS's Task shape: ``connectivity`` CONNECTED at the first
report, ``pull_started_at``/``pull_stopped_at``/``execution_stopped_at`` as the
agent gives them, ``started_at`` on RUNNING, ``stopping_at`` when the task
starts to stop, ``stopped_at`` on STOPPED (which ends ``holds_resources``, so
the instance gets its reservation back). A task that stops while its desired
status is still RUNNING stopped on its own: ECS says
``EssentialContainerExited`` / "Essential container in task exited", or
``TaskFailedToStart`` with the agent's reason when it never ran and the reason
is one of ECS's start failures (``CannotPullContainerError: …`` and the like).

A report signed with an agent key may only touch tasks placed on that agent's
instance (``reporter``); operator keys may report for any task.

Group commit: given a ``pending`` dict, the report operations commit nothing
and put the changed task there instead (reading a task already in it as the
current one), so the caller (runtime/report_batch.py) can apply the reports
that arrived together and make them durable with one commit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from portside.aws.errors import AwsError
from portside.domain.ecs.clusters import get_cluster
from portside.domain.ecs.task import LIFECYCLE, Container, Task
from portside.domain.ecs.tasks import find_task, released_attachments
from portside.domain.errors import InvalidParameterException
from portside.domain.scope import Scope
from portside.store.store import Store

TASK_RANK = {s: i for i, s in enumerate(LIFECYCLE)}
CONTAINER_RANK = {"PENDING": 0, "RUNNING": 1, "STOPPED": 2}
HEALTH = ("HEALTHY", "UNHEALTHY", "UNKNOWN")
ESSENTIAL_EXITED = ("EssentialContainerExited", "Essential container in task exited")
FAILED_TO_START = "TaskFailedToStart"
START_FAILURES = (  # reasons ECS's agents give when a task could not start
    "CannotPullContainerError",
    "CannotCreateContainerError",
    "CannotStartContainerError",
    "CannotCreateVolumeError",
    "ResourceInitializationError",
    "ContainerRuntimeTimeoutError",
    "DockerTimeoutError",
)


class AccessDeniedException(AwsError):
    """The caller may not act on this resource (an agent reporting another instance's task)."""

    code = "AccessDeniedException"


@dataclass(frozen=True, slots=True)
class ContainerReport:
    container_name: str
    status: str | None = None
    runtime_id: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    network_bindings: tuple[Any, ...] | None = None
    image_digest: str | None = None


@dataclass(frozen=True, slots=True)
class TaskReport:
    status: str | None = None
    reason: str | None = None
    containers: tuple[ContainerReport, ...] = ()
    pull_started_at: datetime | None = None
    pull_stopped_at: datetime | None = None
    execution_stopped_at: datetime | None = None


# -- pure rules --------------------------------------------------------------


def _check_status(status: str | None, ranks: Mapping[str, int], what: str) -> None:
    if status is not None and status not in ranks:
        raise InvalidParameterException(
            f"{what} status {status!r} is not one of {', '.join(ranks)}."
        )


def _merge_container(c: Container, r: ContainerReport) -> Container:
    if r.status is not None and CONTAINER_RANK[r.status] < CONTAINER_RANK.get(c.last_status, 0):
        return c  # a stale report: the container has moved on
    return dataclasses.replace(
        c,
        last_status=r.status or c.last_status,
        runtime_id=r.runtime_id or c.runtime_id,
        exit_code=r.exit_code if r.exit_code is not None else c.exit_code,
        reason=r.reason or c.reason,
        network_bindings=(
            tuple(r.network_bindings) if r.network_bindings is not None else c.network_bindings
        ),
        image_digest=r.image_digest or c.image_digest,
    )


def _containers(task: Task, reports: Sequence[ContainerReport]) -> tuple[Container, ...]:
    by_name = {c.name: c for c in task.containers}
    for r in reports:
        _check_status(r.status, CONTAINER_RANK, "Container")
        if r.container_name not in by_name:
            raise InvalidParameterException(
                f"The task has no container named {r.container_name!r}."
            )
        by_name[r.container_name] = _merge_container(by_name[r.container_name], r)
    return tuple(by_name[c.name] for c in task.containers)


def apply_report(task: Task, report: TaskReport, now: datetime) -> Task:
    """``task`` with ``report`` applied; equal to ``task`` when the report changes nothing."""
    _check_status(report.status, TASK_RANK, "Task")
    changes: dict[str, Any] = {"containers": _containers(task, report.containers)}
    old = TASK_RANK[task.last_status]
    new = TASK_RANK[report.status] if report.status is not None else old
    moved = new > old
    status = LIFECYCLE[max(new, old)]
    if task.connectivity is None:
        changes.update(connectivity="CONNECTED", connectivity_at=now)
    changes["pull_started_at"] = task.pull_started_at or report.pull_started_at
    changes["pull_stopped_at"] = task.pull_stopped_at or report.pull_stopped_at
    if moved:
        changes["last_status"] = status
        if status == "RUNNING" and task.started_at is None:
            changes["started_at"] = now
        if new >= TASK_RANK["DEACTIVATING"]:
            changes.update(_stopping(task, report, now))
        if status == "STOPPED":
            changes.update(_stopped(task, changes["containers"], report, now))
    updated = dataclasses.replace(task, **changes)
    return task if updated == task else updated


def _stopping(task: Task, report: TaskReport, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {"stopping_at": task.stopping_at or now}
    if task.desired_status == "RUNNING":  # it stopped on its own, not because it was asked
        if task.started_at is None and (report.reason or "").startswith(START_FAILURES):
            code, reason = FAILED_TO_START, report.reason
        else:
            code, reason = ESSENTIAL_EXITED
        out.update(desired_status="STOPPED", stop_code=code, stopped_reason=reason)
    return out


def _stopped(
    task: Task, containers: tuple[Container, ...], report: TaskReport, now: datetime
) -> dict[str, Any]:
    return {
        "stopped_at": now,
        "execution_stopped_at": report.execution_stopped_at or task.execution_stopped_at or now,
        "containers": tuple(
            c if c.last_status == "STOPPED" else dataclasses.replace(c, last_status="STOPPED")
            for c in containers
        ),
        "attachments": released_attachments(task),  # the task's network interface goes with it
    }


def apply_health(
    task: Task, health_status: str, containers: Mapping[str, str] | None = None
) -> Task:
    """``task`` with the health its agent reported (task and per container)."""
    for h in (health_status, *(containers or {}).values()):
        if h not in HEALTH:
            raise InvalidParameterException(f"healthStatus {h!r} is not one of {', '.join(HEALTH)}.")
    named = containers or {}
    updated = dataclasses.replace(
        task,
        health_status=health_status,
        containers=tuple(
            dataclasses.replace(c, health_status=named[c.name]) if c.name in named else c
            for c in task.containers
        ),
    )
    return task if updated == task else updated


def apply_network(
    task: Task,
    attachments: Sequence[Mapping[str, Any]],
    interfaces: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Task:
    """``task`` with the network its agent set up for it (awsvpc: its own address).

    ECS shows a task's own address as the ``privateIPv4Address`` detail of its
    ElasticNetworkInterface attachment and on each container's network
    interfaces. A reported attachment updates, in place, the task's attachment
    with the same id or, failing that, of the same type (a task has one ENI):
    its fields and details (by name) are the reported ones, and details the
    agent does not know (the ``subnetId`` given at creation) are kept. Other
    attachments are left alone. ``interfaces`` are per container name.
    """
    kept = list(task.attachments)
    for new in attachments:
        i = next((i for i, a in enumerate(kept) if a.get("id") == new.get("id")), None)
        if i is None:
            i = next((i for i, a in enumerate(kept) if a.get("type") == new.get("type")), None)
        if i is None:
            kept.append(dict(new))
        else:
            kept[i] = _merged(kept[i], new)
    named = interfaces or {}
    updated = dataclasses.replace(
        task,
        attachments=tuple(kept),
        containers=tuple(
            dataclasses.replace(c, network_interfaces=tuple(dict(i) for i in named[c.name]))
            if c.name in named
            else c
            for c in task.containers
        ),
    )
    return task if updated == task else updated


def _merged(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``old`` attachment updated by ``new``: reported fields and details win, the rest stay."""
    details = {d["name"]: dict(d) for d in old.get("details") or ()}
    details.update({d["name"]: dict(d) for d in new.get("details") or ()})
    merged = {**old, **new}
    if details:
        merged["details"] = list(details.values())
    return merged


def bump(task: Task) -> Task:
    return dataclasses.replace(task, version=task.version + 1)


# -- operations ---------------------------------------------------------------


def reported_task(
    store: Store, scope: Scope, cluster: str | None, task: str | None, reporter: str | None,
    pending: Mapping[str, Task] | None = None,
) -> Task:
    """The task a report names (as ``pending`` has it, if there), checked against the
    cluster and the reporting instance."""
    c = get_cluster(store, scope, cluster)
    if not task:
        raise InvalidParameterException("task must be specified.")
    found = find_task(store, scope, c, task)
    if found is None:
        raise InvalidParameterException("The referenced task was not found.")
    if pending:
        found = pending.get(found.task_arn, found)
    if reporter is not None and found.container_instance_arn != reporter:
        raise AccessDeniedException(
            "You do not have authorization to perform the requested action: the task "
            "is not placed on the container instance these credentials belong to."
        )
    return found


def _commit_if_changed(
    store: Store, before: Task, after: Task, pending: dict[str, Task] | None = None
) -> Task:
    """``after`` with its version bumped, committed (or put in ``pending``), if it differs."""
    if after is before:
        return before
    changed = bump(after)
    if pending is None:
        store.commit([changed])
    else:
        pending[changed.task_arn] = changed
    return changed


def _reports(raw: Sequence[Mapping[str, Any]] | None) -> tuple[ContainerReport, ...]:
    fields = {f.name for f in dataclasses.fields(ContainerReport)}
    out = []
    for r in raw or ():
        if not r.get("container_name"):
            raise InvalidParameterException("containerName must be specified for each container.")
        out.append(ContainerReport(**{k: v for k, v in r.items() if k in fields}))
    return tuple(out)


def submit_task_state_change(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    reporter: str | None,
    cluster: str | None = None,
    task: str | None = None,
    status: str | None = None,
    reason: str | None = None,
    containers: Sequence[Mapping[str, Any]] | None = None,
    attachments: Sequence[Mapping[str, Any]] | None = None,
    managed_agents: Sequence[Mapping[str, Any]] | None = None,
    pull_started_at: datetime | None = None,
    pull_stopped_at: datetime | None = None,
    execution_stopped_at: datetime | None = None,
    pending: dict[str, Task] | None = None,
) -> Task:
    found = reported_task(store, scope, cluster, task, reporter, pending)
    report = TaskReport(
        status=status,
        reason=reason,
        containers=_reports(containers),
        pull_started_at=pull_started_at,
        pull_stopped_at=pull_stopped_at,
        execution_stopped_at=execution_stopped_at,
    )
    after = apply_attachments(apply_report(found, report, now), attachments or ())
    return _commit_if_changed(store, found, after, pending)


def submit_container_state_change(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    reporter: str | None,
    cluster: str | None = None,
    task: str | None = None,
    container_name: str | None = None,
    runtime_id: str | None = None,
    status: str | None = None,
    exit_code: int | None = None,
    reason: str | None = None,
    network_bindings: Sequence[Any] | None = None,
    pending: dict[str, Task] | None = None,
) -> Task:
    found = reported_task(store, scope, cluster, task, reporter, pending)
    raw = dict(
        container_name=container_name,
        runtime_id=runtime_id,
        status=status,
        exit_code=exit_code,
        reason=reason,
        network_bindings=tuple(network_bindings) if network_bindings is not None else None,
    )
    after = apply_report(found, TaskReport(containers=_reports([raw])), now)
    return _commit_if_changed(store, found, after, pending)


def apply_attachments(task: Task, changes: Sequence[Mapping[str, Any]]) -> Task:
    """``task`` with the statuses of the attachments (by ARN or id) the agent reported."""
    by_id = {c["attachment_arn"].rsplit("/", 1)[-1]: c["status"] for c in changes}
    if not by_id or not any(a.get("id") in by_id for a in task.attachments):
        return task
    updated = dataclasses.replace(
        task,
        attachments=tuple(
            {**a, "status": by_id[a["id"]]} if a.get("id") in by_id else a
            for a in task.attachments
        ),
    )
    return task if updated == task else updated


def submit_attachment_state_changes(
    store: Store,
    scope: Scope,
    *,
    reporter: str | None,
    attachments: Sequence[Mapping[str, Any]],
    cluster: str | None = None,
) -> None:
    c = get_cluster(store, scope, cluster)
    ids = {a["attachment_arn"].rsplit("/", 1)[-1] for a in attachments}
    changed = []
    for t in store.children(Task.KIND, c.cluster_arn).values():
        if not any(a.get("id") in ids for a in t.attachments):
            continue
        if reporter is not None and t.container_instance_arn != reporter:
            raise AccessDeniedException(
                "You do not have authorization to perform the requested action."
            )
        after = apply_attachments(t, attachments)
        if after is not t:
            changed.append(bump(after))
    store.commit(changed)


def report_health(
    store: Store,
    instance_arn: str,
    task_arn: str,
    health_status: str,
    containers: Mapping[str, str] | None = None,
) -> Task | None:
    """Record health reported over an instance's session; None when the task is not its own."""
    found = store.get(Task.KIND, task_arn)
    if not isinstance(found, Task) or found.container_instance_arn != instance_arn:
        return None
    return _commit_if_changed(store, found, apply_health(found, health_status, containers))


def report_network(
    store: Store,
    instance_arn: str,
    task_arn: str,
    attachments: Sequence[Mapping[str, Any]],
    interfaces: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Task | None:
    """Record a task's network reported over its instance's session. A report that comes
    after the task stopped (the session and SubmitTaskStateChange race; a reconnecting agent
    replays its last messages) changes nothing: its interface is gone."""
    found = store.get(Task.KIND, task_arn)
    if not isinstance(found, Task) or found.container_instance_arn != instance_arn:
        return None
    if found.last_status == "STOPPED":
        return found
    return _commit_if_changed(store, found, apply_network(found, attachments, interfaces))
