"""A task's ``serviceConnect`` section becomes its proxy's configuration, hosts and environment."""

from __future__ import annotations

from typing import Any

from portside.agent.service_connect_config import (
    alias_addresses,
    alias_environment,
    hosts_file,
    namespace_listeners,
    proxy_config,
)
from portside.proxy.config import (
    AppProtocol,
    Direction,
    Endpoint,
    Health,
    config_to_dict,
    parse_config,
)

TASK = "arn:aws:ecs:us-east-1:000000000000:task/default/0123456789abcdef"

SECTION: dict[str, Any] = {
    "namespace": "arn:aws:servicediscovery:us-east-1:000000000000:namespace/ns-1",
    "upstreams": [
        {"name": "api", "protocol": "http", "idleTimeoutSeconds": 300,
         "perRequestTimeoutSeconds": 15},
        {"name": "db", "protocol": "tcp", "idleTimeoutSeconds": 3600},
    ],
    "outbound": [
        {"dnsName": "api", "port": 8080, "upstream": "api"},
        {"dnsName": "api.local", "port": 8080, "upstream": "api"},
        {"dnsName": "db", "port": 5432, "upstream": "db"},
    ],
    "inbound": [{"upstream": "api", "containerName": "app", "containerPort": 8080,
                 "ingressPort": 0, "protocol": "http"}],
    "endpoints": {
        "api": [{"address": "127.64.0.9", "port": 8080, "health": "HEALTHY"},
                {"address": "127.64.0.10", "port": 8080, "health": "UNHEALTHY"}],
        "db": [],
    },
}


def test_every_alias_gets_its_own_loopback_address() -> None:
    shared = alias_addresses(SECTION, TASK, private=False)
    assert sorted(shared) == ["api", "api.local", "db"]
    assert len(set(shared.values())) == 3
    assert all(a.startswith("127.") and 16 <= int(a.split(".")[1]) < 32 for a in shared.values())
    assert shared == alias_addresses(SECTION, TASK, private=False)  # stable for the task
    private = alias_addresses(SECTION, TASK, private=True)
    assert private == {"api": "127.255.0.1", "api.local": "127.255.0.2", "db": "127.255.0.3"}


def test_proxy_config_has_outbound_and_inbound_listeners_and_endpoints() -> None:
    aliases = alias_addresses(SECTION, TASK, private=True)
    config = proxy_config(SECTION, aliases, task_address="127.64.0.9", admin_unix="/tmp/a.sock")
    assert parse_config(config_to_dict(config)) == config  # a valid proxy document
    outbound = {x.name: (x.address, x.port, x.upstream) for x in config.listeners
                if x.direction is Direction.OUTBOUND}
    assert outbound == {"api:8080": ("127.255.0.1", 8080, "api"),
                        "api.local:8080": ("127.255.0.2", 8080, "api"),
                        "db:5432": ("127.255.0.3", 5432, "db")}
    (inbound,) = [x for x in config.listeners if x.direction is Direction.INBOUND]
    assert (inbound.address, inbound.port) == ("127.64.0.9", 0)
    assert config.endpoints[inbound.upstream] == (Endpoint("127.64.0.9", 8080),)
    app = config.upstream(inbound.upstream)  # the application alone: never ejected nor retried
    assert (app.outlier.enabled, app.retry.max_retries) == (False, 0)
    assert config.upstream("api").outlier.enabled and config.upstream("api").retry.max_retries > 0
    assert config.endpoints["api"][1].health is Health.UNHEALTHY
    db = config.upstream("db")
    assert db.protocol is AppProtocol.TCP
    assert (db.timeouts.idle_seconds, db.timeouts.per_request_seconds) == (3600.0, 0.0)
    assert config.upstream("api").timeouts.per_request_seconds == 15.0
    assert config.admin is not None and config.admin.unix == "/tmp/a.sock"


def test_hosts_file_and_environment_name_every_alias() -> None:
    aliases = {"api": "127.20.1.1", "db": "127.20.1.2"}
    text = hosts_file("127.0.0.1\tlocalhost\n", aliases)
    assert text.splitlines()[0] == "127.0.0.1\tlocalhost"
    assert "127.20.1.1\tapi" in text.splitlines() and "127.20.1.2\tdb" in text.splitlines()
    env = alias_environment(SECTION, aliases)
    assert env == {"PORTSIDE_SERVICE_CONNECT_API": "127.20.1.1:8080",
                   "PORTSIDE_SERVICE_CONNECT_DB": "127.20.1.2:5432"}


def test_bridge_containers_get_every_alias_in_their_own_namespace_but_their_own_ports() -> None:
    aliases = alias_addresses(SECTION, TASK, private=False)
    base = proxy_config(SECTION, aliases, task_address="127.0.0.1", admin_unix="/tmp/a.sock")
    inside = alias_addresses(SECTION, TASK, private=True)
    config = namespace_listeners(base, SECTION, inside, {
        "web": ("/proc/10/ns/net", frozenset()),
        "app": ("/proc/11/ns/net", frozenset({8080})),  # app serves 8080 itself
    })
    assert parse_config(config_to_dict(config)) == config  # still a valid proxy document
    assert config.listeners[:len(base.listeners)] == base.listeners  # the host's stay
    added = {x.name: (x.netns, x.address, x.port) for x in config.listeners[len(base.listeners):]}
    assert added == {
        "api:8080@web": ("/proc/10/ns/net", "127.255.0.1", 8080),
        "api.local:8080@web": ("/proc/10/ns/net", "127.255.0.2", 8080),
        "db:5432@web": ("/proc/10/ns/net", "127.255.0.3", 5432),
        "db:5432@app": ("/proc/11/ns/net", "127.255.0.3", 5432),
    }
