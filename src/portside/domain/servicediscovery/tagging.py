"""Tags on namespaces and services: TagResource, UntagResource, ListTagsForResource.

Cloud Map allows 50 tags per resource (TooManyTagsException past it); keys are
1 to 128 characters, values 0 to 256, and the ``aws:`` prefix is reserved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from portside.aws.arn import parse_arn
from portside.domain.scope import Scope
from portside.domain.servicediscovery.errors import (
    InvalidInput,
    ResourceNotFoundException,
    TooManyTagsException,
)
from portside.domain.servicediscovery.model import Tag
from portside.domain.servicediscovery.namespace import Namespace
from portside.domain.servicediscovery.refs import find_namespace, find_service
from portside.domain.servicediscovery.service import Service
from portside.store.store import Store

MAX_TAGS = 50


def parse_tags(raw: Iterable[Mapping[str, Any]] | None, resource_name: str) -> tuple[Tag, ...]:
    merged: dict[str, Tag] = {}
    for t in raw or ():
        tag = Tag(str(t["key"]), str(t.get("value", "")))
        if tag.key.lower().startswith("aws:"):
            raise InvalidInput(f"Tag key {tag.key!r} uses the reserved prefix 'aws:'.")
        merged[tag.key] = tag
    return _checked(merged.values(), resource_name)


def _checked(tags: Iterable[Tag], resource_name: str) -> tuple[Tag, ...]:
    out = tuple(tags)
    if len(out) > MAX_TAGS:
        raise TooManyTagsException(
            f"A resource can have at most {MAX_TAGS} tags.", resource_name=resource_name
        )
    return out


def _tagged(store: Store, scope: Scope, arn: str) -> Namespace | Service:
    parsed = parse_arn(arn)
    kind = parsed.resource_type if parsed is not None else ""
    found: Namespace | Service | None = None
    if kind == "namespace":
        found = find_namespace(store, scope, arn)
    elif kind == "service":
        found = find_service(store, scope, arn)
    if found is None:
        raise ResourceNotFoundException(f"Resource not found: {arn}")
    return found


def tag_resource(
    store: Store, scope: Scope, *, resource_arn: str, tags: Sequence[Mapping[str, Any]]
) -> None:
    target = _tagged(store, scope, resource_arn)
    merged = {t.key: t for t in target.tags}
    for t in parse_tags(tags, resource_arn):
        merged[t.key] = t
    store.commit([dataclasses.replace(target, tags=_checked(merged.values(), resource_arn))])


def untag_resource(
    store: Store, scope: Scope, *, resource_arn: str, tag_keys: Sequence[str]
) -> None:
    target = _tagged(store, scope, resource_arn)
    gone = set(tag_keys)
    store.commit([dataclasses.replace(target, tags=tuple(t for t in target.tags if t.key not in gone))])


def list_tags_for_resource(store: Store, scope: Scope, *, resource_arn: str) -> tuple[Tag, ...]:
    return _tagged(store, scope, resource_arn).tags
