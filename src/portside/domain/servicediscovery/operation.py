"""The Operation resource: the durable record of an asynchronous Cloud Map request.

Namespace creation and deletion, namespace and service updates, and instance
registration and deregistration return an operation ID. portside applies the
change before it answers, so an operation is SUCCESS when first seen; the record
is what GetOperation and ListOperations report, and what makes a retried request
(same CreatorRequestId / UpdaterRequestId) return the same operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Final

SUBMITTED: Final = "SUBMITTED"
PENDING: Final = "PENDING"
SUCCESS: Final = "SUCCESS"
FAIL: Final = "FAIL"

CREATE_NAMESPACE: Final = "CREATE_NAMESPACE"
DELETE_NAMESPACE: Final = "DELETE_NAMESPACE"
UPDATE_NAMESPACE: Final = "UPDATE_NAMESPACE"
UPDATE_SERVICE: Final = "UPDATE_SERVICE"
REGISTER_INSTANCE: Final = "REGISTER_INSTANCE"
DEREGISTER_INSTANCE: Final = "DEREGISTER_INSTANCE"


@dataclass(frozen=True, slots=True)
class Operation:
    KIND: ClassVar[str] = "sd_operation"

    id: str
    account: str
    region: str
    type: str
    status: str
    created_at: datetime
    updated_at: datetime
    targets: dict[str, str] = field(default_factory=dict)  # NAMESPACE | SERVICE | INSTANCE -> id
    namespace_id: str | None = None  # the namespace it touched, for the NAMESPACE_ID filter
    error_code: str | None = None
    error_message: str | None = None
    request_token: str | None = None  # the CreatorRequestId / UpdaterRequestId it answered
    fingerprint: str = ""  # what the request asked for, to tell a retry from a reuse

    @property
    def key(self) -> str:
        return self.id

    @property
    def parent(self) -> str | None:
        """Operations are indexed by their request token, so a retry is found at once."""
        if self.request_token is None:
            return None
        return token_index(self.account, self.region, self.request_token)


def token_index(account: str, region: str, token: str) -> str:
    return f"token:{account}:{region}:{token}"
