"""decide(): every rule of the service controller, on hand-built snapshots."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from portside.controllers import service_events as ev
from portside.controllers.fenceposts import failure_threshold, resolve_fenceposts, start_delay
from portside.controllers.snapshot import MemorySnapshot
from portside.controllers.task_state import HEALTH_REASON, SCHEDULER, Policy
from portside.domain.ecs.service import ServiceEvent
from tests.unit.controllers.world import (
    HOUR,
    NOW,
    SVC,
    applied,
    ci_arn,
    dep_id,
    deployment,
    failed,
    instance,
    messages,
    run,
    service,
    task,
    taskdef,
    td_arn,
    world,
)

# -- the arithmetic ------------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "minimum", "maximum", "expected"),
    [
        (4, 50, 200, (2, 8)),
        (4, 100, 200, (4, 8)),
        (2, 75, 200, (2, 4)),
        (3, 50, 200, (2, 6)),
        (3, 100, 150, (3, 4)),
        (5, 0, 100, (0, 5)),
        (3, 100, 100, (2, 3)),
        (1, 100, 100, (0, 1)),
        (0, 100, 200, (0, 0)),
    ],
)
def test_fenceposts(desired: int, minimum: int, maximum: int, expected: tuple[int, int]) -> None:
    assert resolve_fenceposts(desired, minimum, maximum) == expected


@pytest.mark.parametrize(
    ("desired", "kind", "value", "expected"),
    [
        (1, "BOUNDED_PERCENT", 50, 3),
        (6, "BOUNDED_PERCENT", 50, 3),
        (7, "BOUNDED_PERCENT", 50, 4),
        (25, "BOUNDED_PERCENT", 50, 13),
        (400, "BOUNDED_PERCENT", 50, 200),
        (800, "BOUNDED_PERCENT", 50, 200),
        (4, "UNBOUNDED_PERCENT", 25, 1),
        (800, "UNBOUNDED_PERCENT", 50, 400),
        (10, "COUNT", 2, 2),
    ],
)
def test_circuit_breaker_threshold(desired: int, kind: str, value: int, expected: int) -> None:
    assert failure_threshold(desired, kind, value) == expected


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(0, 0), (2, 0), (3, 15), (4, 30), (5, 60), (8, 480), (10, 1620), (50, 1620)],
)
def test_start_throttle(failures: int, seconds: int) -> None:
    assert start_delay(failures) == timedelta(seconds=seconds)


# -- REPLICA: desired count ------------------------------------------------------


def test_a_new_service_starts_its_tasks_spread_over_zones() -> None:
    snap = world(service(3), instance(1), instance(2, az="us-east-1b"))
    d = run(snap)
    assert len(d.start) == 3 and not d.stop
    assert {t.container_instance_arn for t in d.start} == {ci_arn(1), ci_arn(2)}
    assert all(t.started_by == dep_id(1) and t.group == "service:web" for t in d.start)
    assert all(t.service_arn == SVC and t.last_status == "PENDING" for t in d.start)
    assert d.service is not None and d.service.pending_count == 3
    ids = " ".join(f"(task {t.task_id})" for t in d.start)
    assert messages(d) == [f"(service web) has started 3 tasks: {ids}."]
    assert run(applied(snap, d)).empty  # converged: nothing more to do


def test_the_same_state_gives_the_same_decision() -> None:
    a = run(world(service(3), instance(1), instance(2)))
    b = run(world(service(3), instance(1), instance(2)))
    assert [t.task_arn for t in a.start] == [t.task_arn for t in b.start]


def test_steady_state_completes_the_deployment_once() -> None:
    snap = world(service(2), instance(1), instance(2), task(inst=1), task(inst=2))
    d = run(snap)
    assert d.service is not None
    (primary,) = d.service.deployments
    assert primary.rollout_state == "COMPLETED" and primary.running_count == 2
    assert primary.rollout_state_reason == f"ECS deployment {dep_id(1)} completed."
    assert messages(d) == [
        "(service web) has reached a steady state.",
        f"(service web) (deployment {dep_id(1)}) deployment completed.",
    ]
    assert d.service.running_count == 2
    again = run(applied(snap, d), NOW + HOUR)
    assert again.empty and again.wake_at == NOW + 6 * HOUR


@pytest.mark.parametrize(("age", "repeated"), [(HOUR, False), (7 * HOUR, True)])
def test_steady_state_is_repeated_every_six_hours(age: timedelta, repeated: bool) -> None:
    old = ServiceEvent("e1", NOW - age, ev.steady("web"))
    done = deployment(1, 1, rollout="COMPLETED", desired=1)
    svc = service(1, deployments=(done,), events=(old,))
    snap = world(svc, instance(1), task(inst=1))
    d = run(snap)
    if repeated:
        assert d.service is not None and len(d.service.events) == 2
    else:
        assert d.service is None or len(d.service.events) == 1


def test_scale_in_stops_the_surplus_keeping_zones_balanced() -> None:
    tasks = [*(task(inst=1, az="us-east-1a") for _ in range(3)), task(inst=2, az="us-east-1b")]
    d = run(world(service(2), instance(1), instance(2, az="us-east-1b"), *tasks))
    assert len(d.stop) == 2 and not d.start
    assert {t.availability_zone for t in d.stop} == {"us-east-1a"}
    for t in d.stop:
        assert t.desired_status == "STOPPED" and t.stop_code == SCHEDULER
        assert t.stopped_reason == f"Scaling activity initiated by (deployment {dep_id(1)})"
    assert d.service is not None and d.service.running_count == 2
    ids = " ".join(f"(task {t.task_id})" for t in d.stop)
    assert f"(service web) has stopped 2 running tasks: {ids}." in messages(d)


def test_a_task_that_exited_is_replaced() -> None:
    gone = task(inst=1, status="STOPPED", desired="STOPPED", stop_code="EssentialContainerExited",
                stopped_at=NOW - timedelta(seconds=5))
    d = run(world(service(2), instance(1), task(inst=1), gone))
    assert len(d.start) == 1 and not d.stop


# -- rolling deployments ---------------------------------------------------------


def _rollout(minimum: int, maximum: int, new: list[object], old: int = 4, desired: int = 4
             ) -> MemorySnapshot:
    deps = (deployment(2, 2, desired=desired), deployment(1, 1, "ACTIVE", "COMPLETED"))
    svc = service(desired, deployments=deps, minimum=minimum, maximum=maximum)
    olds = [task(1, 1, inst=1 + i % 2) for i in range(old)]
    return world(svc, instance(1, memory=8192), instance(2, memory=8192), *olds, *new)


def test_rollout_100_200_starts_all_new_tasks_before_stopping_old_ones() -> None:
    d = run(_rollout(100, 200, []))
    assert len(d.start) == 4 and not d.stop
    assert all(t.task_definition_arn == td_arn(2) and t.started_by == dep_id(2) for t in d.start)


def test_rollout_stops_old_tasks_once_the_new_ones_are_healthy() -> None:
    new = [task(2, 2, inst=1 + i % 2) for i in range(4)]
    d = run(_rollout(100, 200, new))
    assert len(d.stop) == 4 and {t.started_by for t in d.stop} == {dep_id(1)}
    assert d.service is not None
    old = next(x for x in d.service.deployments if x.id == dep_id(1))
    assert old.status == "ACTIVE" and old.desired_count == 0


def test_rollout_waits_40s_before_counting_a_task_without_health_check() -> None:
    fresh = NOW - timedelta(seconds=10)
    new = [task(2, 2, inst=1 + i % 2, started=fresh) for i in range(4)]
    d = run(_rollout(100, 200, new))
    assert not d.stop and d.wake_at == fresh + timedelta(seconds=40)
    assert len(run(_rollout(100, 200, new), NOW + timedelta(seconds=31)).stop) == 4


def test_young_old_tasks_are_presumed_healthy_young_new_ones_are_not() -> None:
    deps = (deployment(2, 2, desired=2), deployment(1, 1, "ACTIVE", "COMPLETED"))
    young = NOW - timedelta(seconds=5)
    snap = world(service(2, deployments=deps), instance(1),
                 task(1, 1, started=young), task(1, 1, started=young),
                 task(2, 2, started=young), task(2, 2, started=young))
    d = run(snap)
    assert not d.stop and d.wake_at == young + timedelta(seconds=40)
    assert d.service is None or d.service.deployments[0].rollout_state == "IN_PROGRESS"


def test_rollout_50_100_stops_half_first() -> None:
    d = run(_rollout(50, 100, []))
    assert not d.start and len(d.stop) == 2


def test_rollout_50_100_starts_as_old_tasks_stop() -> None:
    stopping = [task(1, 1, inst=1, desired="STOPPED") for _ in range(2)]
    d = run(_rollout(50, 100, stopping, old=2))
    assert not d.start  # the two being stopped still count toward maximumPercent
    done = [task(1, 1, inst=1, status="STOPPED", desired="STOPPED") for _ in range(2)]
    d = run(_rollout(50, 100, done, old=2))
    assert len(d.start) == 2 and not d.stop


def test_old_deployment_becomes_inactive_and_leaves() -> None:
    deps = (deployment(2, 2, desired=2), deployment(1, 1, "ACTIVE", "COMPLETED"))
    snap = world(service(2, deployments=deps), instance(1), task(2, 2), task(2, 2))
    d = run(snap)
    assert d.service is not None
    assert [x.id for x in d.service.deployments] == [dep_id(2)]
    assert d.service.deployments[0].rollout_state == "COMPLETED"


# -- health checks -----------------------------------------------------------------


def test_unhealthy_task_is_left_alone_during_the_grace_period() -> None:
    started = NOW - timedelta(seconds=30)
    sick = task(inst=1, health="UNHEALTHY", started=started)
    tds = (taskdef(1, health=True),)
    svc = service(1, health_check_grace_period_seconds=60)
    d = run(world(svc, instance(1), sick, tds=tds))
    assert not d.stop and not d.start and d.wake_at == started + timedelta(seconds=60)


def test_unhealthy_task_past_the_grace_period_is_replaced() -> None:
    sick = task(inst=1, health="UNHEALTHY", started=NOW - timedelta(seconds=90))
    svc = service(1, health_check_grace_period_seconds=60)
    d = run(world(svc, instance(1), sick, tds=(taskdef(1, health=True),)))
    (stopped,) = d.stop
    assert stopped.stopped_reason == HEALTH_REASON and stopped.stop_code == SCHEDULER
    assert len(d.start) == 1
    assert f"(service web) (task {sick.task_id}) failed container health checks." in messages(d)


def test_a_checked_task_is_not_steady_until_healthy() -> None:
    d = run(world(service(1), instance(1), task(inst=1), tds=(taskdef(1, health=True),)))
    assert d.service is not None
    assert d.service.deployments[0].rollout_state == "IN_PROGRESS"
    d = run(world(service(1), instance(1), task(inst=1, health="HEALTHY"),
                  tds=(taskdef(1, health=True),)))
    assert d.service is not None and d.service.deployments[0].rollout_state == "COMPLETED"


# -- circuit breaker and throttle -----------------------------------------------------


def _failing(breaker: object, failures: int) -> MemorySnapshot:
    deps = (deployment(2, 2), deployment(1, 1, "ACTIVE", "COMPLETED"))
    svc = service(3, deployments=deps, breaker=breaker)
    olds = [task(1, 1, inst=1) for _ in range(3)]
    fails = [failed(2, 2, NOW - timedelta(seconds=10 * (i + 1))) for i in range(failures)]
    return world(svc, instance(1, memory=8192), *olds, *fails)


def test_circuit_breaker_rolls_back_with_a_new_deployment_of_the_last_completed_one() -> None:
    d = run(_failing({"enable": True, "rollback": True}, 3))
    assert d.service is not None
    back, bad, old = d.service.deployments
    assert back.id not in (dep_id(1), dep_id(2))  # a deployment of its own, as ECS starts
    assert (back.status, back.rollout_state, back.task_definition) == (
        "PRIMARY", "IN_PROGRESS", td_arn(1))
    assert back.rollout_state_reason == (
        f"ECS deployment circuit breaker: rolling back to deploymentId {dep_id(1)}."
    )
    assert (bad.status, bad.rollout_state, bad.failed_tasks) == ("ACTIVE", "FAILED", 3)
    assert bad.rollout_state_reason == "ECS deployment circuit breaker: tasks failed to start."
    assert (old.id, old.status, old.rollout_state) == (dep_id(1), "ACTIVE", "COMPLETED")
    assert d.service.task_definition == td_arn(1)
    # the rollback's own tasks are to replace the completed deployment's (maximumPercent 200)
    assert [(t.started_by, t.task_definition_arn) for t in d.start] == [(back.id, td_arn(1))] * 3
    assert not d.stop
    assert f"(service web) (deployment {dep_id(2)}) deployment failed: tasks failed to start." in (
        messages(d)
    )
    again = run(_failing({"enable": True, "rollback": True}, 3)).service
    assert again is not None and again.deployments[0].id == back.id  # a replayed pass agrees


def test_the_rollback_completes_once_its_tasks_replace_the_old_ones() -> None:
    snap = _failing({"enable": True, "rollback": True}, 3)
    now = NOW
    for _ in range(6):
        d = run(snap, now)
        snap = applied(snap, d)
        assert d.service is not None
        if d.service.deployments[0].rollout_state == "COMPLETED":
            break
        now += HOUR
        for t in list(snap.all("task").values()):  # what the agents report meanwhile
            if t.desired_status == "STOPPED" and t.last_status != "STOPPED":
                snap.put(replace(t, last_status="STOPPED", stopped_at=now, stop_code=SCHEDULER))
            elif t.last_status == "PENDING":
                snap.put(replace(t, last_status="RUNNING", started_at=now))
    assert d.service is not None
    (back,) = d.service.deployments  # the failed and the replaced deployments left
    assert (back.rollout_state, back.task_definition, back.running_count) == (
        "COMPLETED", td_arn(1), 3)
    live = [t for t in snap.all("task").values() if t.last_status == "RUNNING"]
    assert {t.started_by for t in live} == {back.id} and len(live) == 3


def test_a_failing_rollback_is_not_rolled_back_again() -> None:
    rollback = replace(deployment(3, 1), rollout_state_reason=(
        f"ECS deployment circuit breaker: rolling back to deploymentId {dep_id(1)}."))
    deps = (rollback, deployment(2, 2, "ACTIVE", "FAILED"), deployment(1, 1, "ACTIVE", "COMPLETED"))
    svc = service(3, deployments=deps, breaker={"enable": True, "rollback": True})
    fails = [failed(3, 1, NOW - timedelta(seconds=10 * (i + 1))) for i in range(3)]
    d = run(world(svc, instance(1, memory=8192), *(task(1, 1) for _ in range(3)), *fails))
    assert d.service is not None
    primary = d.service.deployments[0]
    assert (primary.id, primary.status, primary.rollout_state) == (dep_id(3), "PRIMARY", "FAILED")
    assert not d.start


def _crash(ago: int) -> object:
    return task(2, 2, status="STOPPED", desired="STOPPED", stop_code="EssentialContainerExited",
                started=NOW - timedelta(seconds=ago + 5), stopped_at=NOW - timedelta(seconds=ago))


@pytest.mark.parametrize(("healthy_since", "tripped"), [(None, True), (300, False)])
def test_tasks_that_crash_after_starting_count_until_one_proves_healthy(
    healthy_since: int | None, tripped: bool
) -> None:
    deps = (deployment(2, 2), deployment(1, 1, "ACTIVE", "COMPLETED"))
    svc = service(3, deployments=deps, breaker={"enable": True, "rollback": True})
    crashes = [_crash(400), _crash(350), _crash(10)]
    ok = [task(2, 2, started=NOW - timedelta(seconds=healthy_since))] if healthy_since else []
    d = run(world(svc, instance(1, memory=8192), *(task(1, 1) for _ in range(3)), *crashes, *ok))
    assert d.service is not None
    assert (d.service.deployments[0].task_definition == td_arn(1)) is tripped


def test_circuit_breaker_without_rollback_stalls_the_deployment() -> None:
    d = run(_failing({"enable": True, "rollback": False}, 3))
    assert d.service is not None
    primary = d.service.deployments[0]
    assert (primary.id, primary.status, primary.rollout_state) == (dep_id(2), "PRIMARY", "FAILED")
    assert not d.start and not d.stop


def test_below_the_threshold_the_deployment_keeps_trying() -> None:
    d = run(_failing({"enable": True, "rollback": True}, 2))
    assert len(d.start) == 3 and d.service is not None
    assert d.service.deployments[0].failed_tasks == 2


def test_failing_tasks_are_throttled_without_circuit_breaker() -> None:
    snap = _failing(None, 3)
    d = run(snap)
    last = NOW - timedelta(seconds=10)
    assert not d.start and d.wake_at == last + timedelta(seconds=15)
    assert any("is unable to consistently start tasks successfully" in m for m in messages(d))
    assert len(run(snap, last + timedelta(seconds=15)).start) == 3


# -- placement problems ----------------------------------------------------------------


def test_unable_to_place_names_the_closest_instance_once() -> None:
    snap = world(service(1), instance(1, memory=256))
    d = run(snap)
    assert not d.start
    (msg,) = messages(d)
    assert msg == (
        "(service web) was unable to place a task because no container instance met all of its "
        f"requirements. The closest matching (container-instance {ci_arn(1)[-32:]}) has "
        "insufficient memory available. For more information, see the Troubleshooting section "
        "of the Amazon ECS Developer Guide."
    )
    assert run(applied(snap, d), NOW + HOUR).empty


def test_no_instances_at_all() -> None:
    d = run(world(service(1)))
    assert "No Container Instances were found in your cluster." in messages(d)[0]


# -- instances: draining and lost agents -----------------------------------------------


def test_draining_instance_tasks_are_replaced_elsewhere_first() -> None:
    svc = service(2)
    snap = world(svc, instance(1, status="DRAINING"), instance(2), task(inst=1), task(inst=2))
    d = run(snap)
    assert [t.container_instance_arn for t in d.start] == [ci_arn(2)]
    assert not d.stop  # minimumHealthyPercent 100: the replacement must be healthy first
    replaced = [task(inst=2), task(inst=2)]
    d = run(world(svc, instance(1, status="DRAINING"), instance(2), task(inst=1), *replaced))
    (stopped,) = d.stop
    assert stopped.container_instance_arn == ci_arn(1)
    assert "is DRAINING" in (stopped.stopped_reason or "")


def test_pending_tasks_on_a_draining_instance_stop_at_once() -> None:
    d = run(world(service(1), instance(1, status="DRAINING"), instance(2),
                  task(inst=1, status="PENDING")))
    assert len(d.stop) == 1 and [t.container_instance_arn for t in d.start] == [ci_arn(2)]


@pytest.mark.parametrize(("quiet_for", "replaced"), [(2, False), (6, True)])
def test_tasks_of_a_lost_agent_are_replaced_after_the_grace_period(
    quiet_for: int, replaced: bool
) -> None:
    beat = NOW - timedelta(minutes=quiet_for)
    lost = instance(1, connected=False, heartbeat=beat)
    d = run(world(service(1), lost, instance(2), task(inst=1)), policy=Policy())
    if replaced:
        assert len(d.stop) == 1 and [t.container_instance_arn for t in d.start] == [ci_arn(2)]
        assert d.stop[0].stopped_reason == (
            f"Task stopped because the agent of container instance {ci_arn(1).rsplit('/', 1)[-1]} "
            "has sent no heartbeat for more than 300 seconds."
        )
    else:
        assert not d.stop and not d.start and d.wake_at == beat + timedelta(minutes=5)


# -- DeleteService ---------------------------------------------------------------------


def test_a_draining_service_stops_everything_then_becomes_inactive() -> None:
    svc = service(0, status="DRAINING")
    d = run(world(svc, instance(1), task(inst=1), task(inst=1)))
    assert len(d.stop) == 2 and d.service is not None and d.service.status == "DRAINING"
    done = [task(inst=1, status="STOPPED", desired="STOPPED") for _ in range(2)]
    d = run(world(svc, instance(1), *done))
    assert d.service is not None and d.service.status == "INACTIVE"


# -- DAEMON ------------------------------------------------------------------------


def _daemon(*things: object, requires: tuple[dict[str, str], ...] = ()) -> MemorySnapshot:
    svc = service(0, minimum=0, maximum=100, scheduling_strategy="DAEMON")
    return world(svc, *things, tds=(taskdef(1, requires=requires), taskdef(2)))


def test_daemon_runs_one_task_on_each_eligible_instance() -> None:
    snap = _daemon(instance(1, attrs={"gpu": "yes"}), instance(2), instance(3, attrs={"gpu": "yes"}),
                   requires=({"name": "gpu"},))
    d = run(snap)
    assert sorted(t.container_instance_arn for t in d.start) == [ci_arn(1), ci_arn(3)]
    assert d.service is not None and d.service.desired_count == 2
    assert run(applied(snap, d)).start == ()


def test_daemon_rollout_replaces_in_place() -> None:
    deps = (deployment(2, 2), deployment(1, 1, "ACTIVE", "COMPLETED"))
    svc = service(0, deployments=deps, minimum=0, maximum=100, scheduling_strategy="DAEMON")
    d = run(world(svc, instance(1), task(1, 1, inst=1)))
    assert len(d.stop) == 1 and not d.start  # stop first, start once it has stopped
    gone = task(1, 1, inst=1, status="STOPPED", desired="STOPPED")
    d = run(world(svc, instance(1), gone))
    assert [t.started_by for t in d.start] == [dep_id(2)]


def test_daemon_task_on_a_draining_instance_outlives_other_services() -> None:
    other = replace(task(inst=1), service_arn=SVC.replace("/web", "/api"), group="service:api")
    snap = _daemon(instance(1, status="DRAINING"), task(inst=1), other)
    assert run(snap).stop == ()
    snap = _daemon(instance(1, status="DRAINING"), task(inst=1))
    assert len(run(snap).stop) == 1


# -- events ------------------------------------------------------------------------


def test_a_problem_is_reported_again_once_a_task_started_since() -> None:
    svc = service(1)
    problem = ev.unable_to_place("web", None, None)
    quiet = replace(svc, events=(ServiceEvent("a", NOW - HOUR, problem),))
    assert not ev.should_write(quiet, problem, NOW)
    started = ServiceEvent("b", NOW - HOUR / 2, ev.started("web", ["x"]))
    after = replace(quiet, events=(started, *quiet.events))
    assert ev.should_write(after, problem, NOW)
    assert ev.should_write(quiet, problem, NOW + 6 * HOUR)
