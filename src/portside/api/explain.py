"""portside's own endpoint for placement explanations (no ECS operation carries them).

``POST /_portside/explain`` with a JSON body ``{"cluster": ..., "subject": ...}``,
SigV4-signed like any request (service ``ecs``); answers
``{"subject", "createdAt", "strategies", "explanation"}`` or an AWS error envelope.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portside.api.app import App
from portside.api.own import signed_json
from portside.domain.ecs.explain import explain
from portside.domain.scope import Scope

PATH = "/_portside/explain"


def _explain(app: App, scope: Scope, params: dict[str, Any], now: datetime) -> dict[str, Any]:
    record = explain(app.store, scope, params.get("cluster"), params.get("subject"))
    return {
        "subject": record.subject,
        "createdAt": record.created_at.isoformat(),
        "strategies": list(record.strategies),
        "explanation": record.explanation,
    }


handle_explain = signed_json(_explain)
