"""The Route 53 health checker's rules, without sockets: health_checks.decide and target_of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portside.domain.servicediscovery.health_checks import (
    Check,
    Memory,
    Result,
    Target,
    decide,
    target_of,
)
from portside.domain.servicediscovery.instance import Instance
from portside.domain.servicediscovery.model import HEALTHY, UNHEALTHY, HealthCheckConfig
from portside.domain.servicediscovery.namespace import Namespace
from portside.domain.servicediscovery.service import Service

T0 = datetime(2026, 1, 1, tzinfo=UTC)
EVERY = timedelta(seconds=30)
WEB = Target("HTTP", "10.0.0.1", 8080, "/health", "web.example.com:8080")


def check(status: str = HEALTHY, threshold: int = 3, target: Target = WEB) -> Check:
    return Check("srv-1", "i-1", target, threshold, status)


def test_a_new_instance_is_probed_at_once_and_not_again_while_its_probe_is_out() -> None:
    d = decide([check()], {}, {}, set(), T0, EVERY)
    assert [c.key for c in d.due] == ["srv-1/i-1"] and d.changes == {}
    again = decide([check()], d.memory, {}, {"srv-1/i-1"}, T0 + EVERY * 3, EVERY)
    assert again.due == () and again.wake_at is None


def test_the_next_probe_goes_out_an_interval_after_the_answer() -> None:
    first = decide([check()], {}, {}, set(), T0, EVERY)
    answered = T0 + timedelta(seconds=3)
    d = decide([check()], first.memory, {"srv-1/i-1": Result(WEB, True)}, set(), answered, EVERY)
    assert d.due == () and d.wake_at == answered + EVERY
    assert decide([check()], d.memory, {}, set(), answered + EVERY, EVERY).due == (check(),)


def test_failure_threshold_consecutive_failures_make_it_unhealthy() -> None:
    memory: dict[str, Memory] = {}
    now = T0
    for n in range(1, 4):
        d = decide([check()], memory, {"srv-1/i-1": Result(WEB, False)}, set(), now, EVERY)
        memory, now = d.memory, now + EVERY
        assert d.changes == ({"srv-1/i-1": UNHEALTHY} if n == 3 else {})
    assert memory["srv-1/i-1"].streak == 0


def test_a_success_between_failures_starts_the_count_again() -> None:
    memory: dict[str, Memory] = {}
    for ok in (False, False, True, False, False):
        d = decide([check()], memory, {"srv-1/i-1": Result(WEB, ok)}, set(), T0, EVERY)
        assert d.changes == {}
        memory = d.memory


def test_an_unhealthy_instance_needs_threshold_successes_to_recover() -> None:
    memory: dict[str, Memory] = {}
    d = decide([check(UNHEALTHY, 2)], memory, {"srv-1/i-1": Result(WEB, True)}, set(), T0, EVERY)
    assert d.changes == {}
    d = decide([check(UNHEALTHY, 2)], d.memory, {"srv-1/i-1": Result(WEB, True)}, set(), T0,
               EVERY)  # fmt: skip
    assert d.changes == {"srv-1/i-1": HEALTHY}
    # failures agree with UNHEALTHY: nothing to count
    d = decide([check(UNHEALTHY, 1)], {}, {"srv-1/i-1": Result(WEB, False)}, set(), T0, EVERY)
    assert d.changes == {} and d.memory["srv-1/i-1"].streak == 0


def test_threshold_one_flips_on_the_first_result() -> None:
    d = decide([check(threshold=1)], {}, {"srv-1/i-1": Result(WEB, False)}, set(), T0, EVERY)
    assert d.changes == {"srv-1/i-1": UNHEALTHY}


def test_a_new_endpoint_starts_a_new_count_and_drops_old_results() -> None:
    moved = Target("HTTP", "10.0.0.2", 8080, "/health", "web.example.com:8080")
    d = decide([check()], {}, {"srv-1/i-1": Result(WEB, False)}, set(), T0, EVERY)
    d = decide([check()], d.memory, {"srv-1/i-1": Result(WEB, False)}, set(), T0, EVERY)
    assert d.memory["srv-1/i-1"].streak == 2
    d = decide([check(target=moved)], d.memory, {"srv-1/i-1": Result(WEB, False)}, set(), T0,
               EVERY)  # fmt: skip
    assert d.changes == {} and d.memory["srv-1/i-1"] == Memory(moved)
    assert d.due == (check(target=moved),)


def test_instances_no_longer_checked_are_forgotten_and_wake_at_is_the_earliest() -> None:
    other = Check("srv-1", "i-2", WEB, 3, HEALTHY)
    memory = {
        "srv-1/i-1": Memory(WEB, 0, T0 + timedelta(seconds=20)),
        "srv-1/i-2": Memory(WEB, 0, T0 + timedelta(seconds=10)),
        "srv-1/gone": Memory(WEB, 1, T0),
    }
    d = decide([check(), other], memory, {}, set(), T0, EVERY)
    assert set(d.memory) == {"srv-1/i-1", "srv-1/i-2"}
    assert d.due == () and d.wake_at == T0 + timedelta(seconds=10)


def _service(hc: HealthCheckConfig | None) -> Service:
    return Service(id="srv-1", arn="arn", account="1", region="r", name="web",
                   namespace_id="ns-1", type="DNS_HTTP", created_at=T0, health_check_config=hc)  # fmt: skip


def _instance(**attrs: str) -> Instance:
    return Instance(service_id="srv-1", id="i-1", account="1", created_at=T0, attributes=attrs)


def test_target_follows_cloud_map() -> None:
    public = Namespace(id="ns-1", arn="arn", account="1", region="r", name="example.com.",
                       type="DNS_PUBLIC", http_name="example.com", created_at=T0)  # fmt: skip
    http = _service(HealthCheckConfig("HTTP", "/health"))
    both = _instance(AWS_INSTANCE_IPV4="10.0.0.1", AWS_INSTANCE_IPV6="::1",
                     AWS_INSTANCE_PORT="8080")  # fmt: skip
    assert target_of(http, both, public) == WEB  # IPv4 first; Host is the service's DNS name
    on_80 = _instance(AWS_INSTANCE_IPV4="10.0.0.1", AWS_INSTANCE_PORT="80")
    assert target_of(http, on_80, public) == Target("HTTP", "10.0.0.1", 80, "/health",
                                                    "web.example.com")  # fmt: skip
    v6 = _instance(AWS_INSTANCE_IPV6="::1")
    assert target_of(http, v6, None) == Target("HTTP", "::1", 80, "/health", "[::1]")
    https = _service(HealthCheckConfig("HTTPS", "/"))
    assert target_of(https, v6, None) == Target("HTTPS", "::1", 443, "/", "[::1]")
    tcp = _service(HealthCheckConfig("TCP"))
    assert target_of(tcp, v6, None) is None  # a TCP check needs a port
    assert target_of(tcp, _instance(AWS_INSTANCE_IPV4="10.0.0.1", AWS_INSTANCE_PORT="5432"),
                     None) == Target("TCP", "10.0.0.1", 5432)  # fmt: skip
    assert target_of(http, _instance(AWS_INSTANCE_PORT="80", color="blue"), None) is None
    assert target_of(_service(None), both, public) is None
