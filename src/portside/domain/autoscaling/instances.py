"""Auto Scaling instance operations: SetInstanceProtection, DescribeAutoScalingInstances,
TerminateInstanceInAutoScalingGroup.

Terminating an instance moves it to ``Terminating:Proceed``; the capacity runtime's
launcher for the group stops it and marks it ``Terminated``. Without
ShouldDecrementDesiredCapacity the group launches a replacement, so the group
must stay within its minimum size only when the capacity is decremented.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from portside.controllers.capacity_model import TERMINATING, GroupInstance, InstanceGroup
from portside.domain.autoscaling.errors import AsgValidationError
from portside.domain.autoscaling.groups import (
    get_group,
    groups_of,
    instance_view,
    instances_of,
    page,
)
from portside.domain.scope import Scope
from portside.store.store import Store

MAX_PROTECTION_IDS = 50


def _owned(store: Store, scope: Scope) -> dict[str, tuple[InstanceGroup, GroupInstance]]:
    """Every live instance of this scope's groups, by instance id."""
    return {
        i.instance_id: (g, i)
        for g in groups_of(store, scope).values()
        for i in instances_of(store, g)
    }


def set_instance_protection(
    store: Store,
    scope: Scope,
    *,
    instance_ids: Sequence[str],
    auto_scaling_group_name: str,
    protected_from_scale_in: bool,
) -> None:
    group = get_group(store, scope, auto_scaling_group_name)
    if len(instance_ids) > MAX_PROTECTION_IDS:
        raise AsgValidationError(
            f"The number of instance ids exceeds the maximum of {MAX_PROTECTION_IDS}."
        )
    mine = {i.instance_id: i for i in instances_of(store, group)}
    changed = []
    for instance_id in instance_ids:
        found = mine.get(instance_id)
        if found is None:
            raise AsgValidationError(
                f"The instance {instance_id} is not part of Auto Scaling group "
                f"{auto_scaling_group_name}."
            )
        changed.append(dataclasses.replace(found, protected_from_scale_in=protected_from_scale_in))
    store.commit(changed)


def describe_auto_scaling_instances(
    store: Store,
    scope: Scope,
    *,
    instance_ids: Sequence[str] | None = None,
    max_records: int | None = None,
    next_token: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Named instances (unknown ids are left out) or all, a page at a time."""
    owned = _owned(store, scope)
    ids = [i for i in dict.fromkeys(instance_ids or owned) if i in owned]
    chosen = page(ids, next_token, max_records, limit=50)
    return [instance_view(*owned[i]) for i in chosen.items], chosen.next_token


def terminate_instance_in_auto_scaling_group(
    store: Store,
    scope: Scope,
    now: datetime,
    *,
    instance_id: str,
    should_decrement_desired_capacity: bool,
) -> dict[str, Any]:
    """Mark the instance for termination; the Activity that records it."""
    found = _owned(store, scope).get(instance_id)
    if found is None:
        raise AsgValidationError(
            f"Instance Id not found - No managed instance found for instance ID: {instance_id}"
        )
    group, instance = found
    changes: list[Any] = []
    if should_decrement_desired_capacity and instance.lifecycle_state != TERMINATING:
        if group.desired_capacity <= group.min_size:
            raise AsgValidationError(
                f"Currently, desiredSize equals minSize ({group.min_size}). Terminating "
                "instance without replacement will violate group's min size constraint. Either "
                "set shouldDecrementDesiredCapacity flag to false or lower group's min size."
            )
        changes.append(dataclasses.replace(group, desired_capacity=group.desired_capacity - 1))
    changes.append(dataclasses.replace(
        instance, lifecycle_state=TERMINATING,
        status_reason="terminated by TerminateInstanceInAutoScalingGroup",
    ))  # fmt: skip
    store.commit(changes)
    cause = (
        f"At {now.strftime('%Y-%m-%dT%H:%M:%SZ')} instance {instance_id} was taken out of "
        "service in response to a user request"
        + (", shrinking the capacity." if should_decrement_desired_capacity else ".")
    )
    return {
        "activity_id": str(uuid.uuid4()),
        "auto_scaling_group_name": group.auto_scaling_group_name,
        "auto_scaling_group_arn": group.auto_scaling_group_arn,
        "description": f"Terminating EC2 instance: {instance_id}",
        "cause": cause,
        "start_time": now,
        "status_code": "InProgress",
        "progress": 0,
    }
