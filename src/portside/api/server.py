"""The HTTP front door: one endpoint for every AWS service portside serves.

A request is routed by what the SDKs send: ``X-Amz-Target`` (awsJson1.1) or a
``/service/NAME/operation/OP`` path (smithy-rpc-v2-cbor). The SigV4 signature
is checked before the body is decoded; the region of the credential scope
becomes the region of every ARN the request makes. Parameters are validated
against botocore's model, the handler runs, and the result is encoded with the
output shape. Every failure a client can cause is an AwsError in its
protocol's envelope; anything else is logged and answered with a 500 that
carries the request id, and the server keeps serving.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from portside.api import capacity, explain, service_connect_top
from portside.api.app import App
from portside.api.auth import authenticate
from portside.api.context import Context
from portside.api.registry import SERVICES, ServiceApi
from portside.aws.errors import (
    AwsError,
    InternalFailure,
    RequestEntityTooLarge,
    UnknownOperationException,
    UnknownServiceError,
    ValidationError,
)
from portside.aws.protocols import CBOR, JSON, Encoded, WireProtocol
from portside.aws.query import FORM, QueryProtocol
from portside.aws.query import for_model as query_protocol
from portside.aws.shapes import decode_input, encode_output
from portside.domain.scope import Scope
from portside.runtime import agent_sessions

log = logging.getLogger("portside.api")

APP_KEY = web.AppKey("portside", App)
_BY_TARGET = {s.target_prefix: s for s in SERVICES if s.target_prefix}
_BY_SMITHY = {s.smithy_name: s for s in SERVICES if s.smithy_name}
_QUERY = {s.signing_name: s for s in SERVICES if s.protocol in ("query", "ec2")}


def _load_handlers() -> None:
    import portside.api.autoscaling
    import portside.api.ec2
    import portside.api.ecs
    import portside.api.servicediscovery  # noqa: F401


def _route(request: web.Request) -> tuple[ServiceApi, str, WireProtocol]:
    target = request.headers.get("X-Amz-Target")
    if target:
        prefix, _, op = target.partition(".")
        service = _BY_TARGET.get(prefix)
        if service is None:
            raise UnknownServiceError(f"portside does not serve the target {prefix!r}")
        return service, op, JSON
    parts = request.path.strip("/").split("/")
    if len(parts) == 4 and parts[0] == "service" and parts[2] == "operation":
        service = _BY_SMITHY.get(parts[1])
        if service is None:
            raise UnknownServiceError(f"portside does not serve the service {parts[1]!r}")
        return service, parts[3], CBOR
    if request.content_type == FORM:
        # query and ec2: the SigV4 scope names the service, the body's Action the operation.
        name = _scope_service(request)
        query = _QUERY.get(name)
        if query is None:
            raise UnknownServiceError(f"portside does not serve the query service {name!r}")
        protocol = query_protocol(query.protocol, query.model.metadata["xmlNamespace"])
        return query, "", protocol
    raise UnknownServiceError(
        "The request names no service: send X-Amz-Target (awsJson1.1) or "
        "POST /service/NAME/operation/OP (smithy-rpc-v2-cbor)."
    )


def _scope_service(request: web.Request) -> str:
    """The service of the request's SigV4 credential scope (checked later by authenticate)."""
    auth = request.headers.get("Authorization", "")
    credential = auth.partition("Credential=")[2].split(",", 1)[0]
    credential = credential or request.query.get("X-Amz-Credential", "")
    parts = credential.split("/")
    return parts[3] if len(parts) == 5 else ""


def _respond(encoded: Encoded) -> web.Response:
    return web.Response(status=encoded.status, body=encoded.body, headers=encoded.headers)


async def handle(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    request_id = str(uuid.uuid4())
    protocol: WireProtocol = JSON
    service: ServiceApi | None = None
    try:
        service, op_name, protocol = _route(request)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise RequestEntityTooLarge(
                f"The request body exceeds {app.settings.max_body_bytes} bytes."
            ) from None
        now = datetime.now(UTC)
        caller = authenticate(request, body, app.secrets, now)
        if isinstance(protocol, QueryProtocol):
            op_name = protocol.action(body)
        handler = service.handlers.get(op_name)
        if handler is None:
            raise UnknownOperationException(
                f"{service.model_name} has no operation {op_name!r} in portside"
                if op_name in service.model.operation_names
                else f"Unknown operation {op_name!r} for {service.model_name}"
            )
        operation = service.operation_model(op_name)
        if isinstance(protocol, QueryProtocol):
            protocol = protocol.bind(operation)
        try:
            params = decode_input(operation.input_shape, protocol.decode(body))
        except ValidationError as exc:
            raise AwsError(exc.message, code=service.validation_code) from None
        ctx = Context(
            app=app,
            scope=Scope(app.settings.account_id, caller.region),
            now=now,
            request_id=request_id,
            access_key=caller.access_key,
        )
        result = handler(ctx, params)
        if inspect.isawaitable(result):
            result = await result
        wire = encode_output(operation.output_shape, result, protocol.timestamp)
        return _respond(protocol.encode(wire, request_id))
    except AwsError as exc:
        namespace = service.error_namespace if service else "com.amazonaws"
        members = _error_members(service, exc, protocol) if service else None
        return _respond(protocol.encode_error(exc, namespace, request_id, members))
    except Exception:
        log.exception("request %s failed", request_id)
        error = InternalFailure(f"portside failed to handle request {request_id}; see its log.")
        return _respond(protocol.encode_error(error, "com.amazonaws", request_id))


def _error_members(service: ServiceApi, exc: AwsError, protocol: WireProtocol) -> dict[str, Any]:
    """The error shape's members beyond its message (e.g. Cloud Map's ``NamespaceId``)."""
    try:
        shape = service.model.shape_for(exc.code)
    except Exception:  # botocore raises NoShapeFoundError for unknown names
        return {}
    members = encode_output(shape, exc, protocol.timestamp) or {}
    return {k: v for k, v in members.items() if k.lower() != "message"}


async def health(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    return web.json_response({"status": "ok", "dns_port": app.extras.get("dns_port")})


def make_app(app: App) -> web.Application:
    _load_handlers()
    web_app = web.Application(client_max_size=app.settings.max_body_bytes)
    web_app[APP_KEY] = app
    web_app.router.add_get("/health", health)
    web_app.router.add_get(agent_sessions.PATH, agent_sessions.handle)
    web_app.router.add_post(explain.PATH, explain.handle_explain)
    web_app.router.add_post(capacity.PATH, capacity.handle_capacity)
    web_app.router.add_get(capacity.METRICS_PATH, capacity.handle_metrics)
    web_app.router.add_post(service_connect_top.PATH, service_connect_top.handle_top)
    web_app.router.add_route("POST", "/{tail:.*}", handle)
    return web_app


