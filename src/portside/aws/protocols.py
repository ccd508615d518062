"""Wire protocols: how a request body becomes parameters and a result becomes bytes.

Each protocol decodes a body to plain Python values (wire names, not yet
checked against the model) and encodes a result or an :class:`AwsError` in its
own envelope. ``shapes.py`` does the model-driven part for all of them.

- awsJson1.1: ``X-Amz-Target: Prefix.Operation``, JSON body, timestamps as epoch
  seconds, errors as ``{"__type": code, "message": ...}``.
- smithy-rpc-v2-cbor: ``POST /service/NAME/operation/OP`` with the header
  ``smithy-protocol: rpc-v2-cbor``, CBOR body, timestamps as CBOR tag 1,
  errors as ``{"__type": "namespace#code", "message": ...}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import cbor2

from portside.aws.errors import AwsError, SerializationException
from portside.aws.shapes import epoch_seconds


@dataclass(frozen=True, slots=True)
class Encoded:
    status: int
    headers: dict[str, str]
    body: bytes


class WireProtocol(Protocol):
    name: str
    content_type: str

    def decode(self, body: bytes) -> Any: ...

    def timestamp(self, value: datetime) -> Any: ...

    def encode(self, value: Any, request_id: str) -> Encoded: ...

    def encode_error(
        self, error: AwsError, namespace: str, request_id: str, members: dict[str, Any] | None = None
    ) -> Encoded: ...


class AwsJson11:
    name = "json"
    content_type = "application/x-amz-json-1.1"

    def decode(self, body: bytes) -> Any:
        if not body.strip():
            return {}
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SerializationException(f"The request body is not valid JSON: {exc}") from None

    def timestamp(self, value: datetime) -> Any:
        return epoch_seconds(value)

    def encode(self, value: Any, request_id: str) -> Encoded:
        body = json.dumps(value, separators=(",", ":")).encode()
        return Encoded(
            200, {"Content-Type": self.content_type, "x-amzn-RequestId": request_id}, body
        )

    def encode_error(
        self, error: AwsError, namespace: str, request_id: str, members: dict[str, Any] | None = None
    ) -> Encoded:
        body = json.dumps({**(members or {}), "__type": error.code, "message": error.message}).encode()
        headers = {
            "Content-Type": self.content_type,
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": error.code,
        }
        return Encoded(error.status, headers, body)


class RpcV2Cbor:
    name = "smithy-rpc-v2-cbor"
    content_type = "application/cbor"

    def decode(self, body: bytes) -> Any:
        if not body:
            return {}
        try:
            return cbor2.loads(body)
        except Exception as exc:  # cbor2 raises several types for bad input
            raise SerializationException(f"The request body is not valid CBOR: {exc}") from None

    def timestamp(self, value: datetime) -> Any:
        return value  # cbor2 writes datetimes as tag 1 with timestamp_format

    def encode(self, value: Any, request_id: str) -> Encoded:
        body = cbor2.dumps(value, datetime_as_timestamp=True, timezone=None)
        headers = {
            "Content-Type": self.content_type,
            "smithy-protocol": "rpc-v2-cbor",
            "x-amzn-RequestId": request_id,
        }
        return Encoded(200, headers, body)

    def encode_error(
        self, error: AwsError, namespace: str, request_id: str, members: dict[str, Any] | None = None
    ) -> Encoded:
        body = cbor2.dumps(
            {**(members or {}), "__type": f"{namespace}#{error.code}", "message": error.message}
        )
        headers = {
            "Content-Type": self.content_type,
            "smithy-protocol": "rpc-v2-cbor",
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": error.code,
        }
        return Encoded(error.status, headers, body)


JSON = AwsJson11()
CBOR = RpcV2Cbor()
