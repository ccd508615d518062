"""The control plane's state: settings, the store, the accepted keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portside.config import Settings
from portside.store.store import Store


def resource_kinds() -> dict[str, type[Any]]:
    """Every resource class the store persists, by kind."""
    from portside.domain.kinds import KINDS

    return KINDS


@dataclass
class App:
    settings: Settings
    store: Store
    secrets: dict[str, str]
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings) -> App:
        settings.validate()
        store = Store(settings.store_url, resource_kinds())
        return cls(settings=settings, store=store, secrets=settings.accepted_keys())

    def close(self) -> None:
        self.store.close()
