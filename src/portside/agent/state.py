"""What the agent keeps on disk, so a restart loses and duplicates nothing.

    STATE_DIR/agent.json         who this agent is: its made-up EC2 instance id,
                                 its containerInstanceArn and cluster once
                                 registered, the metadata server's port and the
                                 secret its per-container tokens derive from
    STATE_DIR/tasks/<id>.json    one record per task: the known status and, per
                                 container, what the agent knew (status, exit
                                 code, runtime id, reason)
    STATE_DIR/tasks/<id>.payload.json   the TaskPayload, written once

A task record is written by the task's own manager only (the single writer of
its known status) before a change that matters after a restart is reported —
the task reaching PENDING, RUNNING or STOPPED, a container starting or
exiting — so a restarted agent never starts a container it had already run
and reports again what the control plane may have missed. (The moves in
between are not recorded: a restarted agent walks them again, and the control
plane ignores a repeated or backward move.) Writes are atomic (write, then
rename).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class AgentIdentity:
    instance_id: str
    metadata_secret: str
    container_instance_arn: str | None = None
    cluster: str | None = None
    metadata_port: int | None = None

    @staticmethod
    def new() -> AgentIdentity:
        return AgentIdentity(
            instance_id="i-" + secrets.token_hex(9)[:17],
            metadata_secret=secrets.token_hex(32),
        )


@dataclass
class ContainerRecord:
    status: str = "NONE"
    exit_code: int | None = None
    runtime_id: str | None = None
    reason: str | None = None
    ever_ran: bool = False


@dataclass
class TaskRecord:
    task_arn: str
    payload: dict[str, Any]
    known_status: str = "NONE"
    reason: str | None = None
    containers: dict[str, ContainerRecord] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The record without its payload (that has a file of its own)."""
        return {
            "task_arn": self.task_arn,
            "known_status": self.known_status,
            "reason": self.reason,
            "containers": {k: asdict(v) for k, v in self.containers.items()},
        }

    @staticmethod
    def from_json(doc: dict[str, Any]) -> TaskRecord:
        return TaskRecord(
            task_arn=str(doc["task_arn"]),
            payload=dict(doc.get("payload") or {}),
            known_status=str(doc.get("known_status") or "NONE"),
            reason=doc.get("reason"),
            containers={
                str(k): ContainerRecord(**v) for k, v in (doc.get("containers") or {}).items()
            },
        )


class StateDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tasks = root / "tasks"

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.tasks.mkdir(exist_ok=True)

    # -- identity ---------------------------------------------------------

    @property
    def identity_path(self) -> Path:
        return self.root / "agent.json"

    def load_identity(self) -> AgentIdentity:
        """The saved identity, or a new one (saved at once)."""
        doc = _read(self.identity_path)
        if doc and doc.get("instance_id") and doc.get("metadata_secret"):
            fields = AgentIdentity.__dataclass_fields__
            return AgentIdentity(**{k: v for k, v in doc.items() if k in fields})
        identity = AgentIdentity.new()
        self.save_identity(identity)
        return identity

    def save_identity(self, identity: AgentIdentity) -> None:
        _write(self.identity_path, asdict(identity))

    # -- task records -----------------------------------------------------

    def _task_path(self, task_arn: str) -> Path:
        return self.tasks / f"{task_arn.rsplit('/', 1)[-1]}.json"

    def _payload_path(self, task_arn: str) -> Path:
        return self.tasks / f"{task_arn.rsplit('/', 1)[-1]}.payload.json"

    def save_task(self, record: TaskRecord) -> None:
        payload_path = self._payload_path(record.task_arn)
        if record.payload and not payload_path.exists():
            _write(payload_path, _without_private_key(record.payload))
        _write(self._task_path(record.task_arn), record.to_json())

    def load_task(self, task_arn: str) -> TaskRecord | None:
        return self._load(self._task_path(task_arn))

    def _load(self, path: Path) -> TaskRecord | None:
        doc = _read(path)
        if not doc or not doc.get("task_arn"):
            return None
        doc["payload"] = _read(self._payload_path(str(doc["task_arn"]))) or {}
        return TaskRecord.from_json(doc)

    def task_records(self) -> Iterator[TaskRecord]:
        for path in sorted(self.tasks.glob("*.json")):
            if path.name.endswith(".payload.json"):
                continue
            record = self._load(path)
            if record is not None:
                yield record

    def forget_task(self, task_arn: str) -> None:
        for path in (self._task_path(task_arn), self._payload_path(task_arn)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _without_private_key(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as persisted: a Service Connect private key lives only in memory and in
    the proxy's own 0600 file (agent/service_connect_tls.py); manifests bring it again."""
    connect = payload.get("serviceConnect")
    if not isinstance(connect, dict) or not isinstance(connect.get("tls"), dict):
        return payload
    tls = {k: v for k, v in connect["tls"].items() if k != "privateKey"}
    return {**payload, "serviceConnect": {**connect, "tls": tls}}


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _write(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)
