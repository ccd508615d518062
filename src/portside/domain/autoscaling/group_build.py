"""An Auto Scaling group from a CreateAutoScalingGroup request: shared by the API and the simulator.

The request is the snake_case form botocore's model gives (``min_size``,
``mixed_instances_policy``…). Where its instance types come from, and which
Availability Zone a subnet is in, are questions the caller answers: the server
looks templates up in the store and knows no subnets; the simulator looks them
up in the scenario. Everything else — bounds, zones, the instance types of a
launch template or a MixedInstancesPolicy, Spot, the launcher tags — is decided
here, once.

Launcher tags (see docs/autoscaling.md):

- ``portside:launcher`` = ``local`` (the default) or ``command``;
- ``portside:launch-command`` and ``portside:terminate-command``: the shell
  commands of the ``command`` launcher (the launch command is required).

The simulator passes ``launcher="simulated"``, which wins over the tags.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from portside.controllers.capacity_model import GroupTag, InstanceGroup, InstanceSpec
from portside.domain.autoscaling.errors import AsgValidationError
from portside.domain.autoscaling.instance_types import (
    Catalogue,
    UnknownInstanceType,
    instance_spec,
)
from portside.domain.scope import Scope

LAUNCHER_TAG = "portside:launcher"
LAUNCH_COMMAND_TAG = "portside:launch-command"
TERMINATE_COMMAND_TAG = "portside:terminate-command"
LAUNCHERS = ("local", "command")
DEFAULT_LAUNCHER = "local"


@dataclass(frozen=True, slots=True)
class ResolvedTemplate:
    """A launch template a group names: its id, name and LaunchTemplateData (snake_case)."""

    launch_template_id: str
    launch_template_name: str
    data: Mapping[str, Any]


TemplateLookup = Callable[[Mapping[str, Any]], ResolvedTemplate]
"""LaunchTemplateSpecification (snake_case) -> the template; raises an AwsError if none."""
ZoneLookup = Callable[[str], str]
"""Subnet id -> its Availability Zone; raises an AwsError if unknown."""


def group_arn(scope: Scope, name: str) -> str:
    """A group's ARN; its id is derived from the name, so a replayed run names it alike."""
    group_id = uuid.uuid5(uuid.NAMESPACE_URL, name)
    return scope.arn("autoscaling", f"autoScalingGroup:{group_id}:autoScalingGroupName/{name}")


def check_sizes(min_size: int, max_size: int, desired: int) -> None:
    if max_size < min_size:
        raise AsgValidationError(
            f"Max bound, {max_size}, must be greater than or equal to min bound, {min_size}"
        )
    if not min_size <= desired <= max_size:
        raise AsgValidationError(
            f"Desired capacity:{desired} must be between the specified min size:{min_size} "
            f"and max size:{max_size}"
        )


@dataclass(frozen=True, slots=True)
class Types:
    """What a group's launch template or MixedInstancesPolicy resolves to."""

    specs: tuple[InstanceSpec, ...]
    spot: bool
    launch_template: dict[str, Any] | None
    mixed_instances_policy: Any


def resolve_types(
    p: Mapping[str, Any], template_of: TemplateLookup, catalogue: Catalogue
) -> Types:
    """The instance types (priority order) of a LaunchTemplate or a MixedInstancesPolicy."""
    mixed = p.get("mixed_instances_policy")
    plain = p.get("launch_template")
    ref = (mixed or {}).get("launch_template", {}).get("launch_template_specification")
    if bool(plain) == bool(mixed) or (mixed and not ref):
        raise AsgValidationError(
            "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, "
            "InstanceId or MixedInstancesPolicy parameter."
        )
    chosen: Mapping[str, Any] = ref or plain or {}
    template = template_of(chosen)
    data = template.data
    overrides = (mixed or {}).get("launch_template", {}).get("overrides") or ()
    names = [o["instance_type"] for o in overrides if o.get("instance_type")]
    if not names and data.get("instance_type"):
        names = [data["instance_type"]]
    if not names:
        raise AsgValidationError(
            "no instance type: set LaunchTemplateData.InstanceType or "
            "MixedInstancesPolicy overrides"
        )
    try:
        specs = tuple(instance_spec(catalogue[n]) for n in names)
    except UnknownInstanceType as exc:
        raise AsgValidationError(str(exc)) from None
    market = (data.get("instance_market_options") or {}).get("market_type")
    spec = {
        "launch_template_id": template.launch_template_id,
        "launch_template_name": template.launch_template_name,
        "version": chosen.get("version") or "$Default",
    }
    return Types(specs, market == "spot", None if mixed else spec, mixed)


