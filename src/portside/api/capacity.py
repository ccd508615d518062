"""Managed scaling, visible: ``GET /metrics`` (Prometheus) and ``POST /_portside/capacity``.

``/metrics`` is the text exposition (format 0.0.4) of, per capacity provider
(labels ``capacity_provider``, ``cluster``): ``portside_capacity_provider_reservation``
(CapacityProviderReservation, percent), ``…_target_capacity``,
``…_instances_needed`` (M), ``…_instances_running`` (N), ``…_instances_warming``
and ``…_tasks_waiting``; per Auto Scaling group (label ``group``):
``portside_autoscaling_group_desired_capacity``, ``…_min_size``, ``…_max_size``
and ``portside_autoscaling_group_instances`` by ``availability_zone`` and
``lifecycle_state``; the counter ``portside_capacity_provider_scaling_actions_total``
(labels ``capacity_provider``, ``action``) of managed scaling's committed
decisions; and the Service Connect traffic of every cluster
(api/service_connect_metrics.py). Like most exporters it is not signed (a scraper cannot
sign); it names resources but holds no secret.

``/_portside/capacity`` is SigV4-signed like ``/_portside/explain`` (service
``ecs``), takes ``{"cluster": NAME?, "activities": N?}`` and answers
``{"providers": [...]}``: the reservation with M and N, the target, the
group's capacities, instances per zone, and with their causes the last N
(default 20) of each: ``decisions`` (managed scaling's: scale-out, scale-in,
cancel-scale-in, terminate), ``launcherSteps`` (launch, terminated,
launch-failed, …) and ``activities`` (both, interleaved), newest first.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from portside.api.app import App
from portside.api.own import signed_json
from portside.api.service_connect_metrics import ServiceConnectCollector
from portside.aws.errors import SerializationException
from portside.controllers.capacity import CapacityDecision, split
from portside.controllers.capacity_model import ScalingActivity
from portside.domain.ecs.capacity_status import ProviderStatus, capacity_status
from portside.domain.scope import Scope

PATH = "/_portside/capacity"
METRICS_PATH = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_ACTIVITIES = 20


def last_decisions(app: App) -> dict[str, CapacityDecision]:
    """Provider ARN -> managed scaling's last decision (waiting and unfit work), if it runs."""
    scaling = app.extras.get("capacity")
    return dict(getattr(scaling, "last", {}) or {})


def _actions(app: App) -> dict[tuple[str, str], int]:
    scaling = app.extras.get("capacity")
    return dict(getattr(scaling, "actions", {}) or {})


def _capacity(app: App, scope: Scope, params: dict[str, Any], now: datetime) -> dict[str, Any]:
    limit = params.get("activities", DEFAULT_ACTIVITIES)
    cluster = params.get("cluster")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise SerializationException("activities must be a non-negative integer.")
    if cluster is not None and not isinstance(cluster, str):
        raise SerializationException("cluster must be a string.")
    found = capacity_status(app.store, scope, cluster)
    last = last_decisions(app)
    return {"providers": [
        provider_json(s, last.get(s.provider.capacity_provider_arn), limit) for s in found
    ]}  # fmt: skip


handle_capacity = signed_json(_capacity)


def provider_json(s: ProviderStatus, last: CapacityDecision | None, limit: int) -> dict[str, Any]:
    st, g = s.state, s.group
    decisions, steps = split(st.activities if st else ())
    return {
        "name": s.provider.name,
        "capacityProviderArn": s.provider.capacity_provider_arn,
        "cluster": s.cluster,
        "managedScaling": s.managed,
        "targetCapacity": s.target,
        "reservation": st.reservation if st else None,
        "needed": st.needed if st else 0,
        "running": st.running if st else 0,
        "warming": st.warming if st else 0,
        "waiting": last.waiting if last else 0,
        "unfit": [{"count": u.count, "reason": u.reason, "detail": u.detail,
                   "services": list(u.services)} for u in (last.unfit if last else ())],
        "updatedAt": st.updated_at.isoformat() if st else None,
        "belowTargetSince": st.below_target_since.isoformat() if st and st.below_target_since else None,
        "group": None if g is None else {
            "name": g.auto_scaling_group_name, "arn": g.auto_scaling_group_arn,
            "desiredCapacity": g.desired_capacity, "minSize": g.min_size, "maxSize": g.max_size,
            "launcher": g.launcher, "instanceTypes": [t.name for t in g.instance_types],
            "availabilityZones": list(g.availability_zones),
        },
        "zones": s.zones,
        "instances": [{
            "instanceId": i.instance_id, "availabilityZone": i.availability_zone,
            "instanceType": i.instance_type, "lifecycleState": i.lifecycle_state,
            "protectedFromScaleIn": i.protected_from_scale_in,
            "containerInstanceArn": i.container_instance_arn,
            "launchedAt": i.launched_at.isoformat(), "statusReason": i.status_reason,
        } for i in s.instances],
        "decisions": [_activity(a) for a in decisions[:limit]],
        "launcherSteps": [_activity(a) for a in steps[:limit]],
        "activities": [_activity(a) for a in (st.activities[:limit] if st else ())],
    }  # fmt: skip


