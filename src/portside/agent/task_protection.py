"""The agent's task scale-in protection endpoint: ``$ECS_AGENT_URI/task-protection/v1/state``.

A task that knows when it is busy protects itself from inside its
containers (Developer Guide, "Amazon ECS task scale-in protection
endpoint"): ``GET`` answers the task's protection, ``PUT`` with
``{"ProtectionEnabled": true, "ExpiresInMinutes": 60}`` sets it. The agent
forwards to GetTaskProtection / UpdateTaskProtection with its own signed
client — the control plane lets an agent key act only for the tasks on its
instance, so a container can protect only its own task — and answers as
ECS's agent does, one of:

    200 {"protection": {"ExpirationDate": "…Z", "ProtectionEnabled": true, "TaskArn": "…"}}
    200 {"failure": {"Arn": "…", "Reason": "MISSING" | "TASK_NOT_VALID" | …, "Detail": …}}
    4xx/5xx {"error": {"Arn": "…", "Code": "InvalidParameterException" | …, "Message": "…"}}

(amazon-ecs-agent, agent API task protection v1 handlers: a single failure from
ECS is a 200 answer whose body is the failure; an API error keeps its status.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from portside.agent.ecs_client import EcsError

PATH = "/task-protection/v1/state"

Answer = tuple[int, dict[str, Any]]


class Caller(Protocol):
    async def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]: ...


class TaskProtection:
    """Answers one task's protection requests by asking the control plane."""

    def __init__(self, client: Caller, cluster_arn: str) -> None:
        self.client = client
        self.cluster_arn = cluster_arn

    async def get(self, task_arn: str) -> Answer:
        return await self._ask(task_arn, "GetTaskProtection", {})

    async def put(self, task_arn: str, body: bytes) -> Answer:
        try:
            doc = json.loads(body or b"null")
        except ValueError:
            doc = None
        enabled = doc.get("ProtectionEnabled") if isinstance(doc, dict) else None
        minutes = doc.get("ExpiresInMinutes") if isinstance(doc, dict) else None
        unknown = set(doc) - {"ProtectionEnabled", "ExpiresInMinutes"} if isinstance(doc, dict) else set()
        if not isinstance(enabled, bool) or unknown or not (minutes is None or _is_int(minutes)):
            return _error(400, task_arn, "InvalidParameterException",
                          "Invalid request: the body must be a JSON object with a boolean "
                          "'ProtectionEnabled' and an optional integer 'ExpiresInMinutes'")
        params: dict[str, Any] = {"protectionEnabled": enabled}
        if minutes is not None:
            params["expiresInMinutes"] = minutes
        return await self._ask(task_arn, "UpdateTaskProtection", params)

    async def _ask(self, task_arn: str, operation: str, params: dict[str, Any]) -> Answer:
        try:
            out = await self.client.call(
                operation, {"cluster": self.cluster_arn, "tasks": [task_arn], **params}
            )
        except EcsError as exc:
            return _error(exc.status if 400 <= exc.status < 599 else 500, task_arn, exc.code,
                          exc.message)
        failures = out.get("failures") or []
        if len(failures) > 1:
            return _error(500, task_arn, "ServerException",
                          f"expected at most 1 failure in the answer, got {len(failures)}")
        if failures:  # ECS's agent answers one failure with 200 and the failure as the body
            f = failures[0]
            return 200, {"failure": _drop_none(
                {"Arn": f.get("arn"), "Reason": f.get("reason"), "Detail": f.get("detail")})}
        protected = out.get("protectedTasks") or []
        if len(protected) != 1:
            return _error(500, task_arn, "ServerException",
                          f"expected 1 protected task in the answer, got {len(protected)}")
        return 200, {"protection": _protection(protected[0])}


def _protection(p: Mapping[str, Any]) -> dict[str, Any]:
    """ECS's ProtectedTask in the agent's spelling: Go field names, RFC 3339 time."""
    doc: dict[str, Any] = {"ProtectionEnabled": bool(p.get("protectionEnabled")),
                           "TaskArn": p.get("taskArn")}
    expiry = p.get("expirationDate")
    if isinstance(expiry, int | float):
        doc["ExpirationDate"] = (
            datetime.fromtimestamp(expiry, UTC).isoformat().replace("+00:00", "Z")
        )
    return doc


def _error(status: int, arn: str, code: str, message: str) -> Answer:
    return status, {"error": {"Arn": arn, "Code": code, "Message": message}}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}
