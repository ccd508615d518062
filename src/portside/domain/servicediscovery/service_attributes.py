"""Service-level attributes: GetServiceAttributes, UpdateServiceAttributes, DeleteServiceAttributes.

A service holds at most 30 attributes; keys are up to 255 characters and values
up to 1,024 (the model checks the lengths).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from portside.domain.scope import Scope
from portside.domain.servicediscovery.errors import ServiceAttributesLimitExceededException
from portside.domain.servicediscovery.refs import get_service
from portside.store.store import Store

MAX_SERVICE_ATTRIBUTES = 30


def get_service_attributes(store: Store, scope: Scope, *, service_id: str) -> dict[str, Any]:
    svc = get_service(store, scope, service_id)
    return {"service_arn": svc.arn, "resource_owner": svc.account, "attributes": svc.attributes}


def update_service_attributes(
    store: Store, scope: Scope, *, service_id: str, attributes: Mapping[str, str]
) -> None:
    svc = get_service(store, scope, service_id)
    merged = {**svc.attributes, **attributes}
    if len(merged) > MAX_SERVICE_ATTRIBUTES:
        raise ServiceAttributesLimitExceededException(
            f"A service can have at most {MAX_SERVICE_ATTRIBUTES} attributes; "
            f"this update would leave {len(merged)}."
        )
    store.commit([dataclasses.replace(svc, attributes=merged)])


def delete_service_attributes(
    store: Store, scope: Scope, *, service_id: str, attributes: Sequence[str]
) -> None:
    svc = get_service(store, scope, service_id)
    gone = set(attributes)
    kept = {k: v for k, v in svc.attributes.items() if k not in gone}
    store.commit([dataclasses.replace(svc, attributes=kept)])
