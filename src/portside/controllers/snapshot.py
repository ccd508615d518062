"""What a controller reads: resources by kind and key, at one revision.

:class:`Snapshot` is the read-only face of :class:`portside.store.store.Store`
(which satisfies it as is); :class:`MemorySnapshot` is a plain in-memory one
for tests and the simulator, built from a list of resources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class Snapshot(Protocol):
    """Read-only access to resources; ``revision`` names the state they were read at."""

    @property
    def revision(self) -> int: ...

    def get(self, kind: str, key: str) -> Any | None: ...

    def all(self, kind: str) -> Mapping[str, Any]: ...

    def children(self, kind: str, parent: str) -> Mapping[str, Any]: ...


class MemorySnapshot:
    """A snapshot over given resources (anything with ``KIND``, ``key`` and ``parent``)."""

    def __init__(self, resources: Iterable[Any] = (), revision: int = 0):
        self.revision = revision
        self._by_kind: dict[str, dict[str, Any]] = {}
        self._by_parent: dict[tuple[str, str], dict[str, Any]] = {}
        for r in resources:
            self.put(r)

    def put(self, resource: Any) -> None:
        """Add or replace one resource (tests build their world with this)."""
        old = self._by_kind.get(resource.KIND, {}).get(resource.key)
        if old is not None and old.parent is not None:
            self._by_parent.get((old.KIND, old.parent), {}).pop(old.key, None)
        self._by_kind.setdefault(resource.KIND, {})[resource.key] = resource
        if resource.parent is not None:
            self._by_parent.setdefault((resource.KIND, resource.parent), {})[resource.key] = (
                resource
            )

    def get(self, kind: str, key: str) -> Any | None:
        return self._by_kind.get(kind, {}).get(key)

    def all(self, kind: str) -> Mapping[str, Any]:
        return self._by_kind.get(kind, {})

    def children(self, kind: str, parent: str) -> Mapping[str, Any]:
        return self._by_parent.get((kind, parent), {})


def service_tasks(snapshot: Snapshot, cluster_arn: str, service_arn: str) -> list[Any]:
    """One service's tasks, whatever their status, in creation order.

    A snapshot that keeps tasks by service (``tasks_of_service``, as the simulator's
    state does) answers without reading the cluster's other tasks; any other
    snapshot's cluster tasks are filtered. Both give the same list.
    """
    indexed = getattr(snapshot, "tasks_of_service", None)
    if indexed is not None:
        return list(indexed(service_arn).values())
    tasks = snapshot.children("task", cluster_arn).values()
    return [t for t in tasks if t.service_arn == service_arn]
