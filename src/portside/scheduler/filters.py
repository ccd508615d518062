"""Filter plugins: can this task go on this instance? If not, ECS's reason why.

A filter is a small callable ``(request, node) -> reason | None``, after the
Kubernetes scheduler framework's Filter stage: "does not fit" is a returned
reason, not an exception. The pipeline runs in ECS's order (Developer Guide,
"Use strategies to define Amazon ECS task placement": first the instances
whose CPU, GPU, memory and ports satisfy the task, then those that satisfy the
placement constraints), after the checks that decide whether an instance takes
part at all (ACTIVE, launch type) and whether it can be reached (agent).

``static`` filters depend only on the snapshot and the request, so the engine
evaluates them once per instance per distinct request, not once per task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from portside.scheduler.model import (
    AGENT,
    ATTRIBUTE,
    DISTINCT_INSTANCE,
    LAUNCH_TYPE,
    MEMBER_OF,
    STATUS,
    TaskRequest,
)
from portside.scheduler.node import Node


def _always(req: TaskRequest) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    static: bool
    check: Callable[[TaskRequest, Node], str | None]
    applies: Callable[[TaskRequest], bool] = _always
    """False when ``check`` passes every instance for this request (nothing to check)."""


def _status(req: TaskRequest, node: Node) -> str | None:
    """Only ACTIVE instances receive new tasks; DRAINING ones never do."""
    return None if node.state.status == "ACTIVE" else STATUS


def _launch_type(req: TaskRequest, node: Node) -> str | None:
    """EXTERNAL tasks go only to external (ECS Anywhere) instances, EC2 tasks never to them."""
    return None if (req.launch_type == "EXTERNAL") == node.state.external else LAUNCH_TYPE


def _agent(req: TaskRequest, node: Node) -> str | None:
    return None if node.state.agent_connected else AGENT


def _attributes(req: TaskRequest, node: Node) -> str | None:
    """The task definition's ``requiresAttributes`` (and a value when one is given)."""
    have = node.state.attributes
    for a in req.required_attributes:
        value = have.get(a.name)
        if value is None or (a.value is not None and value != a.value):
            return ATTRIBUTE
    return None


def _resources(req: TaskRequest, node: Node) -> str | None:
    return node.lacks(req)


def _distinct_instance(req: TaskRequest, node: Node) -> str | None:
    """Each task of a group on a different instance (tasks already there count too)."""
    if node.groups.get(req.group or "", 0) > 0 and any(
        c.type == "distinctInstance" for c in req.constraints
    ):
        return DISTINCT_INSTANCE
    return None


def _member_of(dynamic: bool) -> Callable[[TaskRequest, Node], str | None]:
    def check(req: TaskRequest, node: Node) -> str | None:
        for c in req.constraints:
            q = c.query
            if q is not None and q.dynamic == dynamic and not q(node):
                return MEMBER_OF
        return None

    return check


PIPELINE: tuple[Filter, ...] = (
    Filter("Status", True, _status),
    Filter("LaunchType", True, _launch_type),
    Filter("Agent", True, _agent),
    Filter("RequiresAttributes", True, _attributes, lambda req: bool(req.required_attributes)),
    Filter("Resources", False, _resources),
    Filter("DistinctInstance", False, _distinct_instance),
    Filter("MemberOf", True, _member_of(dynamic=False), lambda req: any(
        c.query is not None and not c.query.dynamic for c in req.constraints
    )),
    Filter("MemberOfTaskGroup", False, _member_of(dynamic=True)),
)
"""Every filter, in the order they run: the first reason found is the instance's reason."""

STATIC = tuple(f for f in PIPELINE if f.static)
CONSTRAINTS = tuple(f for f in PIPELINE if not f.static and f.name != "Resources")


def first_reason(req: TaskRequest, node: Node) -> str | None:
    """Why ``node`` cannot take ``req`` now (the first filter that rejects it), or None."""
    for f in PIPELINE:
        reason = f.check(req, node)
        if reason is not None:
            return reason
    return None


STAGE = {
    reason: i
    for i, reason in enumerate(
        (STATUS, LAUNCH_TYPE, AGENT, ATTRIBUTE, "RESOURCE:CPU", "RESOURCE:MEMORY",
         "RESOURCE:PORTS", "RESOURCE:GPU", "RESOURCE:ENI", DISTINCT_INSTANCE, MEMBER_OF)
    )
}  # fmt: skip
"""How far an instance got through the pipeline: the closest match got furthest."""
