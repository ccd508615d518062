"""Building the simulated world from a scenario, through the real ECS operations.

ECS requests (RegisterTaskDefinition, CreateCapacityProvider, CreateCluster,
CreateService, UpdateService, …) run through portside's domain operations —
the code behind the API — against the simulator's state, so a scenario is
checked and interpreted exactly as the server would. Auto Scaling groups and
launch templates become :class:`InstanceGroup` records, their instance types
resolved from the catalogue.

Two things the server draws at random are made repeatable here: deployment
ids are numbered in the order deployments are made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from portside.aws.errors import AwsError
from portside.controllers.capacity import find_group
from portside.controllers.capacity_model import InstanceGroup
from portside.domain.autoscaling.group_build import ResolvedTemplate, build_group
from portside.domain.autoscaling.instance_types import Catalogue
from portside.domain.ecs import capacity_providers, clusters, services, task_definitions
from portside.domain.ecs.capacity_provider import CapacityProvider
from portside.domain.ecs.service import Service
from portside.domain.scope import Scope
from portside.sim.scenario import Request, Scenario, ScenarioError
from portside.sim.state import SimState
from portside.store.store import Store

Op = Callable[[Store, Scope, datetime, dict[str, Any]], Any]

OPERATIONS: dict[str, Op] = {
    "RegisterTaskDefinition": lambda s, sc, now, p: task_definitions.register_task_definition(
        s, sc, now, **p
    ),
    "CreateCapacityProvider": lambda s, sc, now, p: capacity_providers.create_capacity_provider(
        s, sc, now, **p
    ),
    "UpdateCapacityProvider": lambda s, sc, now, p: capacity_providers.update_capacity_provider(
        s, sc, **p
    ),
    "CreateCluster": lambda s, sc, now, p: clusters.create_cluster(s, sc, now, **p),
    "PutClusterCapacityProviders": lambda s, sc, now, p: (
        clusters.put_cluster_capacity_providers(s, sc, **p)
    ),
    "CreateService": lambda s, sc, now, p: services.create_service(s, sc, now, **p),
    "UpdateService": lambda s, sc, now, p: services.update_service(s, sc, now, **p),
    "DeleteService": lambda s, sc, now, p: services.delete_service(s, sc, now, **p),
}


class World:
    """The state, plus what the simulator needs to run ECS requests against it."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.state = SimState()
        self.scope = Scope(scenario.account, scenario.region)
        self.catalogue = Catalogue(scenario.instance_types)
        self._deployments = 0
        self._known_deployments: set[str] = set()

    @property
    def store(self) -> Store:
        """The state as the domain's operations type it (it implements what they use)."""
        return cast(Store, self.state)

    def call(self, operation: str, params: Mapping[str, Any], now: datetime) -> Any:
        """Run one ECS request; AwsError propagates with ECS's message."""
        result = OPERATIONS[operation](self.store, self.scope, now, dict(params))
        if isinstance(result, Service):
            result = self._stable_deployments(result)
        return result

    def _stable_deployments(self, svc: Service) -> Service:
        renamed: dict[str, str] = {}
        for d in svc.deployments:
            if d.id not in self._known_deployments:
                self._deployments += 1
                renamed[d.id] = f"ecs-svc/{self._deployments:019d}"
        if not renamed:
            return svc
        deployments = tuple(
            dataclasses.replace(
                d, id=renamed.get(d.id, d.id),
                rollout_state_reason=(d.rollout_state_reason or "").replace(
                    d.id, renamed.get(d.id, d.id)) or None,
            )
            for d in svc.deployments
        )  # fmt: skip
        self._known_deployments.update(d.id for d in deployments)
        fixed = dataclasses.replace(svc, deployments=deployments)
        self.state.commit([fixed])
        return fixed

    # -- set-up --------------------------------------------------------------

    def build(self, now: datetime) -> None:
        templates = {r.params["launch_template_name"]: r for r in self.scenario.launch_templates}
        for r in self.scenario.groups:
            self.state.commit([self._group(r, templates, now)])
        for r in self.scenario.ecs:
            try:
                self.call(r.operation, r.params, now)
            except AwsError as exc:
                raise ScenarioError(f"{r.where} ({r.operation}): {exc.message}") from None
            if r.operation == "CreateCapacityProvider":
                self._check_provider(r)

    def _check_provider(self, r: Request) -> None:
        ref = r.params["auto_scaling_group_provider"]["auto_scaling_group_arn"]
        if find_group(self.state, ref) is None:
            raise ScenarioError(
                f"{r.where}: autoScalingGroupArn {ref!r} names no group under autoScalingGroups"
            )

    def _group(self, r: Request, templates: Mapping[str, Request], now: datetime) -> InstanceGroup:
        """The group, built by the same function CreateAutoScalingGroup uses."""

        def template_of(ref: Mapping[str, Any]) -> ResolvedTemplate:
            name = ref.get("launch_template_name") or ref.get("launch_template_id") or ""
            template = templates.get(name)
            if template is None:
                raise AwsError(f"launch template {name!r} is not under launchTemplates")
            data = template.params.get("launch_template_data") or {}
            return ResolvedTemplate(name, name, data)

        def zone_of(subnet: str) -> str:
            zone = self.scenario.subnets.get(subnet)
            if zone is None:
                raise AwsError(
                    f"subnet {subnet!r} is not under subnets (map each subnet id to its "
                    "Availability Zone)"
                )
            return zone

        try:
            return build_group(
                r.params, scope=self.scope, now=now, template_of=template_of, zone_of=zone_of,
                catalogue=self.catalogue, launcher="simulated",
            )  # fmt: skip
        except AwsError as exc:
            raise ScenarioError(f"{r.where}: {exc.message}") from None

    def provider_of_group(self, group_arn: str) -> CapacityProvider | None:
        for p in self.state.all(CapacityProvider.KIND).values():
            g = p.auto_scaling_group_provider
            if p.active and g is not None:
                found = find_group(self.state, g.auto_scaling_group_arn)
                if found is not None and found.auto_scaling_group_arn == group_arn:
                    return p  # type: ignore[no-any-return]
        return None
