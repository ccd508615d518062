"""A service's deployment history, kept in step with its deployments.

    track(snapshot, svc, now, acting) -> [changes]

Pure, like the controllers: given the service as it is about to be written
(by an operation — CreateService, UpdateService, DeleteService,
StopServiceDeployment — or by the service controller), it returns the service
deployment records and service revisions to write with it. The records are
level based: each pass derives an ongoing record's status from the service's
deployments, so a repeated pass writes nothing new.

How a deployment of DescribeServices maps to its service deployment:

- a new PRIMARY deployment gets a record, PENDING until the controller first
  acts on it (``acting``), then IN_PROGRESS; its source revisions are the
  deployments still ACTIVE when it started;
- rolloutState COMPLETED -> SUCCESSFUL;
- FAILED with no rollback (circuit breaker without ``rollback``, or nothing to
  roll back to) -> STOPPED, with the breaker's reason;
- a rollback deployment (circuit breaker or StopServiceDeployment) is not a
  service deployment of its own: the failed one's record becomes
  ROLLBACK_IN_PROGRESS, names the rollback's revision in ``rollback``, and ends
  ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED with it;
- a deployment replaced by a newer one before it finished, or whose service is
  deleted, -> STOPPED.

History is bounded like ECS's (90 days): finished records older than
:data:`KEEP_FOR`, and beyond the newest :data:`KEEP_LAST` of a service, are
deleted when a new one is recorded, with the revisions nothing kept names. A
service that becomes INACTIVE (deleted) loses its history, as in ECS.
Services deployed before portside recorded history have none until their next
deployment (ECS likewise has none before October 2024).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta

from portside.controllers.deployments import (
    FAILED_REASON,
    Breaker,
    is_rollback,
    rollback_id,
)
from portside.controllers.fenceposts import failure_threshold
from portside.controllers.snapshot import Snapshot
from portside.domain.ecs.service import Deployment, Service
from portside.domain.ecs.service_deployment import (
    CircuitBreakerState,
    RevisionSummary,
    Rollback,
    ServiceDeployment,
    ServiceRevision,
    deployment_arn,
    revision_arn,
)
from portside.domain.ecs.task_definition import TaskDefinition
from portside.store.store import Change, Delete

KEEP_FOR = timedelta(days=90)
KEEP_LAST = 100
SUPERSEDED = "A new service deployment started before this one finished."
DELETED = "The service was deleted."
BREAKER_ROLLBACK = "The deployment circuit breaker detected a failure: rolling back."
STOP_ROLLBACK = "StopServiceDeployment requested a rollback."


def track(snapshot: Snapshot, svc: Service, now: datetime, acting: bool = False) -> list[Change]:
    """The history records and revisions to write with ``svc`` (see the module docstring)."""
    records: Mapping[str, ServiceDeployment] = snapshot.children(
        ServiceDeployment.KIND, svc.service_arn
    )
    if svc.status == "INACTIVE":
        return _forget(snapshot, svc, records)
    by_deployment = {r.deployment_id: r for r in records.values()}
    out: list[ServiceDeployment] = []
    primary = svc.primary
    # operations start deployments (and their records); the controller only advances them
    if (
        not acting and primary is not None and primary.id not in by_deployment
        and not is_rollback(primary)
    ):  # fmt: skip
        out.append(_new_record(svc, primary, now))
    deployments = {d.id: d for d in svc.deployments}
    for rec in (*out, *by_deployment.values()):
        if rec.finished:
            continue
        updated = _advance(svc, deployments, rec, now, acting)
        if updated != rec:
            out = [r for r in out if r.key != rec.key]
            out.append(dataclasses.replace(updated, updated_at=now))
    changes: list[Change] = [*out, *_revisions(snapshot, svc, out)]
    if any(r.key not in records for r in out):
        changes += _prune(snapshot, svc, {**records, **{r.key: r for r in out}}, now)
    return changes


def _new_record(svc: Service, d: Deployment, now: datetime) -> ServiceDeployment:
    sources = [s for s in svc.deployments if s.id != d.id and s.status == "ACTIVE"]
    return ServiceDeployment(
        service_deployment_arn=deployment_arn(svc.service_arn, d.id),
        service_arn=svc.service_arn,
        cluster_arn=svc.cluster_arn,
        deployment_id=d.id,
        created_at=d.created_at,
        updated_at=now,
        target_service_revision=_summary(svc, d),
        source_service_revisions=tuple(_summary(svc, s) for s in sources),
        source_deployment_ids=tuple(s.id for s in sources),
        deployment_configuration=svc.deployment_configuration,
    )


def _summary(svc: Service, d: Deployment) -> RevisionSummary:
    return RevisionSummary(
        arn=revision_arn(svc.service_arn, d.id),
        requested_task_count=d.desired_count,
        running_task_count=d.running_count,
        pending_task_count=d.pending_count,
    )


def _advance(
    svc: Service, deps: Mapping[str, Deployment], rec: ServiceDeployment, now: datetime,
    acting: bool,
) -> ServiceDeployment:  # fmt: skip
    """An ongoing record as the service's deployments say it is now."""
    d = deps.get(rec.deployment_id)
    back = deps.get(rollback_id(rec.deployment_id))
    changes: dict[str, object] = {}
    if d is not None:
        changes["target_service_revision"] = _summary(svc, d)
        changes["deployment_circuit_breaker"] = _breaker(svc, d, back)
    changes["source_service_revisions"] = tuple(
        _summary(svc, deps[s]) if s in deps
        else dataclasses.replace(src, running_task_count=0, pending_task_count=0)
        for s, src in zip(rec.source_deployment_ids, rec.source_service_revisions, strict=True)
    )  # fmt: skip
    status, reason = _status(svc, d, back, rec, acting)
    changes.update(status=status, status_reason=reason)
    if status != "PENDING" and rec.started_at is None:
        changes["started_at"] = now
    if back is not None and rec.rollback is None:
        why = STOP_ROLLBACK if d is not None and d.stop_requested else BREAKER_ROLLBACK
        changes["rollback"] = Rollback(why, back.created_at, revision_arn(svc.service_arn, back.id))
    if status in ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"):
        changes["finished_at"] = now
        if status == "STOPPED":
            changes["stopped_at"] = now
    return dataclasses.replace(rec, **changes)  # type: ignore[arg-type]


