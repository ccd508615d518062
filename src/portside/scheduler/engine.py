"""The placement engine: a batch of tasks onto a snapshot of container instances.

    place(instances, tasks, seed) -> PlacementResult

The pipeline for each task, in the order of the batch (each placement is
accounted before the next task is looked at):

1. Filter (filters.PIPELINE): status and launch type decide who takes part;
   then agent, required attributes, resources, distinctInstance, memberOf.
   The first filter to reject an instance gives its ECS reason.
2. Score (scores.scorers): the strategies in order, each breaking the ties
   of the one before; ECS's default when none is given (random for a
   standalone task, spread over zones then instances for a service).
3. Choose: the lowest key wins; remaining ties go to ``random`` if it is among
   the strategies, else to a rank drawn once per batch from the seed. The same
   snapshot, batch and seed always give the same placements.

Two searches implement steps 1-3 with identical results: the reference one
scores every instance (and so can trace every instance: small batches), and
index.Index, which serves large batches without a full scan. A task that fits
nowhere gets every instance's reason and the closest instance (the one that
got furthest through the filters), as ECS reports in ``failures`` and in
service events.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from portside.scheduler.filters import CONSTRAINTS, STAGE, STATIC
from portside.scheduler.index import Index, indexable
from portside.scheduler.model import (
    MISSING,
    NOT_CANDIDATES,
    InstanceState,
    Placement,
    PlacementFailure,
    TaskRequest,
)
from portside.scheduler.node import Node
from portside.scheduler.scores import Scorer, SpreadCounts, scorers
from portside.scheduler.trace import Decision, Rejection, Score, Trace

FULL_TRACE_LIMIT = 50_000
"""``trace="auto"`` traces every instance when tasks * instances stays under this."""


@dataclass(frozen=True, slots=True)
class PlacementResult:
    placements: tuple[Placement | None, ...]
    """Per task of the batch, where it goes, or None when it could not be placed."""
    trace: Trace
    instance_count: int = 0

    @property
    def failures(self) -> tuple[PlacementFailure, ...]:
        """For the tasks not placed: each instance once, with its reason when the first of
        them failed (ECS's ``failures``). Listed when asked: the service controller, which
        places often and into full clusters, reads only the trace."""
        return _failures(self.trace.decisions, self.instance_count)

    @property
    def placed(self) -> list[Placement]:
        return [p for p in self.placements if p is not None]

    @property
    def unplaced(self) -> list[int]:
        return [i for i, p in enumerate(self.placements) if p is None]


def place(
    instances: Sequence[InstanceState],
    tasks: Sequence[TaskRequest],
    seed: int | str = 0,
    *,
    trace: str = "auto",
) -> PlacementResult:
    """Place ``tasks`` in order on ``instances``; ``trace`` is auto, full or summary."""
    full = trace == "full" or (
        trace == "auto" and len(tasks) * max(len(instances), 1) <= FULL_TRACE_LIMIT
    )
    batch = _Batch(instances, seed, full)
    placements: list[Placement | None] = []
    decisions: list[Decision] = []
    for i, req in enumerate(tasks):
        placement, decision = batch.place_one(i, req)
        placements.append(placement)
        decisions.append(decision)
    labels = tuple(tuple(s.label for s in r.effective_strategies()) for r in batch.requests)
    return PlacementResult(tuple(placements), Trace(seed, labels, tuple(decisions)), len(instances))


class _Request:
    """Per distinct request: its scorers, cached static verdicts, and its index."""

    __slots__ = (
        "dynamic",
        "failed",
        "group",
        "index",
        "post",
        "pre",
        "random_tail",
        "req",
        "scorers",
        "static_counts",
        "sticky",
    )  # fmt: skip

    def __init__(self, batch: _Batch, req: TaskRequest) -> None:
        self.req = req
        self.group = req.group or ""
        self.scorers, self.random_tail = scorers(
            req.effective_strategies(), self.group, batch.counts, batch.nodes
        )
        # Static verdicts: filters before the resource check, and the static memberOf after it.
        self.pre: list[str | None] = []
        self.post: list[str | None] = []
        counts: dict[str, int] = {}
        checks = [(f.check, f.name == "MemberOf") for f in STATIC if f.applies(req)]
        for n in batch.nodes:
            pre = post = None
            for check, after_resources in checks:
                reason = check(req, n)
                if reason is not None:
                    if after_resources:
                        post = reason
                    else:
                        pre = reason
                    break
            self.pre.append(pre)
            self.post.append(post)
            if pre or post:
                r = pre or post or ""
                counts[r] = counts.get(r, 0) + 1
        self.static_counts = counts
        self.dynamic = any(
            c.type == "distinctInstance" or (c.query is not None and c.query.dynamic)
            for c in req.constraints
        )
        self.index: Index | None = None
        if not batch.full and indexable(self.scorers, self.random_tail):
            self.index = Index(batch.nodes, self.scorers, self.eligible)
        self.failed: tuple[int, Decision] | None = None
        self.sticky = not any(c.query is not None and c.query.dynamic for c in req.constraints)

    def eligible(self, n: Node) -> bool:
        """Passes every filter except resources (the index checks those while searching)."""
        if self.pre[n.index] or self.post[n.index]:
            return False
        return not self.dynamic or all(f.check(self.req, n) is None for f in CONSTRAINTS)

    def reason(self, n: Node) -> str | None:
        """The first filter's reason for ``n`` now, in pipeline order."""
        pre = self.pre[n.index]
        if pre is not None:
            return pre
        lack = n.lacks(self.req)
        if lack is not None:
            return lack
        for f in CONSTRAINTS:
            if f.name == "DistinctInstance":
                r = f.check(self.req, n)
                if r is not None:
                    return r
        post = self.post[n.index]
        if post is not None:
            return post
        for f in CONSTRAINTS:
            if f.name != "DistinctInstance":
                r = f.check(self.req, n)
                if r is not None:
                    return r
        return None


class _Batch:
    def __init__(self, instances: Sequence[InstanceState], seed: int | str, full: bool) -> None:
        self.rng = random.Random(seed)
        ranks = list(range(len(instances)))
        self.rng.shuffle(ranks)
        self.nodes = [Node(i, ranks[i], s) for i, s in enumerate(instances)]
        self.full = full
        self.counts: dict[tuple[str, str], SpreadCounts] = {}
        self._requests: dict[TaskRequest, _Request] = {}
        self.version = 0

    @property
    def requests(self) -> list[TaskRequest]:
        return list(self._requests)

    def place_one(self, i: int, req: TaskRequest) -> tuple[Placement | None, Decision]:
        r = self._requests.get(req)
        if r is None:
            r = self._requests[req] = _Request(self, req)
        if r.failed is not None and (r.failed[0] == self.version or r.sticky):
            # Placements only take resources and add tasks to groups, so a request that
            # fitted nowhere still fits nowhere (unless a task:group memberOf could now pass):
            # it fails at once, explained as when it first failed.
            return None, _renumber(r.failed[1], i)
        if r.index is not None:
            found = r.index.find(req)
            if found.node is None:
                return None, self._failure(i, r)
            node = found.node
            rejected = dict(r.static_counts)
            dynamic = r.index.ineligible - sum(r.static_counts.values())
            if dynamic:
                rejected["distinctInstance or task:group memberOf"] = dynamic
            for reason, n in r.index.exhausted_counts.items():
                rejected[reason] = rejected.get(reason, 0) + n
            decision = Decision(
                i, node.arn,
                rejected=tuple((k, v) for k, v in rejected.items() if v > 0),
                scores=(Score(node.arn, _keys(r.scorers, node)),),
                buckets=tuple(found.buckets), examined=found.examined, complete=False,
            )  # fmt: skip
        else:
            chosen, decision = self._reference(i, r)
            if chosen is None:
                return None, decision
            node = chosen
        return self._commit(i, r, node), decision

    def _commit(self, i: int, r: _Request, node: Node) -> Placement:
        reservation = node.reserve(r.req, r.group)
        self.version += 1
        for counts in self.counts.values():
            if counts.group == r.group:
                counts.placed(node)
        for other in self._requests.values():
            if other.index is not None:
                other.index.refresh(node)
        return Placement(i, node.arn, reservation)

    def _reference(self, i: int, r: _Request) -> tuple[Node | None, Decision]:
        """Score every instance: the definition of the choice, and the full trace."""
        candidates: list[Node] = []
        rejections: list[Rejection] = []
        counts: dict[str, int] = {}
        for n in self.nodes:
            reason = r.reason(n)
            if reason is None:
                candidates.append(n)
            else:
                counts[reason] = counts.get(reason, 0) + 1
                if self.full:
                    rejections.append(Rejection(n.arn, reason))
        if not candidates:
            return None, self._failure(i, r)
        scores = tuple(Score(n.arn, _keys(r.scorers, n)) for n in candidates) if self.full else ()
        for scorer in r.scorers:
            best = min(scorer.key(n) for n in candidates)
            candidates = [n for n in candidates if scorer.key(n) == best]
        chosen = self.rng.choice(candidates) if r.random_tail else min(candidates, key=_rank)
        if not self.full:
            scores = (Score(chosen.arn, _keys(r.scorers, chosen)),)
        decision = Decision(
            i, chosen.arn, rejected=tuple(counts.items()), rejections=tuple(rejections),
            scores=scores, examined=len(self.nodes),
        )  # fmt: skip
        return chosen, decision

    def _failure(self, i: int, r: _Request) -> Decision:
        """Every instance's reason, and the closest one (reused while it cannot change)."""
        rejections = []
        counts: dict[str, int] = {}
        closest: tuple[int, int, Rejection] | None = None
        for n in self.nodes:
            reason = r.reason(n) or MISSING
            rejection = Rejection(n.arn, reason)
            rejections.append(rejection)
            counts[reason] = counts.get(reason, 0) + 1
            if reason in NOT_CANDIDATES:
                continue
            rank = (STAGE.get(reason, 0), -n.rank)
            if closest is None or rank > closest[:2]:
                closest = (rank[0], rank[1], rejection)
        decision = Decision(
            i, None,
            reason=closest[2].reason if closest else MISSING,
            closest=closest[2] if closest else None,
            rejected=tuple(counts.items()), rejections=tuple(rejections),
            examined=len(self.nodes),
        )  # fmt: skip
        r.failed = (self.version, decision)
        return decision


def _renumber(d: Decision, i: int) -> Decision:
    return Decision(
        i, None, reason=d.reason, closest=d.closest, rejected=d.rejected,
        rejections=d.rejections, examined=d.examined,
    )  # fmt: skip


def _rank(n: Node) -> int:
    return n.rank


def _keys(scorers_: tuple[Scorer, ...], n: Node) -> tuple[tuple[str, int], ...]:
    return tuple((s.label, s.key(n)) for s in scorers_)


def _failures(decisions: Sequence[Decision], instance_count: int) -> tuple[PlacementFailure, ...]:
    seen: dict[tuple[str | None, str], PlacementFailure] = {}
    listed_already: set[int] = set()
    for d in decisions:
        if d.instance_arn is not None:
            continue
        if id(d.rejections) in listed_already:
            continue  # a renumbered repeat of a failure already listed (_renumber)
        listed_already.add(id(d.rejections))
        listed = [x for x in d.rejections if x.reason not in NOT_CANDIDATES]
        if not listed:
            detail = (
                "No Container Instances were found in your cluster."
                if instance_count == 0
                else "No ACTIVE container instance in the cluster can run this task."
            )
            seen.setdefault((None, MISSING), PlacementFailure(None, MISSING, detail))
        for x in listed:  # one entry per instance: its reason when a task first failed
            seen.setdefault((x.instance_arn, ""), PlacementFailure(x.instance_arn, x.reason))
    return tuple(seen.values())
