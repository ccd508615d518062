"""How CLI commands reach a running control plane: botocore clients and signed requests."""

from __future__ import annotations

import json
import os
from typing import Any

import botocore.session
import click
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EndpointConnectionError

from portside.config import DEFAULT_PORT

DEFAULT_ENDPOINT = os.environ.get("PORTSIDE_ENDPOINT", f"http://127.0.0.1:{DEFAULT_PORT}")


def endpoint_option(fn: Any) -> Any:
    fn = click.option("--region", default=lambda: os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                      show_default="us-east-1", help="Region to act in.")(fn)
    return click.option("--endpoint", default=DEFAULT_ENDPOINT, show_default=True,
                        help="portside API endpoint (or PORTSIDE_ENDPOINT).")(fn)


def _credentials() -> Credentials:
    return Credentials(
        os.environ.get("AWS_ACCESS_KEY_ID", "test"), os.environ.get("AWS_SECRET_ACCESS_KEY", "test")
    )


def client(service: str, endpoint: str, region: str) -> Any:
    creds = _credentials()
    return botocore.session.get_session().create_client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        config=Config(retries={"max_attempts": 2}, connect_timeout=3, read_timeout=30),
    )


def call(fn: Any, **kw: Any) -> Any:
    """Run a botocore call; turn its errors into a CLI message that says what to do."""
    try:
        return fn(**kw)
    except EndpointConnectionError as exc:
        raise click.ClickException(
            f"cannot reach portside at {exc.kwargs.get('endpoint_url')}: is `portside up` "
            "running? Pass --endpoint or set PORTSIDE_ENDPOINT."
        ) from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise click.ClickException(f"{err.get('Code')}: {err.get('Message')}") from None


def signed_post(endpoint: str, region: str, path: str, payload: dict[str, Any]) -> Any:
    """POST JSON to a portside-specific path, SigV4-signed as service ``ecs``."""
    import urllib.error
    import urllib.request

    body = json.dumps(payload).encode()
    req = AWSRequest(method="POST", url=endpoint.rstrip("/") + path, data=body,
                     headers={"Content-Type": "application/json"})
    SigV4Auth(_credentials(), "ecs", region).add_auth(req)
    http = urllib.request.Request(req.url, data=body, headers=dict(req.headers.items()),
                                  method="POST")
    try:
        with urllib.request.urlopen(http, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        err = json.loads(exc.read() or b"{}")
        raise click.ClickException(f"{err.get('__type')}: {err.get('message')}") from None
    except urllib.error.URLError as exc:
        raise click.ClickException(
            f"cannot reach portside at {endpoint}: {exc.reason}. Is `portside up` running?"
        ) from None
