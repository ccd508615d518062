"""The service reconcile loop: decide for the services whose world changed, apply.

Level-triggered, after controller-runtime: the queue holds cluster ARNs only
(a store listener notes the cluster of every committed service, task, or
container instance) and each pass re-reads the store. A pass runs
``controllers.services.decide`` for every service of each noted cluster, and
for services whose last decision asked to be looked at again at a time now
passed (health check grace, start throttle, an agent's grace period, the six-
hourly steady-state event). Everything else is skipped, so a quiet cluster
costs nothing per tick.

Each decision is applied with one commit at the revision it was made at; the
commit itself notes the cluster again, and the next pass — which finds nothing
left to do once the service has converged — confirms it. Deciding and applying
run without an ``await`` in between, so on the single event loop a decision
cannot be overtaken; a ConflictError can only mean another process writes the
database, and the service is decided again on the next pass.

A pass also places the noted clusters' standalone tasks (RunTask's) that wait
in PROVISIONING for their capacity provider (controllers/standalone.py).

Settings (environment, until the control plane's Settings carry them):
``PORTSIDE_SERVICE_AGENT_GRACE`` (seconds an agent may be disconnected before
its service tasks are replaced elsewhere, default 300) and
``PORTSIDE_SERVICE_SETTLE`` (seconds a task without a health check must run
before it counts as healthy, ECS's 40).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from portside.api.app import App
from portside.aws.arn import parse_arn
from portside.controllers import standalone
from portside.controllers.services import decide
from portside.controllers.task_state import Policy
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.service import Service
from portside.runtime.apply import apply
from portside.store.store import Change, ConflictError, Delete, Store

log = logging.getLogger("portside.reconciler")

TICK_SECONDS = 1.0
RETRY_AFTER = timedelta(seconds=5)
"""When deciding for a service raised, try it again after this long."""
MAX_BUSY_PASSES = 50
"""Passes in a row that wrote something before the loop pauses for a tick (a safety net)."""
_WATCHED = frozenset({"service", "task", "container_instance", "cluster"})


def policy_from_env() -> Policy:
    base = Policy()
    grace = os.environ.get("PORTSIDE_SERVICE_AGENT_GRACE")
    settle = os.environ.get("PORTSIDE_SERVICE_SETTLE")
    return Policy(
        agent_grace=timedelta(seconds=float(grace)) if grace else base.agent_grace,
        settle=timedelta(seconds=float(settle)) if settle else base.settle,
    )


def cluster_of(change: Change) -> str | None:
    """The cluster ARN a committed change belongs to, if it is one the controller watches."""
    if isinstance(change, Delete):
        if change.kind not in _WATCHED:
            return None
        arn = parse_arn(change.key)
        if arn is None or len(arn.resource_path) < 1:
            return None
        if change.kind == "cluster":
            return change.key
        name = arn.resource_path[0]
        return f"arn:{arn.partition}:ecs:{arn.region}:{arn.account}:cluster/{name}"
    if change.KIND == Cluster.KIND:
        return change.key
    if change.KIND in _WATCHED:
        return change.parent
    return None


class Reconciler:
    """The work queue (dirty clusters, per-service timers) and one pass over it."""

    def __init__(
        self, store: Store, policy: Policy, clock: Callable[[], datetime] | None = None
    ):
        self.store = store
        self.policy = policy
        self.clock = clock or (lambda: datetime.now(UTC))
        self.dirty: set[str] = set(store.all(Cluster.KIND))
        self.timers: dict[str, datetime] = {}
        self.standalone: set[str] = set()
        """Dirty clusters whose waiting standalone tasks to place (controllers/standalone.py)."""
        self.wakeup = asyncio.Event()
        store.subscribe(self.note)

    def note(self, changes: Sequence[Change]) -> None:
        """Store listener: remember which clusters changed, and wake the loop."""
        for change in changes:
            cluster = cluster_of(change)
            if cluster is not None and cluster not in self.dirty:
                self.dirty.add(cluster)
                self.wakeup.set()

    def due(self, now: datetime) -> list[str]:
        """The services to decide for now: those of dirty clusters, and due timers."""
        clusters, self.dirty = self.dirty, set()
        self.standalone |= clusters
        arns: dict[str, None] = {}
        for c in clusters:
            for s in self.store.children(Service.KIND, c).values():
                if s.status != "INACTIVE":
                    arns[s.service_arn] = None
        for arn, at in list(self.timers.items()):
            if at <= now:
                del self.timers[arn]
                arns[arn] = None
        return list(arns)

    def run_once(self) -> int:
        """One pass; returns how many services had something written."""
        now = self.clock()
        written = 0
        for arn in self.due(now):
            written += self.reconcile(arn, now)
        clusters, self.standalone = self.standalone, set()
        for cluster in clusters:
            written += self.place_standalone(cluster)
        return written

    def place_standalone(self, cluster_arn: str) -> int:
        """Place the cluster's standalone tasks waiting in PROVISIONING that fit now."""
        try:
            revision = self.store.revision
            placed = standalone.decide(self.store, cluster_arn)
            if placed:
                self.store.commit(placed, expected_revision=revision)
            return 1 if placed else 0
        except ConflictError:
            self.dirty.add(cluster_arn)
        except Exception:
            log.exception("cluster %s: placing waiting tasks failed", cluster_arn)
        return 0

    def reconcile(self, service_arn: str, now: datetime) -> int:
        try:
            revision = self.store.revision
            decision = decide(self.store, service_arn, now, self.policy)
            if decision.wake_at is not None:
                self.timers[service_arn] = decision.wake_at
            else:
                self.timers.pop(service_arn, None)
            if decision.empty:
                return 0
            apply(self.store, decision, revision)
            return 1
        except ConflictError:
            log.warning("service %s: the store moved under the decision; deciding again", service_arn)
        except Exception:
            log.exception("service %s: reconciling failed", service_arn)
        self.timers[service_arn] = now + RETRY_AFTER
        return 0

    def next_timer(self) -> datetime | None:
        return min(self.timers.values(), default=None)


async def run(app: App, stop: asyncio.Event) -> None:
    """The component: a pass whenever a cluster changes, and at least every tick for timers."""
    rec = Reconciler(app.store, policy_from_env())
    app.extras["reconciler"] = rec
    busy = 0
    while not stop.is_set():
        rec.wakeup.clear()
        busy = busy + 1 if rec.run_once() else 0
        if rec.dirty and busy < MAX_BUSY_PASSES:
            await asyncio.sleep(0)  # our own commits noted clusters: confirm convergence now
            continue
        if busy >= MAX_BUSY_PASSES:
            log.warning("services still changing after %d passes in a row; pausing", busy)
            busy = 0
        timeout = TICK_SECONDS
        nxt = rec.next_timer()
        if nxt is not None:
            timeout = max(0.0, min(timeout, (nxt - rec.clock()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rec.wakeup.wait(), timeout)
