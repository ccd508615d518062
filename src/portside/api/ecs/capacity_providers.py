"""ECS capacity provider operations.

DescribeCapacityProviders adds ``portsideScaling`` to each ACTIVE Auto Scaling
group provider: what managed scaling last measured (CapacityProviderReservation,
M, N, the target) and its latest decision (``lastAction``: scale-out, scale-in,
cancel-scale-in or terminate) with the reason; the launchers' steps (launch,
terminated, …) that follow a decision are not decisions and are skipped. ECS's
CapacityProvider shape has no member for it, so it is a portside extension
member: boto3 and the AWS CLI parse by the model and drop it, raw HTTP clients
and ``aws ecs describe-capacity-providers --debug`` see it. ``updateStatus`` and
``updateStatusReason`` keep ECS's meaning (the outcome of an update or delete of
the provider itself), so scaling reasons never go there. The full view is
``POST /_portside/capacity`` (api/capacity.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from portside.api.capacity import last_decisions
from portside.api.context import Context
from portside.api.registry import ECS
from portside.aws.shapes import EXTRA_MEMBERS
from portside.controllers.capacity import CapacityDecision, is_decision
from portside.controllers.capacity_model import ScalingState
from portside.domain.ecs import capacity_providers as domain
from portside.domain.ecs.capacity_provider import CapacityProvider
from portside.domain.ecs.capacity_status import scaling_states

EXTENSION = "portsideScaling"


@ECS.operation("CreateCapacityProvider")
def create_capacity_provider(ctx: Context, p: dict[str, Any]) -> Any:
    provider = domain.create_capacity_provider(ctx.app.store, ctx.scope, ctx.now, **p)
    return {"capacity_provider": provider}


@ECS.operation("DescribeCapacityProviders")
def describe_capacity_providers(ctx: Context, p: dict[str, Any]) -> Any:
    found, failures, token = domain.describe_capacity_providers(ctx.app.store, ctx.scope, **p)
    states = scaling_states(ctx.app.store, found)
    last = last_decisions(ctx.app)
    shown = [
        _with_scaling(c, states[c.capacity_provider_arn], last.get(c.capacity_provider_arn))
        if c.capacity_provider_arn in states else c
        for c in found
    ]  # fmt: skip
    return {"capacity_providers": shown, "failures": failures, "next_token": token}


def _with_scaling(
    provider: CapacityProvider, state: ScalingState | None, last: CapacityDecision | None
) -> dict[str, Any]:
    """The provider's members, plus ``portsideScaling`` as an extension member."""
    asg = provider.auto_scaling_group_provider
    assert asg is not None  # scaling_states holds Auto Scaling group providers only
    newest = next((a for a in state.activities if is_decision(a)), None) if state else None
    scaling = {
        "managedScaling": asg.managed_scaling.enabled,
        "targetCapacity": asg.managed_scaling.target_capacity,
        "reservation": state.reservation if state else None,
        "needed": state.needed if state else 0,
        "running": state.running if state else 0,
        "warming": state.warming if state else 0,
        "waiting": last.waiting if last else 0,
        "updatedAt": state.updated_at.isoformat() if state else None,
        "lastAction": None if newest is None else {
            "action": newest.action, "from": newest.capacity_from, "to": newest.capacity_to,
            "reason": newest.cause, "at": newest.at.isoformat(),
        },
    }  # fmt: skip
    view = {f.name: getattr(provider, f.name) for f in dataclasses.fields(provider)}
    view[EXTRA_MEMBERS] = {EXTENSION: scaling}
    return view


@ECS.operation("UpdateCapacityProvider")
def update_capacity_provider(ctx: Context, p: dict[str, Any]) -> Any:
    return {"capacity_provider": domain.update_capacity_provider(ctx.app.store, ctx.scope, **p)}


@ECS.operation("DeleteCapacityProvider")
def delete_capacity_provider(ctx: Context, p: dict[str, Any]) -> Any:
    return {"capacity_provider": domain.delete_capacity_provider(ctx.app.store, ctx.scope, **p)}
