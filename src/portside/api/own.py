"""portside's own signed JSON endpoints (``/_portside/...``): what no AWS operation carries.

Each takes a JSON object, SigV4-signed like any request (service ``ecs``), and
answers JSON or an AWS error envelope. A handler is
``fn(app, scope, params, now) -> dict`` and raises AwsError for the caller's
mistakes; :func:`signed_json` turns it into an aiohttp handler.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from portside.api.app import App
from portside.api.auth import authenticate
from portside.aws.errors import AwsError, SerializationException
from portside.aws.protocols import JSON
from portside.domain.scope import Scope

OwnHandler = Callable[[App, Scope, dict[str, Any], datetime], dict[str, Any]]


def signed_json(fn: OwnHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        from portside.api.server import APP_KEY

        app = request.app[APP_KEY]
        body = await request.read()
        now = datetime.now(UTC)
        try:
            caller = authenticate(request, body, app.secrets, now)
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                raise SerializationException("The body must be a JSON object.") from None
            if not isinstance(params, dict):
                raise SerializationException("The body must be a JSON object.")
            answer = fn(app, Scope(app.settings.account_id, caller.region), params, now)
        except AwsError as exc:
            enc = JSON.encode_error(exc, "com.amazonaws.ecs", "")
            return web.Response(status=enc.status, body=enc.body, headers=enc.headers)
        return web.json_response(answer)

    return handle
