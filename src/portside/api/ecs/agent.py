"""The ECS operations only the agent calls: poll endpoint discovery and state reports.

A report signed with an instance's agent key acts for that instance only
(``reporter``); a report signed with an operator key may name any task.
Task and container reports are committed in groups with the reports that
arrive alongside them (runtime/report_batch.py), and answered once durable.
"""

from __future__ import annotations

from typing import Any

from portside.api.context import Context
from portside.api.registry import ECS
from portside.domain.ecs import agent_credential, task_state
from portside.domain.ecs.clusters import get_cluster
from portside.domain.ecs.container_instance import ContainerInstance
from portside.domain.errors import InvalidParameterException
from portside.runtime.report_batch import report_batch

ACK = "ACK"


def _reporter(ctx: Context) -> str | None:
    return agent_credential.owner(ctx.app.store, ctx.access_key)


@ECS.operation("DiscoverPollEndpoint")
def discover_poll_endpoint(ctx: Context, p: dict[str, Any]) -> Any:
    cluster = get_cluster(ctx.app.store, ctx.scope, p.get("cluster"))
    ref = p.get("container_instance")
    if ref is not None:
        arn = ref if ref.startswith("arn:") else ctx.scope.ecs(
            f"container-instance/{cluster.cluster_name}/{ref}"
        )
        found = ctx.app.store.get(ContainerInstance.KIND, arn)
        if not isinstance(found, ContainerInstance) or found.cluster_arn != cluster.cluster_arn:
            raise InvalidParameterException("The referenced container instance was not found.")
    endpoint = ctx.app.settings.endpoint.replace("http://", "ws://", 1) + "/"
    return {
        "endpoint": endpoint,
        "telemetry_endpoint": endpoint,
        "service_connect_endpoint": endpoint,
    }


@ECS.operation("SubmitTaskStateChange")
async def submit_task_state_change(ctx: Context, p: dict[str, Any]) -> Any:
    store, scope, now, reporter = ctx.app.store, ctx.scope, ctx.now, _reporter(ctx)
    await report_batch(ctx.app).submit(
        lambda pending: task_state.submit_task_state_change(
            store, scope, now, reporter=reporter, pending=pending, **p
        )
    )
    return {"acknowledgment": ACK}


@ECS.operation("SubmitContainerStateChange")
async def submit_container_state_change(ctx: Context, p: dict[str, Any]) -> Any:
    store, scope, now, reporter = ctx.app.store, ctx.scope, ctx.now, _reporter(ctx)
    await report_batch(ctx.app).submit(
        lambda pending: task_state.submit_container_state_change(
            store, scope, now, reporter=reporter, pending=pending, **p
        )
    )
    return {"acknowledgment": ACK}


@ECS.operation("SubmitAttachmentStateChanges")
def submit_attachment_state_changes(ctx: Context, p: dict[str, Any]) -> Any:
    task_state.submit_attachment_state_changes(
        ctx.app.store, ctx.scope, reporter=_reporter(ctx), **p
    )
    return {"acknowledgment": ACK}
