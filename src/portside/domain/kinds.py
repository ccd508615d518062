"""Every persisted resource class, by its store kind."""

from __future__ import annotations

from typing import Any

from portside.controllers.capacity_model import GroupInstance, InstanceGroup, ScalingState
from portside.domain.autoscaling.launch_template import LaunchTemplate
from portside.domain.ecs.account_setting import AccountSetting
from portside.domain.ecs.agent_credential import AgentCredential
from portside.domain.ecs.capacity_provider import CapacityProvider
from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.ecs.placement_record import PlacementRecord
from portside.domain.ecs.service import Service
from portside.domain.ecs.service_connect_authority import ServiceConnectAuthority
from portside.domain.ecs.service_deployment import ServiceDeployment, ServiceRevision
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import TaskDefinition, TaskDefinitionFamily
from portside.domain.servicediscovery.instance import Instance as SdInstance
from portside.domain.servicediscovery.namespace import Namespace as SdNamespace
from portside.domain.servicediscovery.operation import Operation as SdOperation
from portside.domain.servicediscovery.service import Service as SdService

KINDS: dict[str, type[Any]] = {
    cls.KIND: cls
    for cls in (
        Cluster,
        CapacityProvider,
        AccountSetting,
        AgentCredential,
        ContainerInstance,
        Service,
        ServiceDeployment, ServiceRevision,
        PlacementRecord,
        Task,
        TaskDefinition, TaskDefinitionFamily,
        SdNamespace, SdService, SdInstance, SdOperation,
        ServiceConnectAuthority,
        InstanceGroup, GroupInstance, ScalingState,
        LaunchTemplate,
    )
}
