"""The fast search for large batches: no scoring of every instance for every task.

Problem: placing 100,000 tasks on 5,000 instances by scoring every instance
for every task is 5·10^8 evaluations. Design: for the strategy shapes ECS's
documentation uses — spreads over attributes first, then binpack or
spread(instanceId) — the preferred instance can be found without a full scan.

* Leading ``spread(attribute:…)`` keys are per *bucket* (the instances sharing
  the attributes' values): all instances of a bucket have the same key, so
  the search orders a handful of buckets, not thousands of instances.
* The remaining keys (binpack's remaining cpu/memory, spread(instanceId)'s
  task count) belong to one instance and change only when that instance
  receives a task. Each bucket keeps its eligible instances in a list sorted
  by (keys…, rank); placing a task re-sorts one entry.
* Eligibility (status, agent, attributes, memberOf, distinctInstance) is
  evaluated once per instance per distinct request, and again only for the
  instance that just received a task (the only one whose task groups moved).
* Resources are checked while walking a bucket's list in preference order;
  with binpack first, the walk starts at the first instance with enough of
  the binpacked resource left (a bisection). Resources only shrink during a
  batch, so an instance found short of something for this request leaves the
  index for good: each instance is walked past at most once per placement it
  receives, and a full cluster fails fast instead of rescanning every time.

The result is the same instance the reference search (score all, narrow
strategy by strategy, lowest rank last) picks: the tests hold the two equal.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable
from dataclasses import dataclass

from portside.scheduler.model import TaskRequest
from portside.scheduler.node import Node
from portside.scheduler.scores import Binpack, Scorer, SpreadAttribute, SpreadInstance

Entry = tuple[int, ...]  # (instance keys…, rank, node index)


def indexable(scorers: tuple[Scorer, ...], random_tail: bool) -> bool:
    """True when the strategies have the shape this index serves."""
    if random_tail:
        return False
    seen_instance_key = False
    for s in scorers:
        if isinstance(s, SpreadAttribute):
            if seen_instance_key:
                return False
        else:
            seen_instance_key = True
    return True


@dataclass(slots=True)
class Found:
    node: Node | None
    examined: int
    skipped: dict[str, int]
    buckets: list[tuple[str, int]]


class Index:
    def __init__(
        self,
        nodes: list[Node],
        scorers: tuple[Scorer, ...],
        eligible: Callable[[Node], bool],
    ) -> None:
        self.nodes = nodes
        self.eligible = eligible
        self.spreads = [s for s in scorers if isinstance(s, SpreadAttribute)]
        self.keys: tuple[Binpack | SpreadInstance, ...] = tuple(
            s for s in scorers if not isinstance(s, SpreadAttribute)
        )
        first = self.keys[0] if self.keys else None
        self.binpack_first = first.field if isinstance(first, Binpack) else None
        self.buckets: dict[tuple[str | None, ...], list[Entry]] = {}
        self.bucket_of: list[tuple[str | None, ...]] = []
        self.entry_of: dict[int, Entry] = {}
        self.ineligible = 0
        self.exhausted: dict[int, str] = {}
        """Instances short of a resource this request needs, and which one."""
        self.exhausted_counts: dict[str, int] = {}
        self._names: dict[tuple[str | None, ...], str] = {}
        spread_attributes = [s.counts.attribute for s in self.spreads]
        for n in nodes:
            bucket = (
                tuple(n.state.attributes.get(a) for a in spread_attributes)
                if spread_attributes else ()
            )  # fmt: skip
            self.bucket_of.append(bucket)
            entries = self.buckets.setdefault(bucket, [])
            if eligible(n):
                entry = self._entry(n)
                entries.append(entry)
                self.entry_of[n.index] = entry
            else:
                self.ineligible += 1
        for entries in self.buckets.values():
            entries.sort()

    def _entry(self, n: Node) -> Entry:
        if len(self.keys) == 1:  # the common shape (one binpack), without a generator
            return (self.keys[0].key(n), n.rank, n.index)
        return (*(k.key(n) for k in self.keys), n.rank, n.index)

    def refresh(self, n: Node) -> None:
        """Re-file ``n`` after it received a task (its keys or eligibility may have moved)."""
        entries = self.buckets[self.bucket_of[n.index]]
        old = self.entry_of.pop(n.index, None)
        if old is not None:
            del entries[bisect_left(entries, old)]
        elif n.index not in self.exhausted:
            self.ineligible -= 1
        if n.index in self.exhausted:
            return
        if self.eligible(n):
            entry = self._entry(n)
            insort(entries, entry)
            self.entry_of[n.index] = entry
        else:
            self.ineligible += 1

    def find(self, req: TaskRequest) -> Found:
        """The preferred instance that fits ``req`` now, or None."""
        if self.spreads:
            ranked = sorted(
                (
                    (
                        tuple(
                            s.counts.by_value.get(v, 0)
                            for s, v in zip(self.spreads, b, strict=True)
                        ),
                        b,
                    )
                    for b, entries in self.buckets.items()
                    if entries
                ),
                key=_level,
            )
        else:
            ranked = [((), b) for b in self.buckets]
        start_need = 0
        if self.binpack_first == "cpu":
            start_need = req.cpu
        elif self.binpack_first == "memory":
            start_need = req.memory
        examined = 0
        skipped: dict[str, int] = {}
        i = 0
        while i < len(ranked):
            level = ranked[i][0]
            best: Entry | None = None
            while i < len(ranked) and ranked[i][0] == level:
                entries = self.buckets[ranked[i][1]]
                j = bisect_left(entries, (start_need,)) if self.binpack_first else 0
                while j < len(entries):
                    entry = entries[j]
                    if best is not None and entry >= best:
                        break
                    examined += 1
                    lack = self.nodes[entry[-1]].lacks(req)
                    if lack is None:
                        best = entry
                        break
                    skipped[lack] = skipped.get(lack, 0) + 1
                    del entries[j]
                    del self.entry_of[entry[-1]]
                    self.exhausted[entry[-1]] = lack
                    self.exhausted_counts[lack] = self.exhausted_counts.get(lack, 0) + 1
                i += 1
            if best is not None:
                return Found(self.nodes[best[-1]], examined, skipped, self._describe(ranked))
        return Found(None, examined, skipped, self._describe(ranked))

    def _describe(
        self, ranked: list[tuple[tuple[int, ...], tuple[str | None, ...]]]
    ) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for counts, bucket in ranked[:3]:
            if not self.spreads:
                break
            name = self._names.get(bucket)
            if name is None:
                name = self._names[bucket] = ",".join(
                    f"{s.counts.attribute}={v}" for s, v in zip(self.spreads, bucket, strict=True)
                )
            out.append((name, counts[0] if len(counts) == 1 else sum(counts)))
        return out


def _level(item: tuple[tuple[int, ...], tuple[str | None, ...]]) -> tuple[int, ...]:
    return item[0]
