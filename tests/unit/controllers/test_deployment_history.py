"""track() and honour_stop(): a service's deployment history follows its deployments."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from portside.controllers.deployment_history import KEEP_FOR, KEEP_LAST, track
from portside.controllers.deployments import honour_stop, rollback_id
from portside.controllers.snapshot import MemorySnapshot
from portside.domain.ecs.service import Service
from portside.domain.ecs.service_deployment import (
    ServiceDeployment,
    ServiceRevision,
    deployment_arn,
    revision_arn,
)
from portside.store.store import Delete
from tests.unit.controllers.world import (
    HOUR,
    NOW,
    SVC,
    applied,
    dep_id,
    deployment,
    failed,
    instance,
    run,
    service,
    task,
    td_arn,
    world,
)

BREAKER = {"enable": True, "rollback": True}


def records(snap: MemorySnapshot) -> dict[str, ServiceDeployment]:
    return {r.deployment_id: r for r in snap.children(ServiceDeployment.KIND, SVC).values()}


def recorded(snap: MemorySnapshot, svc: Service) -> MemorySnapshot:
    """``svc`` written as an operation writes it: with its history."""
    snap.put(svc)
    for c in track(snap, svc, NOW):
        assert not isinstance(c, Delete)
        snap.put(c)
    return snap


def test_arns_follow_the_deployment_ids() -> None:
    assert revision_arn(SVC, dep_id(7)) == (
        "arn:aws:ecs:us-east-1:000000000000:service-revision/c1/web/0000000000000000007")
    arn = deployment_arn(SVC, dep_id(7))
    assert arn.startswith("arn:aws:ecs:us-east-1:000000000000:service-deployment/c1/web/")
    assert arn == deployment_arn(SVC, dep_id(7)) != deployment_arn(SVC, dep_id(8))


def test_an_operation_records_a_pending_deployment_the_controller_starts() -> None:
    svc = service(3, breaker=BREAKER)
    snap = recorded(world(svc, instance(1, memory=8192)), svc)
    (rec,) = records(snap).values()
    assert (rec.status, rec.started_at, rec.source_service_revisions) == ("PENDING", None, ())
    rev = snap.get(ServiceRevision.KIND, revision_arn(SVC, dep_id(1)))
    assert rev is not None and rev.task_definition == td_arn(1)
    assert rev.container_images == ({"container_name": "app", "image": "busybox"},)
    assert track(snap, svc, NOW) == []  # the same state records nothing new

    d = run(snap)
    (moved,) = [c for c in d.history if isinstance(c, ServiceDeployment)]
    assert (moved.status, moved.started_at) == ("IN_PROGRESS", NOW)
    assert moved.deployment_circuit_breaker is not None
    assert moved.deployment_circuit_breaker.status == "MONITORING"
    assert moved.target_service_revision is not None
    assert moved.target_service_revision.pending_task_count == 3
    assert run(applied(snap, d)).history == ()


def test_the_controller_does_not_invent_history_for_services_from_before_it() -> None:
    assert run(world(service(3), instance(1, memory=8192))).history == ()


def test_a_new_deployment_stops_the_unfinished_one_and_names_its_sources() -> None:
    deps = (deployment(2, 2), deployment(1, 1, "ACTIVE", "COMPLETED"))
    snap = recorded(world(service(3, deployments=deps)), service(3, deployments=deps))
    newer = service(3, deployments=(deployment(3, 1, created=NOW),
                                    replace(deps[0], status="ACTIVE"), deps[1]))
    changes = track(snap, newer, NOW)
    recs = {c.deployment_id: c for c in changes if isinstance(c, ServiceDeployment)}
    assert recs[dep_id(2)].status == "STOPPED" and recs[dep_id(2)].stopped_at == NOW
    assert recs[dep_id(3)].status == "PENDING"
    assert recs[dep_id(3)].source_deployment_ids == (dep_id(2), dep_id(1))


def test_circuit_breaker_rollback_is_recorded_on_the_failed_deployment() -> None:
    deps = (deployment(2, 2), deployment(1, 1, "ACTIVE", "COMPLETED"))
    svc = service(3, deployments=deps, breaker=BREAKER)
    olds = [task(1, 1) for _ in range(3)]
    fails = [failed(2, 2, NOW - timedelta(seconds=10 * (i + 1))) for i in range(3)]
    snap = recorded(world(svc, instance(1, memory=8192), *olds, *fails), svc)
    d = run(snap)
    rec = next(c for c in d.history if isinstance(c, ServiceDeployment))
    back = revision_arn(SVC, rollback_id(dep_id(2)))
    assert rec.status == "ROLLBACK_IN_PROGRESS" and rec.rollback is not None
    assert rec.rollback.service_revision_arn == back
    assert rec.deployment_circuit_breaker is not None
    assert (rec.deployment_circuit_breaker.status, rec.deployment_circuit_breaker.failure_count,
            rec.deployment_circuit_breaker.threshold) == ("TRIGGERED", 3, 3)
    assert any(isinstance(c, ServiceRevision) and c.key == back for c in d.history)


def test_a_stop_request_rolls_back_like_the_breaker_without_it() -> None:
    deps = (replace(deployment(2, 2), stop_requested=True),
            deployment(1, 1, "ACTIVE", "COMPLETED"))
    svc = service(3, deployments=deps)  # no circuit breaker at all
    after, events = honour_stop(svc, NOW)
    assert events == [f"(service {svc.service_name}) (deployment {dep_id(2)}) deployment "
                      "stopped: rolling back (StopServiceDeployment)."]
    back, stopped, old = after.deployments
    assert back.id == rollback_id(dep_id(2)) and back.task_definition == td_arn(1)
    assert (stopped.status, stopped.rollout_state) == ("ACTIVE", "FAILED")
    assert after.task_definition == td_arn(1) and old.id == dep_id(1)
    unasked = service(3, deployments=(deployment(2, 2), deps[1]))
    assert honour_stop(unasked, NOW) == (unasked, [])

    snap = recorded(world(svc, instance(1, memory=8192), *(task(1, 1) for _ in range(3))), svc)
    assert records(snap)[dep_id(2)].status == "ROLLBACK_REQUESTED"
    d = run(snap)
    assert d.service is not None and d.service.deployments[0].id == back.id
    rec = next(c for c in d.history if isinstance(c, ServiceDeployment))
    assert rec.status == "ROLLBACK_IN_PROGRESS"
    assert rec.rollback is not None and rec.rollback.reason.startswith("StopServiceDeployment")


def test_a_rollback_requested_then_replaced_by_an_update_is_stopped() -> None:
    asked = replace(deployment(2, 2), stop_requested=True)
    svc = service(3, deployments=(asked, deployment(1, 1, "ACTIVE", "COMPLETED")))
    snap = recorded(world(svc), svc)
    newer = service(3, deployments=(deployment(3, 1, created=NOW),
                                    replace(asked, status="ACTIVE"), svc.deployments[1]))
    recs = {c.deployment_id: c for c in track(snap, newer, NOW)
            if isinstance(c, ServiceDeployment)}
    assert (recs[dep_id(2)].status, recs[dep_id(3)].status) == ("STOPPED", "PENDING")


def test_a_stop_request_with_nothing_to_return_to_stops() -> None:
    svc = service(3, deployments=(replace(deployment(1, 1), stop_requested=True),))
    after, _ = honour_stop(svc, NOW)
    (only,) = after.deployments
    assert (only.status, only.rollout_state) == ("PRIMARY", "FAILED")
    snap = recorded(world(svc), svc)
    d = run(snap)
    rec = next(c for c in d.history if isinstance(c, ServiceDeployment))
    assert rec.status == "STOPPED" and not d.start


def test_history_is_bounded_by_age_and_count() -> None:
    svc = service(3)
    snap = world(svc)
    for n in range(KEEP_LAST + 1):
        rec = ServiceDeployment(
            service_deployment_arn=deployment_arn(SVC, dep_id(100 + n)), service_arn=SVC,
            cluster_arn=svc.cluster_arn, deployment_id=dep_id(100 + n),
            created_at=NOW - KEEP_FOR - HOUR if n == 0 else NOW - 20 * HOUR + timedelta(seconds=n),
            updated_at=NOW, status="SUCCESSFUL", finished_at=NOW - KEEP_FOR - HOUR if n == 0
            else NOW - HOUR,
        )
        snap.put(rec)
    snap.put(ServiceRevision(revision_arn(SVC, dep_id(100)), SVC, svc.cluster_arn, td_arn(1), NOW))
    changes = track(snap, svc, NOW)  # records dep 1, the new PRIMARY: the two oldest go
    deletes = {c.key for c in changes if isinstance(c, Delete)}
    assert deletes == {deployment_arn(SVC, dep_id(100)), deployment_arn(SVC, dep_id(101)),
                       revision_arn(SVC, dep_id(100))}


def test_an_inactive_service_loses_its_history() -> None:
    svc = service(3)
    snap = recorded(world(svc), svc)
    changes = track(snap, replace(svc, status="INACTIVE"), NOW)
    assert {c.kind for c in changes if isinstance(c, Delete)} == {
        ServiceDeployment.KIND, ServiceRevision.KIND}
    assert len(changes) == 2


def test_a_record_survives_the_store_codec() -> None:
    from portside.domain.codec import from_doc, to_doc

    deps = (deployment(2, 2), deployment(1, 1, "ACTIVE", "COMPLETED"))
    svc = service(3, deployments=deps, breaker=BREAKER)
    fails = [failed(2, 2, NOW - timedelta(seconds=10 * (i + 1))) for i in range(3)]
    snap = recorded(world(svc, instance(1, memory=8192), *fails), svc)
    for c in run(snap).history:
        assert from_doc(type(c), to_doc(c)) == c
