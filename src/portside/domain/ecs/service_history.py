"""Service deployment operations: ListServiceDeployments, DescribeServiceDeployments,
DescribeServiceRevisions, StopServiceDeployment.

The records themselves are written beside the service by every operation and
controller pass that changes its deployments (controllers/deployment_history.py);
these operations read them, and StopServiceDeployment asks the service controller
to roll a deployment back (it marks the deployment; the controller starts the
rollback, as the circuit breaker's own rollbacks are started).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from portside.aws.arn import parse_arn
from portside.controllers.deployment_history import KEEP_FOR, track
from portside.controllers.deployments import is_rollback
from portside.domain.ecs.clusters import get_cluster
from portside.domain.ecs.model import Failure
from portside.domain.ecs.service import Service
from portside.domain.ecs.service_deployment import (
    FINISHED,
    ServiceDeployment,
    ServiceRevision,
)
from portside.domain.ecs.services import find_service
from portside.domain.errors import (
    ConflictException,
    InvalidParameterException,
    ServiceDeploymentNotFoundException,
    ServiceNotFoundException,
)
from portside.domain.pagination import paginate
from portside.domain.scope import Scope
from portside.store.store import Store

MAX_DESCRIBE = 20
CONTINUING = frozenset({"STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})


def list_service_deployments(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    service: str,
    cluster: str | None = None,
    status: Sequence[str] | None = None,
    created_at: Mapping[str, datetime] | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> tuple[list[ServiceDeployment], str | None]:
    """A service's deployments of the last 90 days, newest first, filtered by status and
    creation time (older ones are pruned when the service next deploys)."""
    get_cluster(store, scope, cluster)
    svc = find_service(store, scope, cluster, service)
    if svc is None or svc.status == "INACTIVE":
        raise ServiceNotFoundException("Service not found.")
    before = (created_at or {}).get("before")
    after = (created_at or {}).get("after")
    records = sorted(
        (
            r for r in store.children(ServiceDeployment.KIND, svc.service_arn).values()
            if (not r.finished or (r.finished_at or r.created_at) >= now - KEEP_FOR)
            and (not status or r.status in status)
            and (before is None or r.created_at < before)
            and (after is None or r.created_at > after)
        ),
        key=lambda r: r.created_at,
        reverse=True,
    )  # fmt: skip
    by_arn = {r.key: r for r in records}
    page = paginate(list(by_arn), next_token, max_results, default=20, limit=100)
    return [by_arn[a] for a in page.items], page.next_token


def describe_service_deployments(
    store: Store, scope: Scope, *, service_deployment_arns: Sequence[str]
) -> tuple[list[ServiceDeployment], list[Failure]]:
    return _describe(store, scope, ServiceDeployment.KIND, service_deployment_arns)


def describe_service_revisions(
    store: Store, scope: Scope, *, service_revision_arns: Sequence[str]
) -> tuple[list[ServiceRevision], list[Failure]]:
    return _describe(store, scope, ServiceRevision.KIND, service_revision_arns)


def _in_scope(scope: Scope, arn: str) -> bool:
    """Whether ``arn`` is of the caller's account and region (another region's is unknown)."""
    parsed = parse_arn(arn)
    return parsed is not None and (parsed.account, parsed.region) == (scope.account, scope.region)


def _describe(
    store: Store, scope: Scope, kind: str, arns: Sequence[str]
) -> tuple[list[Any], list[Failure]]:
    """The recorded resources, and a MISSING failure for each ARN that names none here."""
    if not arns:
        raise InvalidParameterException("At least one ARN must be given.")
    if len(arns) > MAX_DESCRIBE:
        raise InvalidParameterException(f"At most {MAX_DESCRIBE} ARNs can be described at once.")
    found: list[Any] = []
    failures: list[Failure] = []
    for arn in dict.fromkeys(arns):
        item = store.get(kind, arn) if _in_scope(scope, arn) else None
        if item is None:
            failures.append(Failure(arn=arn, reason="MISSING"))
        else:
            found.append(item)
    return found, failures


def stop_service_deployment(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    service_deployment_arn: str,
    stop_type: str | None = None,
) -> dict[str, str]:
    """Ask for an ongoing deployment to be rolled back to the service's previous revision.

    Developer Guide, "Stopping Amazon ECS service deployments": a PENDING or
    IN_PROGRESS deployment moves to ROLLBACK_REQUESTED and the rollback starts
    (even without the circuit breaker's rollback option); one already stopping
    or rolling back carries on; a finished one cannot be stopped.
    """
    if stop_type not in (None, "ROLLBACK"):
        raise InvalidParameterException("The only supported stopType is ROLLBACK.")
    rec = store.get(ServiceDeployment.KIND, service_deployment_arn) if _in_scope(
        scope, service_deployment_arn) else None
    if not isinstance(rec, ServiceDeployment):
        raise ServiceDeploymentNotFoundException(
            f"The service deployment {service_deployment_arn} does not exist."
        )
    answer = {"service_deployment_arn": rec.service_deployment_arn}
    if rec.status in CONTINUING:
        return answer
    if rec.status in FINISHED:
        raise ConflictException(
            f"The service deployment is {rec.status}: a finished deployment cannot be stopped."
        )
    svc = store.get(Service.KIND, rec.service_arn)
    primary = svc.primary if isinstance(svc, Service) and svc.status == "ACTIVE" else None
    if svc is None or primary is None or primary.id != rec.deployment_id:
        raise ConflictException("The service deployment is no longer the service's current one.")
    previous = [
        d for d in svc.deployments
        if d.id != primary.id and d.rollout_state == "COMPLETED" and not is_rollback(primary)
    ]  # fmt: skip
    if not previous:
        raise ConflictException(
            "The service has no previous service revision that completed to roll back to."
        )
    marked = tuple(
        dataclasses.replace(d, stop_requested=True, updated_at=now) if d.id == primary.id else d
        for d in svc.deployments
    )
    updated = dataclasses.replace(svc, deployments=marked)
    store.commit([updated, *track(store, updated, now)])
    return answer