def _status(
    svc: Service, d: Deployment | None, back: Deployment | None, rec: ServiceDeployment,
    acting: bool,
) -> tuple[str, str | None]:  # fmt: skip
    if svc.status != "ACTIVE":
        return "STOPPED", DELETED
    if back is not None:
        if back.rollout_state == "COMPLETED":
            return "ROLLBACK_SUCCESSFUL", rec.status_reason
        if back.rollout_state == "FAILED":
            return "ROLLBACK_FAILED", back.rollout_state_reason
        if back.status != "PRIMARY":
            return "STOPPED", SUPERSEDED
        return "ROLLBACK_IN_PROGRESS", d.rollout_state_reason if d else rec.status_reason
    if d is None:
        return "STOPPED", SUPERSEDED
    if d.rollout_state == "COMPLETED":
        return "SUCCESSFUL", d.rollout_state_reason
    if d.rollout_state == "FAILED":
        return "STOPPED", d.rollout_state_reason or FAILED_REASON
    if d.status != "PRIMARY":
        return "STOPPED", SUPERSEDED
    if d.stop_requested:
        return "ROLLBACK_REQUESTED", STOP_ROLLBACK
    if rec.status == "PENDING" and not acting:
        return "PENDING", None
    return "IN_PROGRESS", d.rollout_state_reason


