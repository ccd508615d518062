"""Look up placement explanations: for a task, a service, or a cluster's last failed RunTask."""

from __future__ import annotations

from portside.domain.ecs.clusters import get_cluster
from portside.domain.ecs.placement_record import PlacementRecord, run_task_key
from portside.domain.ecs.services import find_service
from portside.domain.ecs.tasks import task_arn
from portside.domain.errors import InvalidParameterException
from portside.domain.scope import Scope
from portside.store.store import Store


def explain(store: Store, scope: Scope, cluster: str | None, subject: str | None) -> PlacementRecord:
    """The record for a task (id or ARN), a service (name or ARN), or the last RunTask."""
    c = get_cluster(store, scope, cluster)
    keys: list[str] = []
    if subject:
        svc = find_service(store, scope, cluster, subject)
        if svc is not None:
            keys.append(svc.service_arn)
        keys.append(task_arn(scope, c, subject))
    else:
        keys.append(run_task_key(c.cluster_arn))
    for key in keys:
        found = store.get(PlacementRecord.KIND, key)
        if isinstance(found, PlacementRecord):
            return found
    what = subject or "the last RunTask"
    raise InvalidParameterException(
        f"No placement explanation for {what} in cluster {c.cluster_name}: name a task id or "
        "ARN, or a service that has placed tasks."
    )
