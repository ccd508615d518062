"""Every persisted resource class, by its store kind."""

from __future__ import annotations

from typing import Any

from portside.domain.ecs.capacity_provider import CapacityProvider
from portside.domain.ecs.cluster import Cluster

KINDS: dict[str, type[Any]] = {
    cls.KIND: cls
    for cls in (
        Cluster,
        CapacityProvider,
    )
}
