"""Bridge-mode Service Connect ingress: the host port the agent picks, reports, and Cloud Map registers.

The agent's side (the proxy document, where the application answers) and the
control plane's (the registry entry and the port it registers) meet on one
network binding: ``containerPort`` = the ingress port, ``hostPort`` = the
proxy's ephemeral host port.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from portside.agent.drivers.base import NetworkBinding, RuntimeContainer
from portside.agent.service_connect import app_target
from portside.agent.service_connect_config import proxy_config
from portside.controllers.registrations import _port
from portside.domain.ecs.service_connect import registries
from portside.proxy.config import Direction, Endpoint, config_to_dict, parse_config

SECTION: dict[str, Any] = {
    "upstreams": [{"name": "api", "protocol": "http"}],
    "outbound": [{"dnsName": "api", "port": 8080, "upstream": "api"}],
    "inbound": [{"upstream": "api", "containerName": "app", "containerPort": 8080,
                 "ingressPort": 15443, "protocol": "http"}],
    "endpoints": {"api": [{"address": "10.0.0.5", "port": 40001}]},
}


def _inbound(config: Any) -> tuple[Any, tuple[Endpoint, ...]]:
    (listener,) = [x for x in config.listeners if x.direction is Direction.INBOUND]
    return listener, config.endpoints[listener.upstream]


def test_bridge_inbound_listener_binds_the_host_port_before_the_application() -> None:
    before = proxy_config(SECTION, {"api": "127.20.0.1"}, task_address="127.0.0.1",
                          admin_unix="/tmp/a.sock", host_ingress={"api": 40001}, targets={})
    listener, endpoints = _inbound(before)
    assert (listener.address, listener.port) == ("0.0.0.0", 40001)
    assert endpoints == ()  # the container does not run yet: nowhere to send traffic
    assert parse_config(config_to_dict(before)) == before

    after = proxy_config(SECTION, {"api": "127.20.0.1"}, task_address="127.0.0.1",
                         admin_unix="/tmp/a.sock", host_ingress={"api": 40001},
                         targets={"api": ("172.17.0.3", 8080)})
    listener, endpoints = _inbound(after)
    assert (listener.address, listener.port) == ("0.0.0.0", 40001)
    assert endpoints == (Endpoint("172.17.0.3", 8080),)


def test_awsvpc_inbound_listener_is_unchanged() -> None:
    config = proxy_config(SECTION, {"api": "127.255.0.1"}, task_address="10.213.0.7",
                          admin_unix="/tmp/a.sock")
    listener, endpoints = _inbound(config)
    assert (listener.address, listener.port) == ("10.213.0.7", 15443)
    assert endpoints == (Endpoint("10.213.0.7", 8080),)


def test_a_bridge_upstream_without_a_host_port_gets_no_listener() -> None:
    config = proxy_config(SECTION, {"api": "127.20.0.1"}, task_address="127.0.0.1",
                          admin_unix="/tmp/a.sock", host_ingress={}, targets={})
    assert [x for x in config.listeners if x.direction is Direction.INBOUND] == []


def test_the_application_answers_at_its_bridge_address_else_its_host_port() -> None:
    docker = RuntimeContainer("t", "app", "r", address="172.17.0.3",
                              bindings=(NetworkBinding(8080, 32999),))
    assert app_target(docker, 8080) == ("172.17.0.3", 8080)
    process = RuntimeContainer("t", "app", "r", bindings=(NetworkBinding(8080, 32999),))
    assert app_target(process, 8080) == ("127.0.0.1", 32999)
    assert app_target(process, 9090) is None


def _cfg(mode: str | None) -> dict[str, Any]:
    service = {"discovery_arn": "arn:sd", "container_name": "app", "container_port": 8080,
               "ingress_port": 15443}
    if mode:
        service["network_mode"] = mode
    return {"enabled": True, "services": [service]}


def _task(*bindings: tuple[int, int]) -> Any:
    container = SimpleNamespace(name="app", network_bindings=[
        {"container_port": c, "host_port": h} for c, h in bindings])
    return SimpleNamespace(containers=[container], attachments=())


def test_bridge_registers_the_reported_ingress_host_port_and_nothing_before() -> None:
    (reg,) = registries(_cfg("bridge"))
    assert reg["ingress_reported"] and reg["container_port"] == 15443
    assert _port(_task((8080, 32999), (15443, 40001)), reg) == 40001
    assert _port(_task((8080, 32999)), reg) is None  # not reported yet: not the app's port


def test_awsvpc_registers_the_ingress_port_itself() -> None:
    (reg,) = registries(_cfg(None))
    assert reg["port"] == 15443 and not reg.get("ingress_reported")
