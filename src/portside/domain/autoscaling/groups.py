"""Auto Scaling group operations: Create, Describe, Update and Delete.

A group is an :class:`InstanceGroup` record, the one managed scaling and the
launchers read. The API decides sizes and settings; it never starts or stops
an instance itself: the capacity runtime launches instances up to
``desired_capacity`` with the group's launcher and terminates the ones in
``Terminating:Proceed``.

DeleteAutoScalingGroup follows Auto Scaling: a group with instances is
ResourceInUse unless ForceDelete is set; a group still scaling towards a
non-zero desired capacity is ScalingActivityInProgress. With ForceDelete the
group's instances go to ``Terminating:Proceed`` and the group stays, with the
status ``Delete in progress`` and no capacity, until the runtime has
terminated them and removes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from portside.controllers.capacity_model import (
    TERMINATED,
    TERMINATING,
    GroupInstance,
    InstanceGroup,
)
from portside.domain.autoscaling.errors import (
    AlreadyExists,
    AsgValidationError,
    InvalidNextToken,
    ResourceInUse,
    ScalingActivityInProgress,
)
from portside.domain.autoscaling.group_build import (
    ResolvedTemplate,
    build_group,
    check_sizes,
    resolve_types,
)
from portside.domain.autoscaling.instance_types import Catalogue
from portside.domain.autoscaling.launch_templates import find_template
from portside.domain.errors import InvalidParameterException
from portside.domain.pagination import paginate
from portside.domain.scope import Scope
from portside.store.store import Delete, Store

DELETING = "Delete in progress"
DEFAULT_COOLDOWN = 300
_catalogue = Catalogue()


def groups_of(store: Store, scope: Scope) -> dict[str, InstanceGroup]:
    """This account and region's groups, by name, in creation order.

    A group deleted with ForceDelete is gone once its last instance has terminated
    (its record stays until a group of the same name replaces it).
    """
    prefix = scope.arn("autoscaling", "autoScalingGroup:")
    return {
        g.auto_scaling_group_name: g
        for k, g in store.all(InstanceGroup.KIND).items()
        if k.startswith(prefix) and (g.status != DELETING or instances_of(store, g))
    }


def get_group(store: Store, scope: Scope, name: str) -> InstanceGroup:
    found = groups_of(store, scope).get(name)
    if found is None:
        raise AsgValidationError(f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found")
    return found


def instances_of(store: Store, group: InstanceGroup) -> list[GroupInstance]:
    """The group's instances that have not terminated."""
    found = store.children(GroupInstance.KIND, group.auto_scaling_group_arn).values()
    return [i for i in found if i.lifecycle_state != TERMINATED]


def _template_lookup(store: Store, scope: Scope) -> Any:
    def template_of(ref: Mapping[str, Any]) -> ResolvedTemplate:
        template_id, name = ref.get("launch_template_id"), ref.get("launch_template_name")
        if bool(template_id) == bool(name):
            raise AsgValidationError(
                "Valid requests must contain either launchTemplateId or LaunchTemplateName"
            )
        try:
            t = find_template(store, scope, template_id=template_id, name=name)
        except Exception:
            what = f"template ID {template_id}" if template_id else f"template name {name}"
            raise AsgValidationError(
                f"You must use a valid fully-formed launch template. The specified launch "
                f"template, with {what}, does not exist."
            ) from None
        return ResolvedTemplate(t.launch_template_id, t.launch_template_name,
                                t.launch_template_data or {})  # fmt: skip

    return template_of


def _no_subnets(subnet: str) -> str:
    raise AsgValidationError(
        f"The subnet ID '{subnet}' does not exist: portside has no EC2 subnets; give "
        "AvailabilityZones instead of VPCZoneIdentifier."
    )


def create_auto_scaling_group(
    store: Store, scope: Scope, now: datetime, **p: Any
) -> InstanceGroup:
    name = p["auto_scaling_group_name"]
    if name in groups_of(store, scope):
        raise AlreadyExists(
            f"AutoScalingGroup by this name already exists - A group with the name {name} "
            "already exists"
        )
    group = build_group(
        p, scope=scope, now=now, template_of=_template_lookup(store, scope),
        zone_of=_no_subnets, catalogue=_catalogue,
    )  # fmt: skip
    stale = store.get(InstanceGroup.KIND, group.key)
    old = (
        [Delete(GroupInstance.KIND, i.key)
         for i in store.children(GroupInstance.KIND, group.key).values()]
        if stale is not None else []
    )  # fmt: skip
    store.commit([*old, group])
    return group


