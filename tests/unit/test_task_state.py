"""Applying agent reports to a task: forward only, idempotent, with ECS's timestamps."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portside.domain.ecs.model import Reservation
from portside.domain.ecs.task import Container, Task
from portside.domain.ecs.task_state import (
    ContainerReport,
    TaskReport,
    apply_attachments,
    apply_health,
    apply_network,
    apply_report,
    report_network,
)
from portside.domain.errors import InvalidParameterException
from portside.domain.kinds import KINDS
from portside.store.store import Store, sqlite_url

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ARN = "arn:aws:ecs:us-east-1:000000000000:task/c/abc"
INSTANCE = "arn:aws:ecs:us-east-1:000000000000:container-instance/c/i1"


def _task(**kw: object) -> Task:
    base = Task(
        task_arn=ARN,
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        task_definition_arn="arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
        created_at=T0,
        last_status="PENDING",
        container_instance_arn=INSTANCE,
        containers=(
            Container(container_arn=ARN + "/web", task_arn=ARN, name="web"),
            Container(container_arn=ARN + "/side", task_arn=ARN, name="side"),
        ),
        reserved=Reservation(cpu=256, memory=512),
    )
    return dataclasses.replace(base, **kw)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_running_sets_started_at_and_connectivity() -> None:
    t = apply_report(
        _task(),
        TaskReport(
            status="RUNNING",
            pull_started_at=at(1),
            pull_stopped_at=at(2),
            containers=(
                ContainerReport(
                    "web", status="RUNNING", runtime_id="d0ck3r",
                    network_bindings=({"container_port": 80, "host_port": 32768},),
                ),
            ),
        ),
        at(3),
    )
    assert t.last_status == "RUNNING"
    assert t.started_at == at(3)
    assert (t.connectivity, t.connectivity_at) == ("CONNECTED", at(3))
    assert (t.pull_started_at, t.pull_stopped_at) == (at(1), at(2))
    web, side = t.containers
    assert (web.last_status, web.runtime_id) == ("RUNNING", "d0ck3r")
    assert web.network_bindings == ({"container_port": 80, "host_port": 32768},)
    assert side.last_status == "PENDING"
    assert t.holds_resources


def test_repeated_report_changes_nothing() -> None:
    report = TaskReport(status="RUNNING")
    once = apply_report(_task(), report, at(3))
    assert apply_report(once, report, at(9)) is once


def test_backward_report_is_ignored() -> None:
    running = apply_report(_task(), TaskReport(status="RUNNING"), at(3))
    assert apply_report(running, TaskReport(status="PENDING"), at(4)) is running
    assert apply_report(running, TaskReport(status="ACTIVATING"), at(4)) is running


def test_stale_container_report_is_ignored() -> None:
    stopped = apply_report(
        _task(), TaskReport(containers=(ContainerReport("web", status="STOPPED", exit_code=0),)),
        at(3),
    )
    again = apply_report(
        stopped, TaskReport(containers=(ContainerReport("web", status="RUNNING"),)), at(4)
    )
    assert again is stopped
    assert stopped.containers[0].exit_code == 0


def test_stop_requested_keeps_user_reason_and_frees_resources() -> None:
    asked = _task(
        last_status="RUNNING", started_at=at(1), desired_status="STOPPED",
        stop_code="UserInitiated", stopped_reason="Task stopped by user", stopping_at=at(5),
    )
    stopped = apply_report(
        asked,
        TaskReport(
            status="STOPPED",
            execution_stopped_at=at(6),
            containers=(ContainerReport("web", status="STOPPED", exit_code=143),),
        ),
        at(7),
    )
    assert stopped.last_status == "STOPPED"
    assert (stopped.stop_code, stopped.stopped_reason) == ("UserInitiated", "Task stopped by user")
    assert (stopped.stopping_at, stopped.execution_stopped_at, stopped.stopped_at) == (
        at(5), at(6), at(7)
    )
    assert [c.last_status for c in stopped.containers] == ["STOPPED", "STOPPED"]
    assert stopped.containers[0].exit_code == 143
    assert not stopped.holds_resources


def test_stopping_on_its_own_is_essential_container_exited() -> None:
    running = apply_report(_task(), TaskReport(status="RUNNING"), at(1))
    stopped = apply_report(
        running,
        TaskReport(status="STOPPED", containers=(ContainerReport("web", "STOPPED", exit_code=1),)),
        at(2),
    )
    assert stopped.desired_status == "STOPPED"
    assert stopped.stop_code == "EssentialContainerExited"
    assert stopped.stopped_reason == "Essential container in task exited"
    assert (stopped.stopping_at, stopped.stopped_at, stopped.execution_stopped_at) == (
        at(2), at(2), at(2)
    )


def test_never_started_with_a_reason_is_task_failed_to_start() -> None:
    reason = "CannotPullContainerError: pull access denied for nope"
    stopped = apply_report(_task(), TaskReport(status="STOPPED", reason=reason), at(2))
    assert (stopped.stop_code, stopped.stopped_reason) == ("TaskFailedToStart", reason)
    assert stopped.started_at is None
    other = apply_report(_task(), TaskReport(status="STOPPED", reason="exit 1"), at(2))
    assert other.stop_code == "EssentialContainerExited"


def test_status_can_skip_ahead() -> None:
    t = apply_report(_task(last_status="PROVISIONING"), TaskReport(status="RUNNING"), at(1))
    assert t.last_status == "RUNNING"


def test_unknown_status_or_container_is_invalid() -> None:
    with pytest.raises(InvalidParameterException):
        apply_report(_task(), TaskReport(status="DANCING"), at(1))
    with pytest.raises(InvalidParameterException):
        apply_report(_task(), TaskReport(containers=(ContainerReport("nope", "RUNNING"),)), at(1))
    with pytest.raises(InvalidParameterException):
        apply_report(_task(), TaskReport(containers=(ContainerReport("web", "EXITED"),)), at(1))


def test_health_is_recorded_once() -> None:
    t = apply_health(_task(), "HEALTHY", {"web": "HEALTHY"})
    assert t.health_status == "HEALTHY"
    assert [c.health_status for c in t.containers] == ["HEALTHY", "UNKNOWN"]
    assert apply_health(t, "HEALTHY", {"web": "HEALTHY"}) is t
    with pytest.raises(InvalidParameterException):
        apply_health(t, "GREAT")


ENI = {
    "id": "att-9",
    "type": "ElasticNetworkInterface",
    "status": "ATTACHED",
    "details": [{"name": "privateIPv4Address", "value": "10.9.0.5"}],
}
IFACE = {"attachment_id": "att-9", "private_ipv4_address": "10.9.0.5"}


def test_network_adds_the_reported_eni() -> None:
    t = apply_network(_task(), [ENI], {"web": [IFACE]})
    assert t.attachments == (ENI,)
    assert t.containers[0].network_interfaces == (IFACE,)
    assert t.containers[1].network_interfaces == ()
    assert apply_network(t, [ENI], {"web": [IFACE]}) is t


def test_network_updates_the_precreated_eni_and_keeps_its_subnet() -> None:
    subnet = {"name": "subnetId", "value": "subnet-a"}
    pre = {"id": "att-1", "type": "ElasticNetworkInterface", "status": "PRECREATED", "details": [subnet]}
    other = {"id": "x", "type": "Other", "status": "ATTACHED"}
    t = apply_network(_task(attachments=(pre, other)), [ENI])
    assert t.attachments == ({**ENI, "details": [subnet, *ENI["details"]]}, other)
    again = {**ENI, "details": [{"name": "privateIPv4Address", "value": "10.9.0.6"}]}
    moved = apply_network(t, [again])
    assert moved.attachments[0]["details"] == [subnet, *again["details"]]


def test_attachment_status_by_arn() -> None:
    pre = {"id": "att-1", "type": "ElasticNetworkInterface", "status": "PRECREATED"}
    t = _task(attachments=(pre,))
    arn = "arn:aws:ecs:us-east-1:000000000000:attachment/att-1"
    moved = apply_attachments(t, [{"attachment_arn": arn, "status": "ATTACHED"}])
    assert moved.attachments[0]["status"] == "ATTACHED"
    assert apply_attachments(moved, [{"attachment_arn": arn, "status": "ATTACHED"}]) is moved
    assert apply_attachments(t, [{"attachment_arn": "x/other", "status": "ATTACHED"}]) is t


def test_a_stopped_tasks_eni_is_deleted() -> None:
    eni = {"id": "a1", "type": "ElasticNetworkInterface", "status": "ATTACHED",
           "details": [{"name": "subnetId", "value": "subnet-1"}]}
    other = {"id": "b2", "type": "Other", "status": "ATTACHED"}
    running = apply_report(_task(attachments=(eni, other)), TaskReport(status="RUNNING"), at(1))
    assert [a["status"] for a in running.attachments] == ["ATTACHED", "ATTACHED"]
    stopped = apply_report(running, TaskReport(status="STOPPED"), at(2))
    assert stopped.attachments == ({**eni, "status": "DELETED"}, other)


def test_a_network_report_after_the_stop_leaves_the_eni_deleted(tmp_path: Path) -> None:
    # the session's TaskNetwork and SubmitTaskStateChange race; a reconnecting agent replays
    eni = {"id": "a1", "type": "ElasticNetworkInterface", "status": "ATTACHED",
           "details": [{"name": "subnetId", "value": "subnet-1"}]}
    stopped = apply_report(_task(attachments=(eni,)), TaskReport(status="STOPPED"), at(2))
    store = Store(sqlite_url(tmp_path), KINDS)
    store.commit([stopped])
    late = {**eni, "details": [{"name": "privateIPv4Address", "value": "10.0.0.9"}]}
    assert report_network(store, INSTANCE, ARN, [late]) == stopped
    found = store.get(Task.KIND, ARN)
    assert isinstance(found, Task) and found.attachments[0]["status"] == "DELETED"
