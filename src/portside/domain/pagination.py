"""Opaque ``nextToken`` pagination as ECS does it.

A token encodes the position after the last item returned and that item's
key; a token that does not decode, or points past the list, is an
InvalidParameterException. If items were removed between pages the key finds
the place again, so a page is never repeated or skipped because of a delete.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass

from portside.domain.errors import InvalidParameterException


@dataclass(frozen=True, slots=True)
class Page:
    items: list[str]
    next_token: str | None


def paginate(
    keys: Sequence[str],
    next_token: str | None,
    max_results: int | None,
    *,
    default: int = 100,
    limit: int = 100,
) -> Page:
    """One page of ``keys`` (already in listing order)."""
    if max_results is None:
        size = default
    elif not 1 <= max_results <= limit:
        raise InvalidParameterException(f"maxResults must be between 1 and {limit}.")
    else:
        size = max_results
    start = 0 if next_token is None else _position(keys, next_token)
    page = list(keys[start : start + size])
    end = start + len(page)
    token = _token(end, page[-1]) if end < len(keys) and page else None
    return Page(page, token)


def _token(position: int, last: str) -> str:
    raw = json.dumps({"p": position, "k": last}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _position(keys: Sequence[str], token: str) -> int:
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
        position, last = int(doc["p"]), str(doc["k"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameterException(
            "The nextToken is not valid: pass the token from the previous response unchanged."
        ) from None
    if position < 0:
        raise InvalidParameterException("The nextToken is not valid.")
    if 0 < position <= len(keys) and keys[position - 1] == last:
        return position
    try:
        return list(keys).index(last) + 1
    except ValueError:
        return min(position, len(keys))
