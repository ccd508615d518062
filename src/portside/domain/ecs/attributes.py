"""Attributes on container instances: PutAttributes, ListAttributes, DeleteAttributes.

ECS's rules (API reference, Attribute): a name is 1-128 letters, digits,
hyphens, underscores, forward or back slashes and periods; a value is 1-128
of those plus at signs, colons and spaces, and cannot start or end with a
space. A resource carries at most 10 *custom* attributes
(AttributeLimitExceededException); the built-in ones ECS and its agent set at
registration (``ecs.*``, ``com.amazonaws.ecs.*``) do not count, and portside
does not let PutAttributes or DeleteAttributes change them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from portside.aws.arn import is_arn
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.clusters import get_cluster
from portside.domain.ecs.container_instance import Attribute, ContainerInstance
from portside.domain.errors import (
    AttributeLimitExceededException,
    InvalidParameterException,
    TargetNotFoundException,
)
from portside.domain.pagination import paginate
from portside.domain.scope import Scope
from portside.store.store import Store

MAX_CUSTOM = 10
MAX_PER_CALL = 10
TARGET_TYPE = "container-instance"
_NAME = re.compile(r"^[A-Za-z0-9_./\\-]{1,128}$")
_VALUE = re.compile(r"^[A-Za-z0-9_./\\@: -]{1,128}$")
_BUILTIN = ("ecs.", "com.amazonaws.ecs.")


def is_builtin(name: str) -> bool:
    return name.startswith(_BUILTIN)


def check_attribute(name: str, value: str | None) -> None:
    if not _NAME.match(name):
        raise InvalidParameterException(
            f"Attribute name {name!r} is not valid: use 1-128 letters, numbers, hyphens, "
            "underscores, forward slashes, back slashes or periods."
        )
    if value is not None and (
        not _VALUE.match(value) or value.startswith(" ") or value.endswith(" ")
    ):
        raise InvalidParameterException(
            f"Attribute value {value!r} is not valid: use 1-128 letters, numbers, hyphens, "
            "underscores, periods, at signs, forward slashes, back slashes, colons or spaces, "
            "not starting or ending with a space."
        )


def to_attributes(raw: Iterable[Mapping[str, Any]]) -> list[Attribute]:
    return [
        Attribute(a["name"], a.get("value"), a.get("target_type"), a.get("target_id")) for a in raw
    ]


def _target(store: Store, scope: Scope, cluster: Cluster, a: Attribute) -> ContainerInstance:
    if not a.target_id:
        raise InvalidParameterException(f"Attribute {a.name!r} needs a targetId.")
    if is_arn(a.target_id):
        arn = a.target_id
    elif a.target_type == TARGET_TYPE:
        arn = scope.ecs(f"container-instance/{cluster.cluster_name}/{a.target_id}")
    else:
        raise InvalidParameterException("targetType is required when targetId is not a full ARN.")
    found = store.get(ContainerInstance.KIND, arn)
    if (
        not isinstance(found, ContainerInstance)
        or found.cluster_arn != cluster.cluster_arn
        or not found.registered
    ):
        raise TargetNotFoundException(
            f"Could not find target {a.target_id} in cluster {cluster.cluster_name}."
        )
    return found


def _batch(
    store: Store, scope: Scope, cluster: str | None, attributes: Sequence[Mapping[str, Any]]
) -> tuple[list[tuple[Attribute, ContainerInstance]], dict[str, ContainerInstance]]:
    c = get_cluster(store, scope, cluster)
    if len(attributes) > MAX_PER_CALL:
        raise InvalidParameterException(
            f"You can specify up to {MAX_PER_CALL} attributes in a single call."
        )
    pairs = []
    for a in to_attributes(attributes):
        check_attribute(a.name, a.value)
        if is_builtin(a.name):
            raise InvalidParameterException(
                f"Attribute {a.name!r} is set by Amazon ECS and cannot be changed."
            )
        pairs.append((a, _target(store, scope, c, a)))
    return pairs, {i.container_instance_arn: i for _, i in pairs}


def put_attributes(
    store: Store, scope: Scope, *, cluster: str | None = None,
    attributes: Sequence[Mapping[str, Any]],
) -> list[Attribute]:  # fmt: skip
    """Create or replace attributes; the whole call applies, or none of it."""
    pairs, targets = _batch(store, scope, cluster, attributes)
    current = {arn: {a.name: a for a in i.attributes} for arn, i in targets.items()}
    out = []
    for a, inst in pairs:
        arn = inst.container_instance_arn
        current[arn][a.name] = Attribute(a.name, a.value)
        out.append(Attribute(a.name, a.value, TARGET_TYPE, arn))
    for arn, attrs in current.items():
        if sum(1 for name in attrs if not is_builtin(name)) > MAX_CUSTOM:
            raise AttributeLimitExceededException(
                f"You can apply up to {MAX_CUSTOM} custom attributes for each resource; "
                f"{arn} would have more."
            )
    store.commit([_with(targets[arn], attrs.values()) for arn, attrs in current.items()])
    return out


def delete_attributes(
    store: Store, scope: Scope, *, cluster: str | None = None,
    attributes: Sequence[Mapping[str, Any]],
) -> list[Attribute]:  # fmt: skip
    pairs, targets = _batch(store, scope, cluster, attributes)
    current = {arn: {a.name: a for a in i.attributes} for arn, i in targets.items()}
    out = []
    for a, inst in pairs:
        arn = inst.container_instance_arn
        old = current[arn].pop(a.name, None)
        out.append(Attribute(a.name, old.value if old else a.value, TARGET_TYPE, arn))
    store.commit([_with(targets[arn], attrs.values()) for arn, attrs in current.items()])
    return out


def _with(inst: ContainerInstance, attrs: Iterable[Attribute]) -> ContainerInstance:
    return dataclasses.replace(inst, attributes=tuple(attrs), version=inst.version + 1)


def list_attributes(
    store: Store,
    scope: Scope,
    *,
    cluster: str | None = None,
    target_type: str,
    attribute_name: str | None = None,
    attribute_value: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> tuple[list[Attribute], str | None]:
    """Every attribute of the cluster's instances (built-in ones too), optionally one name."""
    c = get_cluster(store, scope, cluster)
    if attribute_value is not None and attribute_name is None:
        raise InvalidParameterException("attributeValue can only be used with attributeName.")
    found: dict[str, Attribute] = {}
    from portside.domain.ecs.fargate import is_pool

    for inst in store.children(ContainerInstance.KIND, c.cluster_arn).values():
        if not inst.registered or is_pool(inst):
            continue
        for a in inst.attributes:
            if attribute_name is not None and a.name != attribute_name:
                continue
            if attribute_value is not None and a.value != attribute_value:
                continue
            key = f"{inst.container_instance_arn}|{a.name}"
            found[key] = Attribute(a.name, a.value, TARGET_TYPE, inst.container_instance_arn)
    page = paginate(list(found), next_token, max_results)
    return [found[k] for k in page.items], page.next_token
