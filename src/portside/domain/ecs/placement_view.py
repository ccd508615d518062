"""The scheduler's snapshot of a cluster: each container instance and what is left on it.

RunTask, StartTask and the service controller call :func:`instance_states`
and hand the result to ``scheduler.engine.place``. What an instance has left
is its registered resources minus the reservations of its tasks that are not
STOPPED; its task groups count the tasks not meant to stop. Deregistered
(INACTIVE) instances are not part of the snapshot; DRAINING ones are, so the
engine can say why it passed them over. A Fargate pool node is not part of it
(``domain/ecs/fargate.py`` places on the pool).

Building the states reads every task of the cluster, and the service controller
asks on every pass that launches, each time after a few tasks changed. So the
states are kept per reader and cluster (:class:`_Incremental`) and brought up to
date by identity: resources are immutable, so a task or instance object seen
before holds what it held then, and only the instances whose tasks (or own
record) changed are recomputed. A reader that tells what it commits
(``subscribe``: the store, the simulator's state) names the tasks that changed,
so only those are compared; any other reader's tasks are all compared. The
result is the same as building from scratch.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import ContainerInstance, Usage, usage
from portside.domain.ecs.fargate import POOL_ATTRIBUTE
from portside.scheduler.model import InstanceState
from portside.store.store import Delete


class Reader(Protocol):
    """The part of the store (or a controller's snapshot) this needs."""

    def children(self, kind: str, parent: str) -> Mapping[str, Any]: ...


def instance_states(store: Reader, cluster: Cluster | str) -> list[InstanceState]:
    """Every registered instance of ``cluster`` (a Cluster or its ARN), in registration order."""
    arn = cluster if isinstance(cluster, str) else cluster.cluster_arn
    try:
        per_reader = _KEPT.get(store)
        if per_reader is None:
            per_reader = _KEPT[store] = _Clusters(store)
    except TypeError:  # a reader that cannot be weakly referenced: build from scratch
        return _Incremental().states(store, arn)
    kept = per_reader.get(arn)
    if kept is None:
        kept = per_reader[arn] = _Incremental(watched=per_reader.watched)
    return kept.states(store, arn)


class _Clusters(dict[str, "_Incremental"]):
    """One reader's clusters; told of every committed task when the reader can tell."""

    def __init__(self, store: Reader) -> None:
        super().__init__()
        subscribe = getattr(store, "subscribe", None)
        self.watched = subscribe is not None
        if subscribe is not None:
            subscribe(self.note)  # holds this object, not the reader: _KEPT stays weak

    def note(self, changes: Sequence[Any]) -> None:
        for c in changes:
            if isinstance(c, Delete):
                if c.kind == "task":
                    for kept in self.values():
                        kept.changed(c.key)
            elif getattr(c, "KIND", None) == "task":
                cluster = self.get(c.parent)
                if cluster is not None:
                    cluster.changed(c.key)


class _Incremental:
    """One cluster's instance states, updated from the tasks and instances that changed."""

    __slots__ = ("holders", "instances", "pending", "tasks", "used")

    def __init__(self, watched: bool = False) -> None:
        self.pending: set[str] | None = set() if watched else None
        """Keys of the tasks committed since the last sync (None: unknown, compare all);
        the first sync compares all in any case."""
        self.tasks: dict[str, Any] = {}
        """Task key -> the task object last accounted."""
        self.holders: dict[str, dict[str, Any]] = {}
        """Instance ARN -> the tasks holding resources on it, by key."""
        self.used: dict[str, Usage] = {}
        self.instances: dict[str, tuple[ContainerInstance, InstanceState]] = {}

    def changed(self, key: str) -> None:
        if self.pending is not None:
            self.pending.add(key)

    def states(self, store: Reader, arn: str) -> list[InstanceState]:
        tasks = store.children("task", arn)
        if self.pending is not None and self.instances:
            dirty = self._sync_changed(tasks, self.pending)
        else:
            dirty = self._sync_tasks(tasks)
        if self.pending is not None:
            self.pending = set()
        for inst_arn in dirty:
            held = self.holders.get(inst_arn)
            if held:
                self.used[inst_arn] = usage(held.values())[inst_arn]
            else:
                self.holders.pop(inst_arn, None)
                self.used.pop(inst_arn, None)
        out: list[InstanceState] = []
        fresh: dict[str, tuple[ContainerInstance, InstanceState]] = {}
        for inst in store.children(ContainerInstance.KIND, arn).values():
            if not (isinstance(inst, ContainerInstance) and inst.registered):
                continue
            key = inst.container_instance_arn
            kept = self.instances.get(key)
            if kept is None or kept[0] is not inst or key in dirty:
                if inst.has_attribute(POOL_ATTRIBUTE):
                    continue  # the Fargate pool is no EC2 capacity (domain/ecs/fargate.py)
                kept = (inst, instance_state(inst, self.used.get(key)))
            fresh[key] = kept
            out.append(kept[1])
        self.instances = fresh
        return out

    def _sync_tasks(self, tasks: Mapping[str, Any]) -> set[str]:
        """Account the tasks that changed; return the instances whose usage changed."""
        dirty: set[str] = set()
        seen = self.tasks
        for key, t in tasks.items():
            old = seen.get(key)
            if old is t:
                continue
            if old is not None:
                self._release(key, old, dirty)
            if t.holds_resources:
                self.holders.setdefault(t.container_instance_arn, {})[key] = t
                dirty.add(t.container_instance_arn)
            seen[key] = t
        if len(seen) != len(tasks):
            for key in [k for k in seen if k not in tasks]:
                self._release(key, seen.pop(key), dirty)
        return dirty

    def _sync_changed(self, tasks: Mapping[str, Any], keys: set[str]) -> set[str]:
        """:meth:`_sync_tasks` for the tasks committed since the last sync only."""
        dirty: set[str] = set()
        seen = self.tasks
        for key in keys:
            t = tasks.get(key)
            old = seen.get(key)
            if old is t:
                continue
            if old is not None:
                self._release(key, old, dirty)
            if t is None:
                del seen[key]
                continue
            if t.holds_resources:
                self.holders.setdefault(t.container_instance_arn, {})[key] = t
                dirty.add(t.container_instance_arn)
            seen[key] = t
        return dirty

    def _release(self, key: str, old: Any, dirty: set[str]) -> None:
        if old.holds_resources:
            self.holders.get(old.container_instance_arn, {}).pop(key, None)
            dirty.add(old.container_instance_arn)


_KEPT: weakref.WeakKeyDictionary[Any, _Clusters] = weakref.WeakKeyDictionary()
"""Per reader (the store, a snapshot), per cluster ARN: the states kept up to date."""


def instance_state(inst: ContainerInstance, used: Usage | None) -> InstanceState:
    """One instance as the scheduler (and the cluster query language) sees it."""
    u = used or Usage()
    slots = inst.eni_slots
    return InstanceState(
        arn=inst.container_instance_arn,
        ec2_instance_id=inst.ec2_instance_id,
        attributes={a.name: a.value or "" for a in inst.attributes},
        registered_at=inst.registered_at,
        status=inst.status,
        agent_connected=inst.agent_connected,
        agent_version=inst.version_info.agent_version if inst.version_info else None,
        external=inst.external,
        cpu=inst.cpu - u.cpu,
        memory=inst.memory - u.memory,
        registered_cpu=inst.cpu,
        registered_memory=inst.memory,
        ports=inst.ports | u.ports,
        ports_udp=inst.ports_udp | u.ports_udp,
        gpus=tuple(g for g in inst.gpus if g not in u.gpus),
        eni_slots=None if slots is None else slots - u.enis,
        running_tasks_count=u.running_tasks_count,
        pending_tasks_count=u.pending_tasks_count,
        groups=dict(u.groups),
    )