def _activity(a: ScalingActivity) -> dict[str, Any]:
    return {
        "at": a.at.isoformat(), "action": a.action, "capacityFrom": a.capacity_from,
        "capacityTo": a.capacity_to, "metric": a.metric, "metricValue": a.metric_value,
        "target": a.target, "cause": a.cause,
    }  # fmt: skip


class _Capacity(Collector):
    def __init__(self, found: list[ProviderStatus], last: dict[str, CapacityDecision],
                 actions: dict[tuple[str, str], int]):  # fmt: skip
        self.found, self.last, self.actions = found, last, actions

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        labels = ["capacity_provider", "cluster"]

        def gauge(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"portside_capacity_provider_{name}", doc, labels=labels)

        reservation = gauge("reservation", "CapacityProviderReservation: instances needed "
                                           "(M) / running past warm-up (N) x 100, in percent.")
        target = gauge("target_capacity", "The provider's managed scaling targetCapacity, percent.")
        needed = gauge("instances_needed", "M: instances needed (busy, plus waiting work).")
        running = gauge("instances_running", "N: instances in service past their warm-up.")
        warming = gauge("instances_warming", "Instances launched but not yet counted as capacity.")
        waiting = gauge("tasks_waiting", "Tasks waiting for the provider that an instance can hold.")
        g_labels = ["group"]
        desired = GaugeMetricFamily("portside_autoscaling_group_desired_capacity",
                                    "The group's desired capacity.", labels=g_labels)
        min_size = GaugeMetricFamily("portside_autoscaling_group_min_size",
                                     "The group's MinSize.", labels=g_labels)
        max_size = GaugeMetricFamily("portside_autoscaling_group_max_size",
                                     "The group's MaxSize.", labels=g_labels)
        instances = GaugeMetricFamily(
            "portside_autoscaling_group_instances",
            "The group's instances that are not Terminated, by zone and lifecycle state.",
            labels=["group", "availability_zone", "lifecycle_state"])  # fmt: skip
        for s in self.found:
            lv = [s.provider.name, s.cluster or ""]
            st = s.state
            if st is not None and st.reservation is not None:
                reservation.add_metric(lv, st.reservation)
            target.add_metric(lv, s.target)
            needed.add_metric(lv, st.needed if st else 0)
            running.add_metric(lv, st.running if st else 0)
            warming.add_metric(lv, st.warming if st else 0)
            d = self.last.get(s.provider.capacity_provider_arn)
            waiting.add_metric(lv, d.waiting if d else 0)
            if s.group is None:
                continue
            name = s.group.auto_scaling_group_name
            desired.add_metric([name], s.group.desired_capacity)
            min_size.add_metric([name], s.group.min_size)
            max_size.add_metric([name], s.group.max_size)
            for zone, states in sorted(s.zones.items()):
                for state, n in sorted(states.items()):
                    instances.add_metric([name, zone, state], n)
        yield from (reservation, target, needed, running, warming, waiting,
                    desired, min_size, max_size, instances)  # fmt: skip
        actions = CounterMetricFamily(
            "portside_capacity_provider_scaling_actions",
            "Managed scaling's decisions committed since the server started, by action "
            "(scale-out, scale-in, cancel-scale-in, terminate).",
            labels=["capacity_provider", "action"])  # fmt: skip
        for (provider, action), n in sorted(self.actions.items()):
            actions.add_metric([provider, action], n)
        yield actions


async def handle_metrics(request: web.Request) -> web.Response:
    from portside.api.server import APP_KEY
    from portside.runtime.agent_sessions import sessions_of

    app = request.app[APP_KEY]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Capacity(capacity_status(app.store, None), last_decisions(app),
                                _actions(app)))  # fmt: skip
    registry.register(ServiceConnectCollector(app.store, sessions_of(app).proxy_stats))
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE})
