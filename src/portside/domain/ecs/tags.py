"""Resource tags as ECS validates them: at most 50, keys 1-128, values 0-256, no ``aws:``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from portside.domain.errors import InvalidParameterException

MAX_TAGS = 50


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str = ""


def parse_tags(raw: Iterable[Mapping[str, Any]] | None) -> tuple[Tag, ...]:
    """Validated tags from request parameters (``[{key, value}]``)."""
    if not raw:
        return ()
    tags = [Tag(t.get("key", ""), t.get("value", "")) for t in raw]
    check_tags(tags)
    return tuple(tags)


def check_tags(tags: Iterable[Tag]) -> None:
    tags = list(tags)
    seen: set[str] = set()
    for tag in tags:
        if not 1 <= len(tag.key) <= 128:
            raise InvalidParameterException("Tag keys must be between 1 and 128 characters.")
        if len(tag.value) > 256:
            raise InvalidParameterException("Tag values must be at most 256 characters.")
        if tag.key.lower().startswith("aws:"):
            raise InvalidParameterException(
                f"Tag key {tag.key!r} uses the reserved prefix 'aws:'."
            )
        seen.add(tag.key)
    if len(seen) > MAX_TAGS:
        raise InvalidParameterException(f"A resource can have at most {MAX_TAGS} tags.")
    from portside.domain.ecs.service_connect_policy import check_policy_tags

    check_policy_tags(tags)  # portside:outlier.* / portside:retry.* (Service Connect)


def merge_tags(old: Iterable[Tag], new: Iterable[Tag]) -> tuple[Tag, ...]:
    """``old`` with ``new`` added or overwriting keys (TagResource)."""
    merged = {t.key: t for t in old}
    for t in new:
        merged[t.key] = t
    tags = tuple(merged.values())
    check_tags(tags)
    return tags


def drop_tags(old: Iterable[Tag], keys: Iterable[str]) -> tuple[Tag, ...]:
    gone = set(keys)
    return tuple(t for t in old if t.key not in gone)
