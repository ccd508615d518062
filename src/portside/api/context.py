"""What a handler knows about the request it serves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from portside.domain.scope import Scope

if TYPE_CHECKING:
    from portside.api.app import App


@dataclass(frozen=True, slots=True)
class Context:
    app: App
    scope: Scope
    now: datetime
    request_id: str
    access_key: str
