"""Scenario files: what a simulation starts from and what happens to it.

A scenario is YAML (or JSON). Resources are written exactly as the AWS API
requests that create them — what a script already sends to ECS, EC2 Auto
Scaling and EC2 — and each is checked against botocore's model for that
operation, the same check the server makes. The format is documented in
docs/simulator.md; in short::

    name, seed, start, duration, settings, instanceTypes, subnets
    launchTemplates      EC2 CreateLaunchTemplate requests
    autoScalingGroups    Auto Scaling CreateAutoScalingGroup requests
    taskDefinitions      ECS RegisterTaskDefinition requests
    capacityProviders    ECS CreateCapacityProvider requests
    clusters             ECS CreateCluster requests
    services             ECS CreateService requests
    schedules            desired counts over time (steps or a daily cycle)
    events               at: TIME plus one of: an ECS request (updateService, …),
                         azOutage, spotInterruption

Errors name the place in the file (``events[3].updateService: …``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import yaml

from portside.aws.errors import SerializationException, ValidationError
from portside.aws.shapes import decode_input
from portside.domain.autoscaling.instance_types import InstanceType

DEFAULT_START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
ECS_EVENTS = {
    "registerTaskDefinition": "RegisterTaskDefinition",
    "createService": "CreateService",
    "updateService": "UpdateService",
    "deleteService": "DeleteService",
    "updateCapacityProvider": "UpdateCapacityProvider",
    "putClusterCapacityProviders": "PutClusterCapacityProviders",
}
SIM_EVENTS = ("azOutage", "spotInterruption", "fargateSpotInterruption")
_session = botocore.session.get_session()


class ScenarioError(ValueError):
    """The scenario file is not valid; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Settings:
    tick: timedelta = timedelta(minutes=1)
    instance_boot: timedelta = timedelta(seconds=120)
    """From launch to the container instance registering."""
    task_start: timedelta = timedelta(seconds=30)
    """From placement to RUNNING."""
    task_stop: timedelta = timedelta(seconds=30)
    """From a stop request to STOPPED (the container's stop timeout)."""
    spot_price_factor: float = 0.35
    """Spot price as a share of on-demand (an assumption: Spot prices move)."""
    spot_warning: timedelta = timedelta(minutes=2)
    stopped_retention: timedelta = timedelta(minutes=15)
    """How long STOPPED tasks and deregistered instances stay visible."""


@dataclass(frozen=True, slots=True)
class Request:
    """One API request: the operation, its snake_case parameters, and its place in the file."""

    operation: str
    params: dict[str, Any]
    where: str


@dataclass(frozen=True, slots=True)
class Event:
    at: timedelta
    kind: str  # an ECS operation name, or azOutage | spotInterruption | fargateSpotInterruption
    params: dict[str, Any]
    where: str


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    seed: int
    start: datetime
    duration: timedelta
    region: str = "us-east-1"
    account: str = "000000000000"
    settings: Settings = Settings()
    instance_types: dict[str, InstanceType] = field(default_factory=dict)
    subnets: dict[str, str] = field(default_factory=dict)
    launch_templates: tuple[Request, ...] = ()
    groups: tuple[Request, ...] = ()
    ecs: tuple[Request, ...] = ()
    """Task definitions, capacity providers, clusters, services: in that order."""
    events: tuple[Event, ...] = ()


# -- durations ---------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)")


def duration(value: Any, where: str) -> timedelta:
    """``90``, ``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"`` (a bare number is seconds)."""
    if isinstance(value, bool):
        raise ScenarioError(f"{where}: expected a duration such as 90s, 15m or 2h")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            unit = {"d": 86400, "h": 3600, "m": 60, "s": 1}
            return timedelta(seconds=sum(float(n) * unit[u] for n, u in parts))
    raise ScenarioError(f"{where}: {value!r} is not a duration (use 90s, 15m, 2h, 1h30m)")


# -- requests ----------------------------------------------------------------


def _request(service: str, operation: str, raw: Any, where: str) -> Request:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: expected the {operation} request as a mapping")
    model = _session.get_service_model(service).operation_model(operation)
    body = json.loads(json.dumps(raw, default=str))
    # EC2's model lists the instance types it knows; the catalogue (and the scenario's own
    # instanceTypes) decide here, so a custom type passes the model check.
    data: Any = body.get("LaunchTemplateData") if operation == "CreateLaunchTemplate" else None
    custom = data.get("InstanceType") if isinstance(data, dict) else None
    if isinstance(data, dict) and isinstance(custom, str):
        data["InstanceType"] = "m5.large"
    try:
        params = decode_input(model.input_shape, body)
    except (ValidationError, SerializationException) as exc:
        text = str(exc)
        text = text if len(text) < 400 else text[:400] + " …"
        raise ScenarioError(f"{where} ({service} {operation}): {text}") from None
    if isinstance(custom, str):
        params["launch_template_data"]["instance_type"] = custom
    return Request(operation, params, where)


