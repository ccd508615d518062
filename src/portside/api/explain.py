"""portside's own endpoint for placement explanations (no ECS operation carries them).

``POST /_portside/explain`` with a JSON body ``{"cluster": ..., "subject": ...}``,
SigV4-signed like any request (service ``ecs``); answers
``{"subject", "createdAt", "strategies", "explanation"}`` or an AWS error envelope.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from aiohttp import web

from portside.api.auth import authenticate
from portside.aws.errors import AwsError, SerializationException
from portside.aws.protocols import JSON
from portside.domain.ecs.explain import explain
from portside.domain.scope import Scope

PATH = "/_portside/explain"


async def handle_explain(request: web.Request) -> web.Response:
    from portside.api.server import APP_KEY

    app = request.app[APP_KEY]
    body = await request.read()
    try:
        caller = authenticate(request, body, app.secrets, datetime.now(UTC))
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            raise SerializationException("The body must be a JSON object.") from None
        if not isinstance(params, dict):
            raise SerializationException("The body must be a JSON object.")
        record = explain(
            app.store,
            Scope(app.settings.account_id, caller.region),
            params.get("cluster"),
            params.get("subject"),
        )
    except AwsError as exc:
        enc = JSON.encode_error(exc, "com.amazonaws.ecs", "")
        return web.Response(status=enc.status, body=enc.body, headers=enc.headers)
    return web.json_response({
        "subject": record.subject,
        "createdAt": record.created_at.isoformat(),
        "strategies": list(record.strategies),
        "explanation": record.explanation,
    })
