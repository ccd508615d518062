"""ECS task scale-in protection: UpdateTaskProtection and GetTaskProtection.

Called by users, and by agents on behalf of their tasks' ``$ECS_AGENT_URI``
(agent/task_protection.py): a call signed with an instance's agent key may
name only the tasks on that instance.
"""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import ECS
from portside.domain.ecs import agent_credential
from portside.domain.ecs import task_protection as domain


@ECS.operation("UpdateTaskProtection")
def update_task_protection(ctx: Context, p: dict[str, Any]) -> Any:
    instance = agent_credential.owner(ctx.app.store, ctx.access_key)
    done, failures = domain.update_task_protection(
        ctx.app.store, ctx.scope, ctx.now, instance=instance, **p
    )
    return {"protected_tasks": done, "failures": failures}


@ECS.operation("GetTaskProtection")
def get_task_protection(ctx: Context, p: dict[str, Any]) -> Any:
    instance = agent_credential.owner(ctx.app.store, ctx.access_key)
    found, failures = domain.get_task_protection(
        ctx.app.store, ctx.scope, ctx.now, instance=instance, **p
    )
    return {"protected_tasks": found, "failures": failures}
