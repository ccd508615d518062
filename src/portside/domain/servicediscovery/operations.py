"""Operation records: creating them, finding a retried request's, GetOperation, ListOperations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from portside.domain.scope import Scope
from portside.domain.servicediscovery import ids
from portside.domain.servicediscovery.errors import (
    DuplicateRequest,
    InvalidInput,
    OperationNotFound,
)
from portside.domain.servicediscovery.listing import Filter, ListPage, check_filter, page
from portside.domain.servicediscovery.operation import FAIL, SUCCESS, Operation, token_index
from portside.store.store import Store


def succeeded(
    scope: Scope,
    now: datetime,
    op_type: str,
    targets: Mapping[str, str],
    *,
    namespace_id: str | None,
    request_token: str | None = None,
    fingerprint: str = "",
) -> Operation:
    """The record of an operation portside has just carried out."""
    return Operation(
        id=ids.operation_id(),
        account=scope.account,
        region=scope.region,
        type=op_type,
        status=SUCCESS,
        created_at=now,
        updated_at=now,
        targets=dict(targets),
        namespace_id=namespace_id,
        request_token=request_token,
        fingerprint=fingerprint,
    )


def failed(
    scope: Scope,
    now: datetime,
    op_type: str,
    *,
    error_code: str,
    error_message: str,
    request_token: str | None = None,
    fingerprint: str = "",
) -> Operation:
    """The record of an operation portside accepted but could not carry out.

    Cloud Map reports such failures through GetOperation (Status FAIL with an
    ErrorCode such as CANNOT_CREATE_HOSTED_ZONE), not as an error of the call.
    """
    return Operation(
        id=ids.operation_id(),
        account=scope.account,
        region=scope.region,
        type=op_type,
        status=FAIL,
        created_at=now,
        updated_at=now,
        error_code=error_code,
        error_message=error_message,
        request_token=request_token,
        fingerprint=fingerprint,
    )


def _in_scope(store: Store, scope: Scope) -> list[Operation]:
    return [
        op
        for op in store.all(Operation.KIND).values()
        if op.account == scope.account and op.region == scope.region
    ]


def replayed(
    store: Store,
    scope: Scope,
    op_type: str,
    token: str | None,
    fingerprint: str,
    target: tuple[str, str] | None = None,
) -> Operation | None:
    """The operation an earlier request with the same token made, if this is its retry.

    Tokens are unique per operation type, within ``target`` (e.g. the service an
    instance is registered in) when given. The same token on a request that asks
    for something else is a DuplicateRequest.
    """
    if not token:
        return None
    for op in store.children(Operation.KIND, token_index(scope.account, scope.region, token)).values():
        if op.type != op_type or (target is not None and op.targets.get(target[0]) != target[1]):
            continue
        if op.fingerprint != fingerprint:
            raise DuplicateRequest(
                f"The request token {token!r} was already used by operation {op.id} "
                "for a different request.",
                duplicate_operation_id=op.id,
            )
        return op  # type: ignore[no-any-return]
    return None


def get_operation(
    store: Store, scope: Scope, *, operation_id: str, owner_account: str | None = None
) -> Operation:
    op = store.get(Operation.KIND, operation_id)
    if (
        not isinstance(op, Operation)
        or op.account != scope.account
        or op.region != scope.region
        or (owner_account is not None and owner_account != op.account)
    ):
        raise OperationNotFound(f"Operation not found: {operation_id}")
    return op


_OPERATION_FILTERS = {
    "NAMESPACE_ID": ("EQ",),
    "SERVICE_ID": ("EQ",),
    "STATUS": ("EQ", "IN"),
    "TYPE": ("EQ", "IN"),
    "UPDATE_DATE": ("BETWEEN",),
}


def _epoch(text: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidInput(f"UPDATE_DATE values are Unix times in seconds, got {text!r}.") from None


def _matches(op: Operation, f: Filter) -> bool:
    if f.name == "NAMESPACE_ID":
        return op.namespace_id == f.values[0]
    if f.name == "SERVICE_ID":
        return op.targets.get("SERVICE") == f.values[0]
    if f.name == "STATUS":
        return op.status in f.values
    if f.name == "TYPE":
        return op.type in f.values
    start, end = _epoch(f.values[0]), _epoch(f.values[1])
    return start <= op.updated_at <= end


def list_operations(
    store: Store,
    scope: Scope,
    *,
    next_token: str | None = None,
    max_results: int | None = None,
    filters: Sequence[Mapping[str, Any]] | None = None,
) -> ListPage[Operation]:
    checked = [check_filter(f, _OPERATION_FILTERS) for f in filters or ()]
    for f in checked:
        if f.name == "UPDATE_DATE" and len(f.values) != 2:
            raise InvalidInput("UPDATE_DATE takes BETWEEN with a start and an end date.")
        if f.name == "UPDATE_DATE":
            _epoch(f.values[0]), _epoch(f.values[1])
    ops = [op for op in _in_scope(store, scope) if all(_matches(op, f) for f in checked)]
    ops.sort(key=lambda op: op.created_at)
    return page(ops, next_token, max_results)


def operation_view(op: Operation) -> dict[str, Any]:
    return {
        "id": op.id,
        "owner_account": op.account,
        "type": op.type,
        "status": op.status,
        "error_message": op.error_message,
        "error_code": op.error_code,
        "create_date": op.created_at,
        "update_date": op.updated_at,
        "targets": op.targets,
    }