def _launcher(tags: Sequence[GroupTag]) -> tuple[str, str | None, str | None]:
    by_key = {t.key: t.value for t in tags}
    launcher = by_key.get(LAUNCHER_TAG, DEFAULT_LAUNCHER)
    if launcher not in LAUNCHERS:
        raise AsgValidationError(
            f"Tag {LAUNCHER_TAG}={launcher!r} is not a portside launcher: use "
            f"{' or '.join(LAUNCHERS)}."
        )
    launch, terminate = by_key.get(LAUNCH_COMMAND_TAG), by_key.get(TERMINATE_COMMAND_TAG)
    if launcher == "command" and not launch:
        raise AsgValidationError(
            f"The command launcher needs the tag {LAUNCH_COMMAND_TAG} (and usually "
            f"{TERMINATE_COMMAND_TAG}): the shell commands that start and stop an instance."
        )
    return launcher, launch, terminate


def parse_tags(raw: Sequence[Mapping[str, Any]] | None) -> tuple[GroupTag, ...]:
    return tuple(
        GroupTag(t["key"], t.get("value") or "", bool(t.get("propagate_at_launch")))
        for t in raw or ()
    )


def build_group(
    p: Mapping[str, Any],
    *,
    scope: Scope,
    now: datetime,
    template_of: TemplateLookup,
    zone_of: ZoneLookup,
    catalogue: Catalogue,
    launcher: str | None = None,
) -> InstanceGroup:
    """The group a CreateAutoScalingGroup request makes; AsgValidationError if it cannot."""
    name = p["auto_scaling_group_name"]
    if p.get("launch_configuration_name") or p.get("instance_id"):
        raise AsgValidationError(
            "portside serves launch templates only: give LaunchTemplate or "
            "MixedInstancesPolicy instead of LaunchConfigurationName or InstanceId."
        )
    types = resolve_types(p, template_of, catalogue)
    zones = list(p.get("availability_zones") or [])
    subnets = [s.strip() for s in (p.get("vpc_zone_identifier") or "").split(",") if s.strip()]
    zones += [zone_of(s) for s in subnets]
    if not zones:
        raise AsgValidationError("At least one Availability Zone or VPC Subnet is required.")
    min_size, max_size = p["min_size"], p["max_size"]
    desired = p.get("desired_capacity", min_size)
    check_sizes(min_size, max_size, desired)
    dist = (p.get("mixed_instances_policy") or {}).get("instances_distribution") or {}
    pct = dist.get("on_demand_percentage_above_base_capacity", 100)
    tags = parse_tags(p.get("tags"))
    chosen, launch, terminate = _launcher(tags)
    return InstanceGroup(
        auto_scaling_group_arn=group_arn(scope, name),
        auto_scaling_group_name=name,
        created_at=now,
        instance_types=types.specs,
        availability_zones=tuple(dict.fromkeys(zones)),
        min_size=min_size,
        max_size=max_size,
        desired_capacity=desired,
        new_instances_protected_from_scale_in=bool(p.get("new_instances_protected_from_scale_in")),
        on_demand_base_capacity=dist.get("on_demand_base_capacity", 0),
        on_demand_percentage_above_base_capacity=0 if types.spot else pct,
        launcher=launcher or chosen,
        launch_command=launch,
        terminate_command=terminate,
        tags=tags,
        launch_template=types.launch_template,
        mixed_instances_policy=types.mixed_instances_policy,
        vpc_zone_identifier=",".join(subnets) or None,
    )
