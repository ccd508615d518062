"""TagResource, UntagResource and ListTagsForResource, for every taggable ECS resource.

The resource type in the ARN picks the store kind; every taggable resource is
stored under its ARN and carries a ``tags`` tuple, so tagging is one
``dataclasses.replace`` and one commit whatever the resource is.

As ECS does: services, tasks and container instances must be named by their
long ARN (``service/CLUSTER/NAME``); a resource whose cluster does not exist
is ClusterNotFoundException, one whose cluster is INACTIVE (including an
INACTIVE cluster itself) is InvalidParameterException.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from portside.aws.arn import Arn, parse_arn
from portside.domain.ecs.tags import Tag, drop_tags, merge_tags, parse_tags
from portside.domain.errors import (
    ClusterNotFoundException,
    InvalidParameterException,
    ResourceNotFoundException,
)
from portside.domain.scope import Scope
from portside.store.store import Store

# ARN resource type -> (store kind, whether the ARN's first path part is its cluster)
TAGGABLE: dict[str, tuple[str, bool]] = {
    "cluster": ("cluster", False),
    "service": ("service", True),
    "task": ("task", True),
    "container-instance": ("container_instance", True),
    "task-definition": ("task_definition", False),
    "capacity-provider": ("capacity_provider", False),
    "task-set": ("task_set", True),
}

_INACTIVE = "The specified cluster is inactive. Specify an active cluster and try again."


def _parse(resource_arn: str) -> tuple[Arn, str, bool]:
    arn = parse_arn(resource_arn)
    if arn is None or arn.service != "ecs" or arn.resource_type not in TAGGABLE:
        raise InvalidParameterException(
            f"The ARN {resource_arn!r} does not name a taggable Amazon ECS resource: a "
            "capacity provider, cluster, container instance, service, task, task "
            "definition or task set."
        )
    kind, in_cluster = TAGGABLE[arn.resource_type]
    if not arn.resource_path or not all(arn.resource_path):
        raise InvalidParameterException(f"The ARN {resource_arn!r} is not valid.")
    if in_cluster and len(arn.resource_path) < 2:
        raise InvalidParameterException("Long arn format must be used for tagging operations")
    return arn, kind, in_cluster


def _check_cluster(store: Store, arn: str) -> None:
    cluster = store.get("cluster", arn)
    if cluster is None:
        raise ClusterNotFoundException("Cluster not found.")
    if cluster.status != "ACTIVE":
        raise InvalidParameterException(_INACTIVE)


def find_taggable(store: Store, scope: Scope, resource_arn: str) -> tuple[str, Any]:
    """The kind and the stored resource an ARN names, or the ECS error for why not."""
    from portside.domain.kinds import KINDS

    arn, kind, in_cluster = _parse(resource_arn)
    if kind == "cluster" or in_cluster:
        cluster = Arn(
            "ecs", arn.region, arn.account, f"cluster/{arn.resource_path[0]}", arn.partition
        )
        _check_cluster(store, str(cluster))
    found = store.get(kind, resource_arn) if kind in KINDS else None
    if found is None:
        raise ResourceNotFoundException("The specified resource could not be found.")
    return kind, found


def tag_resource(
    store: Store, scope: Scope, *, resource_arn: str, tags: Sequence[Mapping[str, Any]]
) -> None:
    _, resource = find_taggable(store, scope, resource_arn)
    merged = merge_tags(resource.tags, parse_tags(tags))
    store.commit([dataclasses.replace(resource, tags=merged)])


def untag_resource(
    store: Store, scope: Scope, *, resource_arn: str, tag_keys: Sequence[str]
) -> None:
    _, resource = find_taggable(store, scope, resource_arn)
    kept = drop_tags(resource.tags, tag_keys)
    if kept != resource.tags:
        store.commit([dataclasses.replace(resource, tags=kept)])


def list_tags_for_resource(store: Store, scope: Scope, *, resource_arn: str) -> list[Tag]:
    _, resource = find_taggable(store, scope, resource_arn)
    return list(resource.tags)
