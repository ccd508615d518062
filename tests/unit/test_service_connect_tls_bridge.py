"""Service Connect TLS in the bridge mode: the proxy document of a bridge task with a TLS port.

The inbound listener on the task's ingress host port takes mTLS with the task's
certificate files exactly as the awsvpc one on the task's address does; only its
address and port differ. The application behind it is still spoken to in plaintext,
and a TLS port without a certificate is never served.
"""

from __future__ import annotations

from typing import Any

from portside.agent.service_connect_config import proxy_config
from portside.proxy.config import Direction, Endpoint, TlsConfig, config_to_dict, parse_config

TLS = TlsConfig("/state/tls/ca.pem", "/state/tls/cert.pem", "/state/tls/key.pem")
SECTION: dict[str, Any] = {
    "upstreams": [{"name": "api", "protocol": "http", "tls": True}],
    "outbound": [{"dnsName": "api", "port": 8080, "upstream": "api"}],
    "inbound": [{"upstream": "api", "containerName": "app", "containerPort": 8080,
                 "ingressPort": 15443, "protocol": "http", "tls": True}],
    "endpoints": {"api": [{"address": "10.0.0.5", "port": 40001}]},
}


def _config(**bridge: Any) -> Any:
    return proxy_config(SECTION, {"api": "127.20.0.1"}, task_address="127.0.0.1",
                        admin_unix="/tmp/a.sock", tls=TLS, **bridge)


def test_bridge_inbound_listener_takes_mtls_on_its_host_port() -> None:
    config = _config(host_ingress={"api": 40001}, targets={"api": ("127.0.0.1", 32999)})
    (inbound,) = [x for x in config.listeners if x.direction is Direction.INBOUND]
    assert (inbound.address, inbound.port, inbound.tls) == ("0.0.0.0", 40001, TLS)
    assert config.endpoints[inbound.upstream] == (Endpoint("127.0.0.1", 32999),)
    assert config.upstream(inbound.upstream).tls is None  # to the application: plaintext
    # callers' side: the upstream speaks TLS to the registered host ports, checking the name
    api = config.upstream("api")
    assert api.tls is not None and api.tls.server_name == "api"
    assert config.endpoints["api"] == (Endpoint("10.0.0.5", 40001),)
    assert parse_config(config_to_dict(config)) == config  # what the proxy will read

    # the awsvpc listener of the same section: same TLS, the task's address and ingress port
    awsvpc = _config()
    (same,) = [x for x in awsvpc.listeners if x.direction is Direction.INBOUND]
    assert (same.address, same.port, same.tls) == ("127.0.0.1", 15443, TLS)


def test_bridge_tls_port_without_a_certificate_is_not_served() -> None:
    bare = proxy_config(SECTION, {"api": "127.20.0.1"}, task_address="127.0.0.1",
                        admin_unix="/tmp/a.sock", host_ingress={"api": 40001},
                        targets={"api": ("127.0.0.1", 32999)})
    assert [x for x in bare.listeners if x.direction is Direction.INBOUND] == []
