"""Capacity provider strategy: base first, then weight (ECS's documented examples)."""

from __future__ import annotations

import pytest

from portside.domain.ecs.model import StrategyItem as S
from portside.domain.ecs.placement import split_by_strategy


@pytest.mark.parametrize(
    ("items", "count", "existing", "expected"),
    [
        # base 2 on A, then 1:1 -> A gets 2 + 4/2 = 4, B 2
        ([S("A", 1, 2), S("B", 1)], 6, {}, {"A": 4, "B": 2}),
        # ECS docs: weights 1 and 3 -> one of every four on A
        ([S("A", 1), S("B", 3)], 8, {}, {"A": 2, "B": 6}),
        # weight 0 providers get only their base
        ([S("A", 0, 3), S("B", 1)], 5, {}, {"A": 3, "B": 2}),
        # existing tasks count toward the split: A already has 4
        ([S("A", 1), S("B", 1)], 4, {"A": 4}, {"B": 4}),
    ],
)
def test_split(items: list[S], count: int, existing: dict[str, int], expected: dict[str, int]) -> None:
    got = split_by_strategy(items, count, existing)
    assert len(got) == count
    assert {p: got.count(p) for p in set(got)} == expected