def update_auto_scaling_group(
    store: Store, scope: Scope, *, auto_scaling_group_name: str, **p: Any
) -> InstanceGroup:
    group = get_group(store, scope, auto_scaling_group_name)
    if group.status == DELETING:
        raise ScalingActivityInProgress("The group is being deleted.")
    changes: dict[str, Any] = {}
    if p.get("launch_template") or p.get("mixed_instances_policy"):
        types = resolve_types(p, _template_lookup(store, scope), _catalogue)
        dist = (types.mixed_instances_policy or {}).get("instances_distribution") or {}
        changes.update(
            instance_types=types.specs,
            launch_template=types.launch_template,
            mixed_instances_policy=types.mixed_instances_policy,
            on_demand_base_capacity=dist.get("on_demand_base_capacity", 0),
            on_demand_percentage_above_base_capacity=(
                0 if types.spot else dist.get("on_demand_percentage_above_base_capacity", 100)
            ),
        )
    if p.get("vpc_zone_identifier"):
        _no_subnets(p["vpc_zone_identifier"].split(",")[0].strip())
    if p.get("availability_zones"):
        changes["availability_zones"] = tuple(dict.fromkeys(p["availability_zones"]))
    if p.get("new_instances_protected_from_scale_in") is not None:
        changes["new_instances_protected_from_scale_in"] = p["new_instances_protected_from_scale_in"]
    min_size = p.get("min_size", group.min_size)
    max_size = p.get("max_size", group.max_size)
    desired = p.get("desired_capacity")
    if desired is None:
        # Auto Scaling moves the desired capacity into new bounds rather than refusing them.
        desired = min(max(group.desired_capacity, min_size), max_size)
    check_sizes(min_size, max_size, desired)
    changes.update(min_size=min_size, max_size=max_size, desired_capacity=desired)
    updated = dataclasses.replace(group, **changes)
    store.commit([updated])
    return updated


def delete_auto_scaling_group(
    store: Store, scope: Scope, *, auto_scaling_group_name: str, force_delete: bool | None = None
) -> None:
    group = get_group(store, scope, auto_scaling_group_name)
    live = instances_of(store, group)
    if not force_delete:
        if live:
            raise ResourceInUse(
                "You cannot delete an AutoScalingGroup while there are instances or pending "
                "Spot instance request(s) still in the group."
            )
        if group.desired_capacity > 0:
            raise ScalingActivityInProgress(
                "You cannot delete an AutoScalingGroup while there are scaling activities in "
                "progress."
            )
    if not live:
        gone = store.children(GroupInstance.KIND, group.key).values()
        store.commit([*(Delete(GroupInstance.KIND, i.key) for i in gone),
                      Delete(InstanceGroup.KIND, group.key)])  # fmt: skip
        return
    ending = [
        dataclasses.replace(i, lifecycle_state=TERMINATING,
                            status_reason="the Auto Scaling group is being deleted")
        for i in live if i.lifecycle_state != TERMINATING
    ]  # fmt: skip
    deleting = dataclasses.replace(
        group, status=DELETING, min_size=0, max_size=0, desired_capacity=0
    )
    store.commit([*ending, deleting])


# -- describe ------------------------------------------------------------------

DISTRIBUTION_DEFAULTS: Mapping[str, Any] = {
    "on_demand_allocation_strategy": "prioritized",
    "on_demand_base_capacity": 0,
    "on_demand_percentage_above_base_capacity": 100,
    "spot_allocation_strategy": "lowest-price",
}
"""What Auto Scaling reports for an InstancesDistribution member the request left out
(its API reference's defaults, for groups without InstanceRequirements overrides)."""
SPOT_INSTANCE_POOLS = 2
"""SpotInstancePools' default; it applies only to the ``lowest-price`` Spot strategy."""


