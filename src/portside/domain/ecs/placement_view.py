"""The scheduler's snapshot of a cluster: each container instance and what is left on it.

RunTask, StartTask and the service controller call :func:`instance_states`
and hand the result to ``scheduler.engine.place``. What an instance has left
is its registered resources minus the reservations of its tasks that are not
STOPPED; its task groups count the tasks not meant to stop. Deregistered
(INACTIVE) instances are not part of the snapshot; DRAINING ones are, so the
engine can say why it passed them over.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from portside.domain.ecs.cluster import Cluster
from portside.domain.ecs.container_instance import ContainerInstance, Usage, usage
from portside.scheduler.model import InstanceState


class Reader(Protocol):
    """The part of the store (or a controller's snapshot) this needs."""

    def children(self, kind: str, parent: str) -> Mapping[str, Any]: ...


def instance_states(store: Reader, cluster: Cluster | str) -> list[InstanceState]:
    """Every registered instance of ``cluster`` (a Cluster or its ARN), in registration order."""
    arn = cluster if isinstance(cluster, str) else cluster.cluster_arn
    used = usage(store.children("task", arn).values())
    return [
        instance_state(inst, used.get(inst.container_instance_arn))
        for inst in store.children(ContainerInstance.KIND, arn).values()
        if isinstance(inst, ContainerInstance) and inst.registered
    ]


def instance_state(inst: ContainerInstance, used: Usage | None) -> InstanceState:
    """One instance as the scheduler (and the cluster query language) sees it."""
    u = used or Usage()
    slots = inst.eni_slots
    return InstanceState(
        arn=inst.container_instance_arn,
        ec2_instance_id=inst.ec2_instance_id,
        attributes={a.name: a.value or "" for a in inst.attributes},
        registered_at=inst.registered_at,
        status=inst.status,
        agent_connected=inst.agent_connected,
        agent_version=inst.version_info.agent_version if inst.version_info else None,
        external=inst.external,
        cpu=inst.cpu - u.cpu,
        memory=inst.memory - u.memory,
        registered_cpu=inst.cpu,
        registered_memory=inst.memory,
        ports=inst.ports | u.ports,
        ports_udp=inst.ports_udp | u.ports_udp,
        gpus=tuple(g for g in inst.gpus if g not in u.gpus),
        eni_slots=None if slots is None else slots - u.enis,
        running_tasks_count=u.running_tasks_count,
        pending_tasks_count=u.pending_tasks_count,
        groups=dict(u.groups),
    )