def _list(doc: Mapping[str, Any], key: str) -> list[Any]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise ScenarioError(f"{key}: expected a list")
    return value


def load(path: str | Path) -> Scenario:
    """Read and check a scenario file."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{p}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise ScenarioError(f"{p}: {exc.strerror}") from None
    return parse(doc, default_name=p.stem)


def parse(doc: Any, default_name: str = "scenario") -> Scenario:
    if not isinstance(doc, Mapping):
        raise ScenarioError("the scenario must be a mapping at the top level")
    known = {
        "name", "seed", "start", "duration", "region", "account", "settings", "instanceTypes",
        "subnets", "launchTemplates", "autoScalingGroups", "taskDefinitions",
        "capacityProviders", "clusters", "services", "schedules", "events", "description",
    }  # fmt: skip
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ScenarioError(f"unknown top-level keys: {', '.join(unknown)}")
    start = doc.get("start", DEFAULT_START)
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            raise ScenarioError(f"start: {start!r} is not an ISO 8601 time") from None
    if not isinstance(start, datetime):
        raise ScenarioError("start: expected an ISO 8601 time")
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    ecs: list[Request] = []
    for key, op in (("taskDefinitions", "RegisterTaskDefinition"),
                    ("capacityProviders", "CreateCapacityProvider"),
                    ("clusters", "CreateCluster"), ("services", "CreateService")):  # fmt: skip
        ecs += [_request("ecs", op, r, f"{key}[{i}]") for i, r in enumerate(_list(doc, key))]
    seed = doc.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ScenarioError("seed: expected an integer")
    total = duration(doc.get("duration", "1h"), "duration")
    if total <= timedelta(0):
        raise ScenarioError("duration: must be positive")
    events = [_event(e, f"events[{i}]") for i, e in enumerate(_list(doc, "events"))]
    for i, s in enumerate(_list(doc, "schedules")):
        events += _schedule(s, f"schedules[{i}]", total)
    subnets = doc.get("subnets") or {}
    if not isinstance(subnets, Mapping):
        raise ScenarioError("subnets: expected a mapping of subnet id to Availability Zone")
    return Scenario(
        name=str(doc.get("name") or default_name),
        seed=seed,
        start=start,
        duration=total,
        region=str(doc.get("region", "us-east-1")),
        account=str(doc.get("account", "000000000000")),
        settings=_settings(doc.get("settings") or {}),
        instance_types=_types(_list(doc, "instanceTypes")),
        subnets={str(k): str(v) for k, v in subnets.items()},
        launch_templates=tuple(
            _request("ec2", "CreateLaunchTemplate", r, f"launchTemplates[{i}]")
            for i, r in enumerate(_list(doc, "launchTemplates"))
        ),
        groups=tuple(
            _request("autoscaling", "CreateAutoScalingGroup", r, f"autoScalingGroups[{i}]")
            for i, r in enumerate(_list(doc, "autoScalingGroups"))
        ),
        ecs=tuple(ecs),
        events=tuple(sorted(events, key=lambda e: e.at)),
    )


def _settings(raw: Any) -> Settings:
    if not isinstance(raw, Mapping):
        raise ScenarioError("settings: expected a mapping")
    names = {
        "tick": "tick", "instanceBoot": "instance_boot", "taskStart": "task_start",
        "taskStop": "task_stop", "spotWarning": "spot_warning",
        "stoppedRetention": "stopped_retention",
    }  # fmt: skip
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in names:
            values[names[key]] = duration(value, f"settings.{key}")
        elif key == "spotPriceFactor":
            if not isinstance(value, int | float) or not 0 < value <= 1:
                raise ScenarioError("settings.spotPriceFactor: a number in (0, 1]")
            values["spot_price_factor"] = float(value)
        else:
            raise ScenarioError(f"settings.{key}: unknown setting")
    s = Settings(**values)
    if s.tick <= timedelta(0):
        raise ScenarioError("settings.tick: must be positive")
    return s


def _types(raw: Sequence[Any]) -> dict[str, InstanceType]:
    out: dict[str, InstanceType] = {}
    for i, t in enumerate(raw):
        where = f"instanceTypes[{i}]"
        try:
            out[t["name"]] = InstanceType(
                t["name"], int(t["vcpus"]), int(t["memoryMiB"]), int(t.get("maxEnis", 3)),
                str(t.get("architecture", "x86_64")), float(t.get("pricePerHour", 0.0)),
                int(t.get("gpus", 0)),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ScenarioError(
                f"{where}: needs name, vcpus and memoryMiB (and optionally maxEnis, "
                f"architecture, pricePerHour, gpus): {exc}"
            ) from None
    return out


def _event(raw: Any, where: str) -> Event:
    if not isinstance(raw, Mapping) or "at" not in raw:
        raise ScenarioError(f"{where}: expected a mapping with 'at' and one action")
    at = duration(raw["at"], f"{where}.at")
    actions = [k for k in raw if k != "at"]
    if len(actions) != 1:
        raise ScenarioError(
            f"{where}: expected exactly one action besides 'at' (one of "
            f"{', '.join([*ECS_EVENTS, *SIM_EVENTS])})"
        )
    key = actions[0]
    body = raw[key]
    if key in ECS_EVENTS:
        req = _request("ecs", ECS_EVENTS[key], body, f"{where}.{key}")
        return Event(at, req.operation, req.params, req.where)
    if key == "azOutage":
        if not isinstance(body, Mapping) or "availabilityZone" not in body:
            raise ScenarioError(f"{where}.azOutage: needs availabilityZone (and duration)")
        params = {"availability_zone": str(body["availabilityZone"]),
                  "duration": duration(body.get("duration", "1h"), f"{where}.azOutage.duration")}
        return Event(at, key, params, f"{where}.azOutage")
    if key == "spotInterruption":
        if not isinstance(body, Mapping) or "autoScalingGroupName" not in body:
            raise ScenarioError(
                f"{where}.spotInterruption: needs autoScalingGroupName and count or fraction"
            )
        count, fraction = body.get("count"), body.get("fraction")
        if (count is None) == (fraction is None):
            raise ScenarioError(f"{where}.spotInterruption: give one of count or fraction")
        params = {"group": str(body["autoScalingGroupName"]), "count": count, "fraction": fraction}
        return Event(at, key, params, f"{where}.spotInterruption")
    if key == "fargateSpotInterruption":
        body = body if isinstance(body, Mapping) else {}
        count, fraction = body.get("count"), body.get("fraction")
        if (count is None) == (fraction is None):
            raise ScenarioError(f"{where}.fargateSpotInterruption: give one of count or fraction")
        return Event(at, key, {"count": count, "fraction": fraction},
                     f"{where}.fargateSpotInterruption")
    raise ScenarioError(
        f"{where}: unknown action {key!r} (use one of {', '.join([*ECS_EVENTS, *SIM_EVENTS])})"
    )


def _schedule(raw: Any, where: str, total: timedelta) -> list[Event]:
    """A service's desired count over time, as UpdateService events."""
    if not isinstance(raw, Mapping) or "service" not in raw:
        raise ScenarioError(f"{where}: needs service (and cluster), then desiredCount or dailyCycle")
    target = {"service": str(raw["service"])}
    if "cluster" in raw:
        target["cluster"] = str(raw["cluster"])
    points: list[tuple[timedelta, int]] = []
    if "desiredCount" in raw:
        for j, step in enumerate(raw["desiredCount"] or []):
            w = f"{where}.desiredCount[{j}]"
            if isinstance(step, Mapping) and {"at", "count"} <= set(step):
                points.append((duration(step["at"], w + ".at"), _count(step["count"], w)))
            elif isinstance(step, list | tuple) and len(step) == 2:
                points.append((duration(step[0], w), _count(step[1], w)))
            else:
                raise ScenarioError(f"{w}: expected {{at: TIME, count: N}}")
    elif "dailyCycle" in raw:
        points = daily_cycle(raw["dailyCycle"], f"{where}.dailyCycle", total)
    else:
        raise ScenarioError(f"{where}: needs desiredCount (steps) or dailyCycle")
    out: list[Event] = []
    last: int | None = None
    for at, n in sorted(points, key=lambda p: p[0]):
        if n != last:
            params = {**target, "desired_count": n}
            out.append(Event(at, "UpdateService", params, where))
            last = n
    return out


