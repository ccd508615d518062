"""A service's deployment settings and the PRIMARY deployment a change starts."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from portside.domain.ecs.service import Deployment, DeploymentConfiguration, Service
from portside.domain.errors import InvalidParameterException


def deployment_id() -> str:
    return f"ecs-svc/{secrets.randbelow(10**19):019d}"


def deployment_configuration(
    raw: Mapping[str, Any] | None, scheduling: str, base: DeploymentConfiguration | None = None
) -> DeploymentConfiguration:
    """``raw`` over ``base`` (ECS's defaults: 200/100 for REPLICA, 100/0 for DAEMON), checked."""
    if base is None:
        base = (
            DeploymentConfiguration(maximum_percent=100, minimum_healthy_percent=0)
            if scheduling == "DAEMON"
            else DeploymentConfiguration()
        )
    if not raw:
        return base
    cfg = dataclasses.replace(
        base,
        maximum_percent=raw.get("maximum_percent", base.maximum_percent),
        minimum_healthy_percent=raw.get("minimum_healthy_percent", base.minimum_healthy_percent),
        deployment_circuit_breaker=raw.get(
            "deployment_circuit_breaker", base.deployment_circuit_breaker
        ),
        alarms=raw.get("alarms", base.alarms),
    )
    if not 0 <= cfg.minimum_healthy_percent <= 100:
        raise InvalidParameterException("minimumHealthyPercent must be between 0 and 100.")
    if cfg.maximum_percent < 100 and scheduling == "REPLICA":
        raise InvalidParameterException("maximumPercent must be at least 100.")
    if cfg.maximum_percent <= cfg.minimum_healthy_percent and cfg.maximum_percent != 100:
        raise InvalidParameterException(
            "maximumPercent must be greater than minimumHealthyPercent."
        )
    return cfg


def connect_resources(cfg: Mapping[str, Any] | None) -> tuple[dict[str, Any], ...]:
    """A deployment's ``serviceConnectResources``: the Cloud Map service per discovery name."""
    return tuple(
        {"discovery_name": s["discovery_name"], "discovery_arn": s["discovery_arn"]}
        for s in (cfg or {}).get("services") or ()
        if s.get("discovery_arn")
    )


def primary_deployment(svc: Service, now: datetime) -> Deployment:
    """A new PRIMARY deployment of the service as it is now configured."""
    dep_id = deployment_id()
    return Deployment(
        id=dep_id,
        status="PRIMARY",
        task_definition=svc.task_definition,
        desired_count=svc.desired_count,
        created_at=now,
        updated_at=now,
        launch_type=svc.launch_type,
        capacity_provider_strategy=svc.capacity_provider_strategy,
        platform_version=svc.platform_version,
        network_configuration=svc.network_configuration,
        rollout_state_reason=f"ECS deployment {dep_id} in progress.",
        service_connect_configuration=svc.service_connect_configuration,
        service_connect_resources=connect_resources(svc.service_connect_configuration),
    )


def start_deployment(svc: Service, now: datetime) -> tuple[Deployment, ...]:
    """The deployments after a change that needs one: the new PRIMARY first, the rest ACTIVE.

    The newest INACTIVE deployment is kept (hidden from DescribeServices): the
    circuit breaker may roll back to it.
    """
    inactive = [d for d in svc.deployments if d.status == "INACTIVE"][:1]
    return (
        primary_deployment(svc, now),
        *(
            dataclasses.replace(d, status="ACTIVE", updated_at=now)
            for d in svc.deployments
            if d.status != "INACTIVE"
        ),
        *inactive,
    )
