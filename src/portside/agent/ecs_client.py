"""The agent's ECS client: SigV4-signed awsJson1.1 calls over aiohttp.

The agent is an ECS client like any other for the calls ECS documents
(RegisterContainerInstance, DiscoverPollEndpoint, SubmitTaskStateChange,
SubmitContainerStateChange). It signs with botocore's own signer — with the
bootstrap key pair until the control plane issues per-instance credentials
over the session, then with those (rotated as new ones arrive; the bootstrap
pair is used again only when they have expired). Request and response bodies
are ECS's camelCase JSON; this module is the agent's API boundary.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"
CONTENT_TYPE = "application/x-amz-json-1.1"
EXPIRY_MARGIN = 60.0
RETRYABLE_CODES = frozenset(
    {"ServerException", "ThrottlingException", "ServiceUnavailable", "InternalFailure",
     "RequestTimeout", "Throttling", "TooManyRequestsException"}
)


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str
    expiration: float | None = None  # epoch seconds
    received_at: float | None = None

    def valid(self, now: float) -> bool:
        """Usable for a while yet: a minute before expiry, or a tenth of a short lifetime."""
        if self.expiration is None:
            return True
        lifetime = self.expiration - (self.received_at or now)
        return now < self.expiration - min(EXPIRY_MARGIN, max(lifetime, 0) / 10)


class EcsError(Exception):
    """An error answer from the ECS API (``code`` is the AWS error code)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status >= 500 or self.status == 429 or self.code in RETRYABLE_CODES


class EcsClient:
    def __init__(
        self,
        endpoint: str,
        region: str,
        bootstrap: Credentials,
        http: aiohttp.ClientSession,
        *,
        timeout: float = 30.0,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.bootstrap = bootstrap
        self.http = http
        self.timeout = timeout
        self.instance_credentials: Credentials | None = None

    def set_instance_credentials(self, creds: Credentials) -> None:
        self.instance_credentials = creds

    def credentials(self, *, bootstrap: bool = False) -> Credentials:
        creds = self.instance_credentials
        if not bootstrap and creds is not None and creds.valid(time.time()):
            return creds
        return self.bootstrap

    def sign(
        self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None,
        *, bootstrap: bool = False,
    ) -> dict[str, str]:
        """The headers (with Authorization) for a request signed for service ``ecs``."""
        creds = self.credentials(bootstrap=bootstrap)
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        SigV4Auth(BotoCredentials(creds.access_key, creds.secret_key), "ecs", self.region).add_auth(
            request
        )
        return {k: v for k, v in request.headers.items()}

    async def call(
        self, operation: str, params: dict[str, Any], *, bootstrap: bool = False
    ) -> dict[str, Any]:
        body = json.dumps(_drop_none(params)).encode()
        url = self.endpoint + "/"
        headers = self.sign(
            "POST", url, body,
            {"Content-Type": CONTENT_TYPE, "X-Amz-Target": f"{TARGET_PREFIX}.{operation}"},
            bootstrap=bootstrap,
        )
        try:
            async with self.http.post(
                url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise EcsError("ConnectionError", str(exc) or type(exc).__name__, 599) from exc
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = {"message": raw.decode(errors="replace")[:200]}
        if status != 200:
            code = str(doc.get("__type") or doc.get("code") or "UnknownError").rsplit("#", 1)[-1]
            message = str(doc.get("message") or doc.get("Message") or "")
            raise EcsError(code, message, status)
        return doc if isinstance(doc, dict) else {}

    def websocket_url(self, endpoint: str, params: dict[str, str]) -> str:
        """``{endpoint}ecs-agent/ws?…`` with the query encoded as SigV4 canonicalizes it."""
        base = endpoint if endpoint.endswith("/") else endpoint + "/"
        query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
        )
        return f"{base}ecs-agent/ws?{query}"

    def websocket_headers(self, ws_url: str) -> dict[str, str]:
        """Signed headers for the WebSocket upgrade (signed as the equivalent http(s) GET)."""
        parts = urlsplit(ws_url)
        scheme = "https" if parts.scheme == "wss" else "http"
        http_url = parts._replace(scheme=scheme).geturl()
        headers = self.sign("GET", http_url)
        headers.pop("Content-Length", None)
        return headers


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