def _breaker(svc: Service, d: Deployment, back: Deployment | None) -> CircuitBreakerState:
    b = Breaker.of(svc.deployment_configuration.deployment_circuit_breaker)
    if not b.enable:
        return CircuitBreakerState()
    if d.rollout_state == "FAILED" and d.rollout_state_reason == FAILED_REASON:
        status = "TRIGGERED"
    elif d.rollout_state == "IN_PROGRESS":
        status = "MONITORING"
    else:
        status = "MONITORING_COMPLETE"
    return CircuitBreakerState(
        status=status,
        failure_count=d.failed_tasks,
        threshold=failure_threshold(d.desired_count, b.threshold_type, b.threshold_value),
    )


def _revisions(
    snapshot: Snapshot, svc: Service, records: list[ServiceDeployment]
) -> list[ServiceRevision]:
    """The revisions ``records`` name that are not written yet (the deployments' settings)."""
    by_arn = {revision_arn(svc.service_arn, d.id): d for d in svc.deployments}
    wanted: dict[str, None] = {}
    for r in records:
        for s in (r.target_service_revision, *r.source_service_revisions):
            if s is not None:
                wanted[s.arn] = None
        if r.rollback is not None:
            wanted[r.rollback.service_revision_arn] = None
    return [
        _revision(snapshot, svc, by_arn[arn]) for arn in wanted
        if arn in by_arn and snapshot.get(ServiceRevision.KIND, arn) is None
    ]  # fmt: skip


def _revision(snapshot: Snapshot, svc: Service, d: Deployment) -> ServiceRevision:
    td = snapshot.get(TaskDefinition.KIND, d.task_definition)
    images = tuple(
        {"container_name": c.get("name"), "image": c.get("image")}
        for c in (td.container_definitions if isinstance(td, TaskDefinition) else ())
    )
    return ServiceRevision(
        service_revision_arn=revision_arn(svc.service_arn, d.id),
        service_arn=svc.service_arn,
        cluster_arn=svc.cluster_arn,
        task_definition=d.task_definition,
        created_at=d.created_at,
        launch_type=d.launch_type,
        capacity_provider_strategy=d.capacity_provider_strategy,
        platform_version=d.platform_version,
        platform_family=svc.platform_family,
        load_balancers=svc.load_balancers,
        service_registries=svc.service_registries,
        network_configuration=d.network_configuration,
        container_images=images,
        service_connect_configuration=d.service_connect_configuration,
    )


def _prune(
    snapshot: Snapshot, svc: Service, records: Mapping[str, ServiceDeployment], now: datetime
) -> list[Change]:
    """Deletes for the records past :data:`KEEP_FOR` or :data:`KEEP_LAST`, and their revisions."""
    newest = sorted(records.values(), key=lambda r: r.created_at, reverse=True)
    gone = [
        r for i, r in enumerate(newest)
        if r.finished and (i >= KEEP_LAST or (r.finished_at or r.created_at) < now - KEEP_FOR)
    ]  # fmt: skip
    if not gone:
        return []
    kept = [r for r in newest if r not in gone]
    named = {revision_arn(svc.service_arn, d.id) for d in svc.deployments}
    for r in kept:
        named.update(s.arn for s in (r.target_service_revision, *r.source_service_revisions) if s)
        if r.rollback is not None:
            named.add(r.rollback.service_revision_arn)
    revisions = snapshot.children(ServiceRevision.KIND, svc.service_arn)
    return [
        *(Delete(ServiceDeployment.KIND, r.key) for r in gone),
        *(Delete(ServiceRevision.KIND, arn) for arn in revisions if arn not in named),
    ]


def _forget(
    snapshot: Snapshot, svc: Service, records: Mapping[str, ServiceDeployment]
) -> list[Change]:
    """A deleted service's history, deleted with it."""
    revisions = snapshot.children(ServiceRevision.KIND, svc.service_arn)
    return [
        *(Delete(ServiceDeployment.KIND, key) for key in records),
        *(Delete(ServiceRevision.KIND, key) for key in revisions),
    ]
