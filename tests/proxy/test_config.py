"""The configuration document: ECS defaults, strict validation, round trip."""

from __future__ import annotations

import pytest

from portside.proxy.config import (
    AppProtocol,
    Balancing,
    ConfigError,
    Direction,
    Health,
    config_to_dict,
    parse_config,
)

DOC = {
    "upstreams": [
        {"name": "api", "protocol": "http", "balancing": "least_request",
         "outlier": {"base_ejection_seconds": 1}, "retry": {"max_retries": 3}},
        {"name": "db", "protocol": "tcp"},
        {"name": "grpc", "protocol": "grpc", "timeouts": {"idle_seconds": 0}},
    ],
    "listeners": [
        {"name": "api:8080", "address": "127.255.0.1", "port": 8080, "upstream": "api"},
        {"name": "db:5432", "port": 5432, "upstream": "db", "direction": "outbound"},
    ],
    "endpoints": {"api": [{"address": "10.0.0.2", "port": 8080, "health": "UNHEALTHY"}]},
    "admin": {"unix": "/run/proxy.sock"},
}  # fmt: skip


def test_defaults_follow_ecs() -> None:
    config = parse_config(DOC)
    api, db, grpc = config.upstreams
    assert api.timeouts.idle_seconds == 300 and api.timeouts.per_request_seconds == 15
    assert db.timeouts.idle_seconds == 3600  # tcp: one hour
    assert grpc.timeouts.idle_seconds == 0  # 0 disables
    assert api.balancing is Balancing.LEAST_REQUEST and db.balancing is Balancing.ROUND_ROBIN
    assert api.outlier.base_ejection_seconds == 1.0 and api.outlier.consecutive_failures == 5
    assert api.outlier.max_ejection_seconds == 300 and api.outlier.max_ejection_percent == 10
    assert api.retry.max_retries == 3 and api.retry.base_interval_seconds == 0.025
    assert not api.spliced and db.spliced and grpc.spliced and grpc.protocol is AppProtocol.GRPC
    assert config.listeners[1].direction is Direction.OUTBOUND
    assert config.endpoints["api"][0].health is Health.UNHEALTHY
    assert config.admin is not None and config.admin.unix == "/run/proxy.sock"


def test_round_trip() -> None:
    config = parse_config(DOC)
    assert parse_config(config_to_dict(config)) == config


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"upstreams": [{"name": "api", "colour": "red"}]}, "unknown key(s) colour"),
        ({"upstreams": [{"name": "api", "protocol": "udp"}]}, "'udp' is not one of"),
        ({"upstreams": [{"name": "t", "protocol": "tcp", "timeouts": {"per_request_seconds": 5}}]},
         "per_request_seconds cannot be set for the tcp protocol"),
        ({"upstreams": [{"name": "api", "timeouts": {"idle_seconds": -1}}]}, "must be >= 0"),
        ({"upstreams": [{"name": "api", "retry": {"max_retries": "2"}}]}, "expected int"),
        ({"listeners": [{"name": "x", "port": 80, "upstream": "nope"}]}, "unknown upstream 'nope'"),
        ({"listeners": [{"name": "x", "port": 70000, "upstream": "api"}]}, "not a valid port"),
        ({"endpoints": {"api": [{"address": "a", "port": 0}]}}, "not a valid port"),
        ({"endpoints": {"ghost": []}}, "unknown upstream 'ghost'"),
    ],
)  # fmt: skip
def test_invalid_documents_are_refused(patch: dict[str, object], message: str) -> None:
    doc: dict[str, object] = {"upstreams": [{"name": "api"}], **patch}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(doc)
