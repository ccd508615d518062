"""Checks shared by RunTask, StartTask and services: where may this task definition run?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portside.domain.ecs.capacity_provider import FARGATE_PROVIDERS
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.model import StrategyItem
from portside.domain.errors import InvalidParameterException
from portside.domain.scope import Scope
from portside.store.store import Store


def launch_target(
    store: Store,
    scope: Scope,
    cluster: Cluster,
    td: Any,
    launch_type: str | None,
    raw_strategy: Sequence[Mapping[str, Any]] | None,
) -> tuple[str | None, tuple[StrategyItem, ...]]:
    """The launch type or capacity provider strategy a request runs with, checked.

    Both together are refused as ECS refuses them; neither means the cluster's
    default strategy, or EC2 when the cluster has none.
    """
    from portside.domain.ecs.clusters import strategy

    if launch_type and raw_strategy:
        raise InvalidParameterException(
            "Specifying both a launchType and capacityProviderStrategy is not supported."
        )
    items = strategy(raw_strategy)
    if not launch_type and not items:
        items = cluster.default_capacity_provider_strategy
        launch_type = None if items else "EC2"
    check_launch_target(store, scope, cluster, td, launch_type, items)
    return launch_type, items


def check_launch_target(
    store: Store,
    scope: Scope,
    cluster: Cluster,
    td: Any,
    launch_type: str | None,
    strategy: Sequence[StrategyItem],
) -> None:
    """The launch type or capacity provider strategy must suit the cluster and definition."""
    compat = set(td.compatibilities or ())
    if launch_type and compat and launch_type not in compat:
        raise InvalidParameterException(
            f"Task definition does not support launch_type {launch_type}."
        )
    if launch_type == "EXTERNAL" and td.network_mode == "awsvpc":
        raise InvalidParameterException(
            "The EXTERNAL launch type does not support the awsvpc network mode."
        )
    names = [s.capacity_provider for s in strategy]
    for name in names:
        if name not in cluster.capacity_providers:
            raise InvalidParameterException(
                "The specified capacity provider strategy cannot contain a capacity provider "
                f"that is not associated with the cluster ({name}). Associate it with "
                "PutClusterCapacityProviders first."
            )
    fargate = [n in FARGATE_PROVIDERS for n in names]
    if any(fargate) and not all(fargate):
        raise InvalidParameterException(
            "The specified capacity provider strategy cannot contain a mix of capacity "
            "providers using Auto Scaling groups and Fargate providers."
        )
    if any(fargate) and compat and "FARGATE" not in compat:
        raise InvalidParameterException("Task definition does not support launch_type FARGATE.")


def check_network(td: Any, network_configuration: Mapping[str, Any] | None) -> None:
    """awsvpc needs an awsvpcConfiguration with subnets; other modes must not have one."""
    if td.network_mode == "awsvpc":
        vpc = (network_configuration or {}).get("awsvpc_configuration")
        if not vpc:
            raise InvalidParameterException(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified."
            )
        if not vpc.get("subnets"):
            raise InvalidParameterException("subnets can not be empty.")
    elif network_configuration:
        raise InvalidParameterException(
            "Network Configuration is not valid for the given networkMode of this task definition."
        )


def require_active(td: Any) -> None:
    """New tasks and deployments only from ACTIVE revisions (ECS: "TaskDefinition is inactive")."""
    from portside.domain.ecs.task_definitions import usable_for_new_tasks
    from portside.domain.errors import ClientException

    if not usable_for_new_tasks(td):
        raise ClientException("TaskDefinition is inactive")
