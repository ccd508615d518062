"""Which instances lost their agent: heartbeats, the timeout, and the start-up grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portside.controllers.agent_liveness import heartbeat, lost
from portside.domain.ecs.container_instance import ContainerInstance

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TIMEOUT = timedelta(seconds=30)


def _ci(name: str, beat: int | None, **kw: object) -> ContainerInstance:
    return ContainerInstance(
        container_instance_arn=f"arn:aws:ecs:us-east-1:000000000000:container-instance/c/{name}",
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        registered_at=T0,
        last_heartbeat_at=T0 + timedelta(seconds=beat) if beat is not None else None,
        **kw,
    )


def _agents(*instances: ContainerInstance) -> set[str]:
    return {ci.key for ci in instances}


def test_quiet_for_longer_than_the_timeout_is_lost() -> None:
    fresh, quiet, edge = _ci("fresh", 50), _ci("quiet", 10), _ci("edge", 30)
    out = lost(
        [fresh, quiet, edge], T0 + timedelta(seconds=60), TIMEOUT, since=T0,
        with_agent=_agents(fresh, quiet, edge),
    )
    # quiet: 60 - 10 = 50 s > 30 s; edge: exactly 30 s is not yet lost
    assert [ci.key for ci in out] == [quiet.key]
    assert out[0].agent_connected is False


def test_already_disconnected_agentless_or_deregistered_are_left_alone() -> None:
    instances = [
        _ci("off", 0, agent_connected=False),
        _ci("bare", None),
        _ci("gone", 0, status="INACTIVE"),
    ]
    later = T0 + timedelta(hours=1)
    assert lost(instances, later, TIMEOUT, since=T0, with_agent=_agents(*instances)) == []
    # registered through the API (which records a heartbeat) but no agent ever connected
    api_only = _ci("api", 0)
    assert lost([api_only], later, TIMEOUT, since=T0, with_agent=set()) == []


def test_restart_gives_every_agent_a_full_timeout() -> None:
    old = _ci("old", 0)
    started = T0 + timedelta(hours=1)
    agents = _agents(old)
    assert lost([old], started + timedelta(seconds=29), TIMEOUT, started, agents) == []
    assert len(lost([old], started + timedelta(seconds=31), TIMEOUT, started, agents)) == 1


def test_heartbeat_reconnects() -> None:
    back = heartbeat(_ci("x", 0, agent_connected=False), T0 + timedelta(seconds=99))
    assert back.agent_connected is True
    assert back.last_heartbeat_at == T0 + timedelta(seconds=99)
