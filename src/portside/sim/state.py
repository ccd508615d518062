"""The simulator's world: every resource in memory, read like the store, written like it.

:class:`SimState` offers what controllers read (the ``Snapshot`` protocol:
``revision``, ``get``, ``all``, ``children``) and what the domain's operations
write through (``commit``), so the real CreateService, UpdateService and
friends run against it unchanged. Like the store it keeps creation order when
a resource is replaced (registration order matters to placement), bumps the
revision on every commit, and tells listeners what changed — the runner uses
that to know which services to decide again. It also keeps each service's
tasks (``tasks_of_service``), so deciding for one service of a large cluster
does not read every other service's tasks (controllers/snapshot.service_tasks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from portside.store.store import Delete

Listener = Callable[[Sequence[Any]], None]


class SimState:
    def __init__(self, resources: Iterable[Any] = ()):
        self.revision = 0
        self._by_kind: dict[str, dict[str, Any]] = {}
        self._by_parent: dict[tuple[str, str], dict[str, Any]] = {}
        self._by_service: dict[str, dict[str, Any]] = {}
        """Service ARN -> its tasks by key, in creation order (as ``children`` keeps them)."""
        self._listeners: list[Listener] = []
        for r in resources:
            self._put(r)

    # -- reads (the Snapshot protocol) -----------------------------------

    def get(self, kind: str, key: str) -> Any | None:
        by_key = self._by_kind.get(kind)
        return None if by_key is None else by_key.get(key)

    def all(self, kind: str) -> Mapping[str, Any]:
        return self._by_kind.get(kind, {})

    def children(self, kind: str, parent: str) -> Mapping[str, Any]:
        return self._by_parent.get((kind, parent), {})

    def tasks_of_service(self, service_arn: str) -> Mapping[str, Any]:
        return self._by_service.get(service_arn, {})

    # -- writes (the part of the Store the domain uses) ------------------

    def commit(self, changes: Sequence[Any], expected_revision: int | None = None) -> int:
        """Apply ``changes`` (resources or :class:`Delete`); the revision check is kept."""
        if expected_revision is not None and expected_revision != self.revision:
            from portside.store.store import ConflictError

            raise ConflictError(f"expected revision {expected_revision}, at {self.revision}")
        if not changes:
            return self.revision
        for change in changes:
            if isinstance(change, Delete):
                self._forget(change.kind, change.key)
            else:
                self._put(change)
        self.revision += 1
        for listener in self._listeners:
            listener(changes)
        return self.revision

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _put(self, obj: Any) -> None:
        kind, key, parent = obj.KIND, obj.key, obj.parent
        by_key = self._by_kind.setdefault(kind, {})
        old = by_key.get(key)
        if old is not None and old.parent != parent and old.parent is not None:
            self._by_parent.get((kind, old.parent), {}).pop(key, None)
        by_key[key] = obj
        if parent is not None:
            self._by_parent.setdefault((kind, parent), {})[key] = obj
        if kind == _TASK:
            if old is not None and old.service_arn != obj.service_arn and old.service_arn:
                self._by_service.get(old.service_arn, {}).pop(key, None)
            if obj.service_arn is not None:
                self._by_service.setdefault(obj.service_arn, {})[key] = obj

    def _forget(self, kind: str, key: str) -> None:
        old = self._by_kind.get(kind, {}).pop(key, None)
        if old is not None and old.parent is not None:
            self._by_parent.get((kind, old.parent), {}).pop(key, None)
        if old is not None and kind == _TASK and old.service_arn is not None:
            self._by_service.get(old.service_arn, {}).pop(key, None)


_TASK = "task"  # Task.KIND (sim/state.py stays free of the domain's imports)