def policy_view(policy: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A MixedInstancesPolicy as DescribeAutoScalingGroups shows it: the InstancesDistribution
    with every default filled in, so a script reads the settings in force, not the request."""
    if not policy:
        return None
    dist = {**DISTRIBUTION_DEFAULTS, **(policy.get("instances_distribution") or {})}
    if dist["spot_allocation_strategy"] == "lowest-price":
        dist.setdefault("spot_instance_pools", SPOT_INSTANCE_POOLS)
    return {**policy, "instances_distribution": dist}


def instance_view(group: InstanceGroup, i: GroupInstance) -> dict[str, Any]:
    """An instance as Auto Scaling's Instance and AutoScalingInstanceDetails shapes show it."""
    return {
        "instance_id": i.instance_id,
        "instance_type": i.instance_type,
        "auto_scaling_group_name": group.auto_scaling_group_name,
        "availability_zone": i.availability_zone,
        "lifecycle_state": i.lifecycle_state,
        "health_status": "Healthy",
        "launch_template": group.launch_template,
        "protected_from_scale_in": i.protected_from_scale_in,
    }


def group_view(store: Store, group: InstanceGroup) -> dict[str, Any]:
    """A group as Auto Scaling's AutoScalingGroup shape shows it."""
    return {
        "auto_scaling_group_name": group.auto_scaling_group_name,
        "auto_scaling_group_arn": group.auto_scaling_group_arn,
        "launch_template": group.launch_template,
        "mixed_instances_policy": policy_view(group.mixed_instances_policy),
        "min_size": group.min_size,
        "max_size": group.max_size,
        "desired_capacity": group.desired_capacity,
        "default_cooldown": DEFAULT_COOLDOWN,
        "availability_zones": list(group.availability_zones),
        "health_check_type": "EC2",
        "health_check_grace_period": 0,
        "instances": [instance_view(group, i) for i in instances_of(store, group)],
        "created_time": group.created_at,
        "vpc_zone_identifier": group.vpc_zone_identifier,
        "status": group.status,
        "tags": [
            {"resource_id": group.auto_scaling_group_name,
             "resource_type": "auto-scaling-group", "key": t.key, "value": t.value,
             "propagate_at_launch": t.propagate_at_launch}
            for t in group.tags
        ],
        "termination_policies": ["Default"],
        "new_instances_protected_from_scale_in": group.new_instances_protected_from_scale_in,
        "service_linked_role_arn": (
            f"arn:aws:iam::{group.auto_scaling_group_arn.split(':')[4]}:role/aws-service-role/"
            "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
        ),
    }


def _matches(group: InstanceGroup, filters: Sequence[Mapping[str, Any]]) -> bool:
    for f in filters:
        name, values = f.get("name") or "", set(f.get("values") or ())
        if name == "tag-key":
            have = {t.key for t in group.tags}
        elif name == "tag-value":
            have = {t.value for t in group.tags}
        elif name.startswith("tag:"):
            have = {t.value for t in group.tags if t.key == name[4:]}
        else:
            raise AsgValidationError(
                f"Filter name '{name}' is not valid: use tag-key, tag-value or tag:<key>."
            )
        if not have & values:
            return False
    return True


def page(keys: list[str], next_token: str | None, max_records: int | None, limit: int) -> Any:
    """One page, with Auto Scaling's errors for a bad MaxRecords or NextToken."""
    if max_records is not None and not 1 <= max_records <= limit:
        raise AsgValidationError(f"MaxRecords must be between 1 and {limit}.")
    try:
        return paginate(keys, next_token, max_records, default=50, limit=limit)
    except InvalidParameterException:
        raise InvalidNextToken("The token passed in is not valid.") from None


def describe_auto_scaling_groups(
    store: Store,
    scope: Scope,
    *,
    auto_scaling_group_names: Sequence[str] | None = None,
    max_records: int | None = None,
    next_token: str | None = None,
    filters: Sequence[Mapping[str, Any]] | None = None,
    include_instances: bool | None = None,
    include_managed_resources: bool | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Named groups (names that match none are left out, as Auto Scaling does) or all."""
    known = groups_of(store, scope)
    names = [n for n in (auto_scaling_group_names or known) if n in known]
    names = [n for n in dict.fromkeys(names) if _matches(known[n], filters or ())]
    chosen = page(names, next_token, max_records, limit=100)
    views = [group_view(store, known[n]) for n in chosen.items]
    if include_instances is False:
        for v in views:
            v["instances"] = []
    return views, chosen.next_token
