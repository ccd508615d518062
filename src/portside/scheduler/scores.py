"""Score plugins: of the instances that fit, which does each strategy prefer?

Every scorer gives an integer key per instance, lower preferred; strategies
apply in order and each later one only breaks the ties of the earlier ones
(ECS: "strategies are applied in the order specified"). The formulas:

    binpack(cpu)     key = CPU units left on the instance      (least left wins)
    binpack(memory)  key = MiB left on the instance            (least left wins)
    spread(instanceId)       key = tasks of the task's group on the instance
    spread(attribute:NAME)   key = tasks of the group on all instances whose
                                   NAME has the same value as this one's
                                   (instances without NAME form one more value)
    random           no key: a seeded uniform choice among the remaining ties

Spread counts tasks of the same group only: a service's tasks spread over the
service's tasks, a standalone task over the tasks of its group (ECS's
"Service tasks are spread based on the tasks from that service").
"""

from __future__ import annotations

from dataclasses import dataclass

from portside.scheduler.model import Strategy
from portside.scheduler.node import Node


class SpreadCounts:
    """Tasks of one group per value of one attribute, over every instance of the snapshot."""

    __slots__ = ("attribute", "by_value", "group")

    def __init__(self, attribute: str, group: str, nodes: list[Node]) -> None:
        self.attribute = attribute
        self.group = group
        self.by_value: dict[str | None, int] = {}
        for n in nodes:
            value = n.state.attributes.get(attribute)
            self.by_value[value] = self.by_value.get(value, 0) + n.groups.get(group, 0)

    def placed(self, node: Node) -> None:
        value = node.state.attributes.get(self.attribute)
        self.by_value[value] = self.by_value.get(value, 0) + 1


@dataclass(frozen=True, slots=True)
class Binpack:
    """Least remaining ``field`` first: fills instances before opening new ones."""

    field: str  # cpu | memory

    @property
    def label(self) -> str:
        return f"binpack({self.field})"

    def key(self, node: Node) -> int:
        return node.cpu if self.field == "cpu" else node.memory


@dataclass(frozen=True, slots=True)
class SpreadInstance:
    """Fewest tasks of the group on the instance first."""

    group: str

    @property
    def label(self) -> str:
        return "spread(instanceId)"

    def key(self, node: Node) -> int:
        return node.groups.get(self.group, 0)


@dataclass(frozen=True, slots=True)
class SpreadAttribute:
    """Fewest tasks of the group on instances sharing the attribute's value first."""

    counts: SpreadCounts

    @property
    def label(self) -> str:
        return f"spread(attribute:{self.counts.attribute})"

    def key(self, node: Node) -> int:
        return self.counts.by_value.get(node.state.attributes.get(self.counts.attribute), 0)


Scorer = Binpack | SpreadInstance | SpreadAttribute


def scorers(
    strategies: tuple[Strategy, ...],
    group: str,
    counts: dict[tuple[str, str], SpreadCounts],
    nodes: list[Node],
) -> tuple[tuple[Scorer, ...], bool]:
    """The scorers for ``strategies`` up to the first ``random``, and whether one was there.

    ``counts`` is the batch's shared spread accounting, keyed by (attribute, group).
    """
    out: list[Scorer] = []
    for s in strategies:
        if s.type == "random":
            return tuple(out), True
        if s.type == "binpack":
            out.append(Binpack(s.field or "memory"))
        elif s.field == "instanceId":
            out.append(SpreadInstance(group))
        else:
            attribute = (s.field or "").removeprefix("attribute:")
            key = (attribute, group)
            if key not in counts:
                counts[key] = SpreadCounts(attribute, group, nodes)
            out.append(SpreadAttribute(counts[key]))
    return tuple(out), False