def _count(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ScenarioError(f"{where}: a desired count is a non-negative integer")
    return value


def daily_cycle(raw: Any, where: str, total: timedelta) -> list[tuple[timedelta, int]]:
    """A cosine between ``min`` (at ``peakAt`` - period/2) and ``max`` (at ``peakAt``),
    sampled ``every`` (the cadence a service's own auto scaling would change it at)."""
    if not isinstance(raw, Mapping) or not {"min", "max"} <= set(raw):
        raise ScenarioError(f"{where}: needs min and max (and peakAt, every, period)")
    lo, hi = _count(raw["min"], f"{where}.min"), _count(raw["max"], f"{where}.max")
    peak = duration(raw.get("peakAt", "14h"), f"{where}.peakAt")
    every = duration(raw.get("every", "15m"), f"{where}.every")
    period = duration(raw.get("period", "24h"), f"{where}.period")
    if every <= timedelta(0) or period <= timedelta(0):
        raise ScenarioError(f"{where}: every and period must be positive")
    out: list[tuple[timedelta, int]] = []
    t = timedelta(0)
    while t <= total:
        phase = 2 * math.pi * ((t - peak) / period)
        out.append((t, round(lo + (hi - lo) * (1 + math.cos(phase)) / 2)))
        t += every
    return out
