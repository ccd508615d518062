"""SigV4 for an aiohttp request: what every endpoint (API, explain, agent session) checks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from aiohttp import web

from portside.aws import sigv4


def authenticate(
    request: web.Request, body: bytes, secrets: Mapping[str, str], now: datetime
) -> sigv4.Caller:
    """The signed caller of ``request``, or a 403 AwsError."""
    return sigv4.verify(
        request.method,
        request.raw_path.split("?", 1)[0],
        request.rel_url.raw_query_string,
        request.headers,
        body,
        secrets,
        now,
    )
