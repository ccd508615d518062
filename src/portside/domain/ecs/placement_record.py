"""Why a task went where it did: the placement explanation kept for ``portside explain``.

One record per placed task (keyed by the task ARN), one per service (its last
placement round, keyed by the service ARN), and one per cluster for the last
RunTask that placed nothing (keyed ``CLUSTER_ARN#run-task``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class PlacementRecord:
    KIND: ClassVar[str] = "placement_record"

    subject: str
    cluster_arn: str
    created_at: datetime
    strategies: tuple[str, ...]
    explanation: str

    @property
    def key(self) -> str:
        return self.subject

    @property
    def parent(self) -> str | None:
        return self.cluster_arn


def run_task_key(cluster_arn: str) -> str:
    return f"{cluster_arn}#run-task"
