"""SigV4 verification, for the Authorization header and for presigned URLs.

The server recomputes the signature the client computed: the canonical request
is built from what arrived (method, the path as sent, the query string, the
headers the client named in SignedHeaders, the payload hash), and compared in
constant time. Signing keys are derived once per (secret, date, region,
service) and cached, so a verification costs three SHA-256 passes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import parse_qsl, quote

from portside.aws.errors import (
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    UnrecognizedClient,
)

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who signed a request, and the scope they signed it for."""

    access_key: str
    region: str
    service: str
    signed_at: datetime


@dataclass(frozen=True, slots=True)
class _Parsed:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    presigned: bool
    expires: int | None


def _parse(headers: Mapping[str, str], query: str) -> _Parsed:
    auth = headers.get("authorization")
    if auth:
        if not auth.startswith(ALGORITHM + " "):
            raise IncompleteSignature(f"Authorization header must use {ALGORITHM}")
        fields: dict[str, str] = {}
        for part in auth[len(ALGORITHM) + 1 :].split(","):
            key, sep, val = part.strip().partition("=")
            if not sep:
                raise IncompleteSignature(f"Authorization header has a malformed part: {part!r}")
            fields[key] = val
        missing = [f for f in ("Credential", "SignedHeaders", "Signature") if f not in fields]
        if missing:
            raise IncompleteSignature(f"Authorization header lacks {', '.join(missing)}")
        amz_date = headers.get("x-amz-date", "")
        if not amz_date:
            raise IncompleteSignature("Authorization header requires an X-Amz-Date header")
        credential, signed, signature = (
            fields["Credential"],
            fields["SignedHeaders"],
            fields["Signature"],
        )
        presigned, expires = False, None
    else:
        params = dict(parse_qsl(query, keep_blank_values=True))
        if "X-Amz-Signature" not in params:
            raise MissingAuthenticationToken("Missing Authentication Token")
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise IncompleteSignature(f"X-Amz-Algorithm must be {ALGORITHM}")
        try:
            credential = params["X-Amz-Credential"]
            signed = params["X-Amz-SignedHeaders"]
            signature = params["X-Amz-Signature"]
            amz_date = params["X-Amz-Date"]
            expires = int(params.get("X-Amz-Expires", "3600"))
        except (KeyError, ValueError) as exc:
            raise IncompleteSignature(f"presigned URL lacks a valid {exc}") from None
        presigned = True
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise IncompleteSignature(
            "Credential must have the form ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request"
        )
    return _Parsed(
        access_key=parts[0],
        date=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=tuple(signed.split(";")),
        signature=signature,
        amz_date=amz_date,
        presigned=presigned,
        expires=expires,
    )


@lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _canonical_query(query: str, presigned: bool) -> str:
    pairs = []
    for pair in query.split("&") if query else ():
        key, _, val = pair.partition("=")
        if presigned and key == "X-Amz-Signature":
            continue
        pairs.append((key, val))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def _canonical_path(raw_path: str) -> str:
    # botocore normalizes the path and quotes it once more for non-S3 services.
    return quote(raw_path or "/", safe="/~")


def verify(
    method: str,
    raw_path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Mapping[str, str],
    now: datetime,
) -> Caller:
    """Check a request's SigV4 signature; return the caller or raise a 403 AwsError.

    ``headers`` must be case-insensitive (lower-case lookups); ``secrets`` maps
    access key ids to secret keys.
    """
    parsed = _parse(headers, query)
    secret = secrets.get(parsed.access_key)
    if secret is None:
        raise UnrecognizedClient("The security token included in the request is invalid.")
    try:
        signed_at = datetime.strptime(parsed.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise IncompleteSignature(f"X-Amz-Date {parsed.amz_date!r} is not YYYYMMDDTHHMMSSZ") from None
    if parsed.presigned:
        if now > signed_at + timedelta(seconds=parsed.expires or 0) or signed_at - now > MAX_SKEW:
            raise InvalidSignature("Signature expired: the presigned URL is no longer valid.")
    elif abs(now - signed_at) > MAX_SKEW:
        raise InvalidSignature(
            f"Signature expired: {parsed.amz_date} is now earlier than "
            f"{(now - MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')} (15 minutes of clock skew allowed)."
        )
    canonical_headers = []
    for name in parsed.signed_headers:
        value = headers.get(name)
        if value is None:
            raise InvalidSignature(f"signed header {name!r} is missing from the request")
        canonical_headers.append(f"{name}:{' '.join(value.split())}\n")
    header_block = "".join(canonical_headers)
    signed_names = ";".join(parsed.signed_headers)
    path = _canonical_path(raw_path)
    cquery = _canonical_query(query, parsed.presigned)
    declared = headers.get("x-amz-content-sha256")
    if declared:
        hashes = [declared]
    elif parsed.presigned:
        hashes = [UNSIGNED_PAYLOAD, hashlib.sha256(body).hexdigest()]
    else:
        hashes = [hashlib.sha256(body).hexdigest()]
    if declared and declared != UNSIGNED_PAYLOAD and declared != hashlib.sha256(body).hexdigest():
        raise InvalidSignature("The provided x-amz-content-sha256 does not match the body.")
    key = _signing_key(secret, parsed.date, parsed.region, parsed.service)
    scope = f"{parsed.date}/{parsed.region}/{parsed.service}/aws4_request"
    for payload_hash in hashes:
        canonical = "\n".join(
            (method.upper(), path, cquery, header_block, signed_names, payload_hash)
        )
        to_sign = "\n".join(
            (ALGORITHM, parsed.amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest())
        )
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, parsed.signature):
            return Caller(parsed.access_key, parsed.region, parsed.service, signed_at)
    raise InvalidSignature(
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method."
    )
