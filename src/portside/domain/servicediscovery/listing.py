"""What the List operations share: filters with conditions, and NextToken pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from portside.domain.errors import InvalidParameterException
from portside.domain.pagination import paginate
from portside.domain.servicediscovery.errors import InvalidInput


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


T = TypeVar("T", bound=_Keyed)


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    values: tuple[str, ...]
    condition: str


@dataclass(frozen=True, slots=True)
class ListPage(Generic[T]):
    items: list[T]
    next_token: str | None


def check_filter(raw: Mapping[str, Any], allowed: Mapping[str, Sequence[str]]) -> Filter:
    """A filter whose condition suits its name and whose values suit its condition."""
    name = str(raw["name"])
    values = tuple(raw.get("values") or ())
    condition = str(raw.get("condition") or "EQ")
    conditions = allowed.get(name)
    if conditions is None:
        raise InvalidInput(f"{name} is not a filter for this operation.")
    if condition not in conditions:
        raise InvalidInput(
            f"The {name} filter takes the condition {' or '.join(conditions)}, not {condition}."
        )
    if not values:
        raise InvalidInput(f"The {name} filter needs at least one value.")
    if condition in ("EQ", "BEGINS_WITH") and len(values) != 1:
        raise InvalidInput(f"The {condition} condition takes exactly one value.")
    if condition == "BETWEEN" and len(values) != 2:
        raise InvalidInput("The BETWEEN condition takes a start and an end value.")
    return Filter(name, values, condition)


def matches_text(value: str, f: Filter) -> bool:
    if f.condition == "BEGINS_WITH":
        return value.startswith(f.values[0])
    return value in f.values


def page(items: Sequence[T], next_token: str | None, max_results: int | None) -> ListPage[T]:
    """One page of ``items`` (already in listing order), up to 100 by default."""
    by_key = {item.key: item for item in items}
    try:
        keys = paginate(list(by_key), next_token, max_results)
    except InvalidParameterException as exc:
        raise InvalidInput(exc.message.replace("nextToken", "NextToken")) from None
    return ListPage([by_key[k] for k in keys.items], keys.next_token)
