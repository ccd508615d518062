"""What a cluster asks of its capacity providers: busy instances and waiting work.

One pass over a cluster's tasks gives, for every provider at once:

- the container instances holding at least one non-daemon task (what managed
  scaling counts as needed, and managed termination protection protects);
- the work waiting for each provider, grouped by identical requirements (the
  scheduler's :class:`~portside.scheduler.model.TaskRequest`): tasks recorded
  in PROVISIONING without an instance (RunTask's, and the service tasks an
  Auto Scaling provider had no room for: controllers/launch.py records them so,
  as ECS does), a service's under its own placement request; and each
  service's remaining shortfall, counted as its REPLICA scheduler counts
  launches (desired minus the primary deployment's tasks on ACTIVE instances
  or waiting in PROVISIONING, within maximumPercent) and split over the
  providers of its strategy exactly as it splits launches
  (``placement.split_by_strategy``, base then weight, counting the service's
  tasks already on each provider). A waiting task counts among the kept
  ones, so it is never counted twice.

Tasks without a capacity provider strategy (a launch type instead) ask no
provider for anything, as in ECS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portside.controllers.fenceposts import resolve_fenceposts
from portside.controllers.snapshot import Snapshot
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.ecs.service import Service
from portside.domain.ecs.task import Task
from portside.domain.ecs.task_definition import TaskDefinition
from portside.scheduler.model import TaskRequest


@dataclass(slots=True)
class Demand:
    """Waiting tasks of one requirement: how many, and whose."""

    count: int = 0
    services: dict[str, int] = field(default_factory=dict)
    """Service ARN -> tasks of its shortfall."""
    tasks: list[str] = field(default_factory=list)
    """ARNs of tasks recorded in PROVISIONING without an instance."""


@dataclass(slots=True)
class Workload:
    busy: set[str] = field(default_factory=set)
    """Container instances (ARNs) holding a non-daemon task that has not STOPPED."""
    occupied: set[str] = field(default_factory=set)
    """Container instances holding any task that has not STOPPED."""
    waiting: dict[str, dict[TaskRequest, Demand]] = field(default_factory=dict)
    """Provider name -> requirement -> the work waiting for it."""
    service_names: dict[str, str] = field(default_factory=dict)

    def add(self, provider: str, req: TaskRequest, n: int, *, service: str | None = None,
            task: str | None = None) -> None:  # fmt: skip
        d = self.waiting.setdefault(provider, {}).setdefault(req, Demand())
        d.count += n
        if service is not None:
            d.services[service] = d.services.get(service, 0) + n
        if task is not None:
            d.tasks.append(task)


@dataclass(slots=True)
class _Counts:
    counted: int = 0
    kept: int = 0
    providers: dict[str, int] = field(default_factory=dict)


def workload(snapshot: Snapshot, cluster_arn: str) -> Workload:
    """Busy instances and waiting work of one cluster (see the module docstring)."""
    services: Mapping[str, Service] = snapshot.children(Service.KIND, cluster_arn)
    daemons = {arn for arn, s in services.items() if s.scheduling_strategy == "DAEMON"}
    primaries = {
        arn: s.primary.id for arn, s in services.items() if s.primary is not None
    }
    out = Workload(service_names={arn: s.service_name for arn, s in services.items()})
    counts: dict[str, _Counts] = {}
    requests = _Requests(snapshot)
    draining: dict[str, bool] = {}
    occupied, busy = out.occupied, out.busy  # (hot loop: every task of the cluster)
    for t in snapshot.children(Task.KIND, cluster_arn).values():
        if t.last_status == "STOPPED":
            continue
        inst = t.container_instance_arn
        if inst is not None:
            occupied.add(inst)
            if t.service_arn not in daemons:
                busy.add(inst)
        elif t.last_status == "PROVISIONING" and t.capacity_provider_name:
            svc = services.get(t.service_arn) if t.service_arn else None
            req = (
                requests.of_service(svc, t.task_definition_arn, t.launch_type) if svc
                else requests.of_task(t)
            )  # fmt: skip
            if req is not None:
                out.add(t.capacity_provider_name, req, 1, task=t.task_arn,
                        service=t.service_arn)  # fmt: skip
        if t.service_arn is None or t.service_arn in daemons:
            continue
        c = counts.get(t.service_arn)
        if c is None:
            c = counts[t.service_arn] = _Counts()
        c.counted += 1
        if t.desired_status != "RUNNING":
            continue
        if t.capacity_provider_name:
            c.providers[t.capacity_provider_name] = c.providers.get(t.capacity_provider_name, 0) + 1
        if t.started_by == primaries.get(t.service_arn) and not (
            draining[inst] if inst in draining else _on_draining(snapshot, inst, draining)
        ):
            c.kept += 1
    for arn, svc in services.items():
        if svc.status != "ACTIVE" or arn in daemons:
            continue
        _shortfall(out, svc, counts.get(arn) or _Counts(), requests)
    return out


def _on_draining(snapshot: Snapshot, arn: str | None, seen: dict[str, bool]) -> bool:
    if arn is None:
        return False
    if arn not in seen:
        inst = snapshot.get(ContainerInstance.KIND, arn)
        seen[arn] = not isinstance(inst, ContainerInstance) or inst.status != "ACTIVE"
    return seen[arn]


def _shortfall(out: Workload, svc: Service, c: _Counts, requests: _Requests) -> None:
    """The service's tasks its scheduler would launch but cannot place, per provider."""
    from portside.domain.ecs.placement import split_by_strategy

    primary = svc.primary
    if primary is None or not primary.capacity_provider_strategy:
        return
    if primary.rollout_state == "FAILED":
        return
    cfg = svc.deployment_configuration
    _, max_total = resolve_fenceposts(
        svc.desired_count, cfg.minimum_healthy_percent, cfg.maximum_percent
    )
    launches = max(0, min(svc.desired_count - c.kept, max_total - c.counted))
    if launches == 0:
        return
    req = requests.of_service(svc, primary.task_definition, primary.launch_type)
    if req is None:
        return
    chosen = split_by_strategy(primary.capacity_provider_strategy, launches, dict(c.providers))
    for provider in dict.fromkeys(chosen):
        out.add(provider, req, chosen.count(provider), service=svc.service_arn)


class _Requests:
    """Scheduler requests per task definition (and service), built once per pass."""

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self._cache: dict[tuple[str, str | None], TaskRequest | None] = {}

    def _td(self, arn: str) -> Any:
        td = self.snapshot.get(TaskDefinition.KIND, arn)
        return td if isinstance(td, TaskDefinition) else None

    def of_service(self, svc: Service, td_arn: str, launch_type: str | None) -> TaskRequest | None:
        key = (td_arn, svc.service_arn)
        if key not in self._cache:
            from portside.domain.ecs.placement import task_request
            from portside.domain.ecs.task_definitions import task_reservation

            td = self._td(td_arn)
            self._cache[key] = None if td is None else task_request(
                td, task_reservation(td), group=svc.group, launch_type=launch_type,
                constraints=[*svc.placement_constraints, *td.placement_constraints],
                strategies=svc.placement_strategy,
            )  # fmt: skip
        return self._cache[key]

    def of_task(self, t: Task) -> TaskRequest | None:
        key = (t.task_definition_arn, f"task:{t.group}:{t.reserved}")
        if key not in self._cache:
            from portside.domain.ecs.placement import task_request

            td = self._td(t.task_definition_arn)
            self._cache[key] = None if td is None else task_request(
                td, t.reserved, group=t.group or "", launch_type=t.launch_type,
                constraints=list(td.placement_constraints),
            )  # fmt: skip
        return self._cache[key]
