"""Group commit for agent reports: the reports that arrive together share one commit.

A service launch makes every agent report each of its tasks' moves
(PENDING, ACTIVATING, RUNNING …) with its own SubmitTaskStateChange, and
each accepted report must be durable before its answer — with SQLite's
``synchronous=FULL`` an fsync per report, during which the event loop waits.
Fifty tasks starting at once were some 150 fsyncs in a row.

So the report handlers do not commit: they hand the report to
:meth:`ReportBatch.submit` and wait. The first report of a batch schedules a
flush for the loop's next turn; every report that reaches the batch before
then joins it. The flush applies them in arrival order on the store as it is
*then* (each reading the tasks the ones before it changed), commits all the
changed tasks at once, and only then answers every report: accepted still
means durable. While one flush's fsync holds the loop, new reports pile up
in the sockets and form the next batch, so batches grow with load and a lone
report waits for nothing (group commit, as databases do it).

A report that fails its own checks (unknown task, another instance's task)
is answered with its error and the others go on; a failed commit fails every
report of the batch, as it would have failed each alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from portside.api.app import App
from portside.domain.ecs.task import Task
from portside.store.store import Store

Apply = Callable[[dict[str, Task]], Any]
"""A report: applies itself given the batch's pending tasks (task ARN -> Task)."""

_KEY = "report_batch"


class ReportBatch:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: list[tuple[Apply, asyncio.Future[Any]]] = []
        self.batches = 0
        self.reports = 0

    def submit(self, apply: Apply) -> asyncio.Future[Any]:
        """Queue a report; the future resolves to its result once its batch is durable."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush)
        self._queue.append((apply, future))
        return future

    def _flush(self) -> None:
        queue, self._queue = self._queue, []
        pending: dict[str, Task] = {}
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        for apply, future in queue:
            try:
                outcomes.append((future, apply(pending), None))
            except Exception as exc:  # this report's own error (an AwsError, mostly)
                outcomes.append((future, None, exc))
        failed: BaseException | None = None
        if pending:
            try:
                self.store.commit(list(pending.values()))
            except Exception as exc:
                failed = exc
        self.batches += 1
        self.reports += len(queue)
        for future, result, error in outcomes:
            if future.done():  # the request went away meanwhile
                continue
            if error is not None or failed is not None:
                future.set_exception(error or failed)  # type: ignore[arg-type]
            else:
                future.set_result(result)


def report_batch(app: App) -> ReportBatch:
    """The application's ReportBatch (made on first use)."""
    found = app.extras.get(_KEY)
    if not isinstance(found, ReportBatch):
        found = app.extras[_KEY] = ReportBatch(app.store)
    return found
