"""How a process-driver container is wired: its address, its ports, its environment.

No namespace isolates a host process, so the driver tells a cooperating program
where to listen through its environment. A process gets the container
definition's ``environment``, the agent's PATH, HOME, LANG, LC_*, TZ, TMPDIR,
USER, LOGNAME and SHELL, what ECS adds (ECS_CONTAINER_METADATA_URI_V4 and
friends, see Engine.container_env), and:

    PORTSIDE_NETWORK_MODE          awsvpc | bridge | host | none
    PORTSIDE_ADDRESS               the address to listen on: the task's own
                                   127.x.y.z under awsvpc, 0.0.0.0 under bridge
                                   and host (absent under none)
    PORTSIDE_PORT_<containerPort>  the port to listen on for that mapping: the
                                   allocated host port under bridge, the
                                   container port under awsvpc and host
    PORT                           the same for the first port mapping

Network modes: ``awsvpc`` gives the task its own loopback address in
127.64.0.0/10 (derived from the task ARN, so stable across agent restarts;
shared by the task's containers; reported as its ENI attachment), with ports
as defined and no network bindings, as ECS reports awsvpc tasks; ``bridge``
allocates a host port from the ephemeral range 32768-60999 for each mapping
without a hostPort and reports the bindings; ``host`` uses the container ports
on the host; ``none`` passes no address or ports.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping

from portside.agent.drivers.base import ContainerError, NetworkBinding, TaskNetwork
from portside.agent.payload import ContainerSpec
from portside.agent.ports import PortAllocator

INHERITED = ("PATH", "HOME", "LANG", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL")
AWSVPC_NET = ipaddress.ip_network("127.64.0.0/10")


def pick_address(task_arn: str, used: set[str]) -> str:
    """The task's own loopback address: a hash of its ARN in 127.64.0.0/10, not in ``used``."""
    size = AWSVPC_NET.num_addresses
    for salt in range(64):
        digest = hashlib.sha256(f"{task_arn}/{salt}".encode()).digest()
        address = AWSVPC_NET.network_address + int.from_bytes(digest[:4], "big") % size
        if address.packed[-1] in (0, 255) or str(address) in used:
            continue
        return str(address)
    raise ContainerError("CannotStartContainerError", "no free 127.x address for the task")


def mac_address(task_arn: str) -> str:
    """A locally administered MAC address for the task's made-up interface."""
    digest = hashlib.sha256(task_arn.encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def ports_for(
    container: ContainerSpec, network: TaskNetwork, allocator: PortAllocator
) -> tuple[list[NetworkBinding], list[tuple[int, int]]]:
    """(network bindings to report, (container port, port to listen on) pairs)."""
    bindings: list[NetworkBinding] = []
    listen: list[tuple[int, int]] = []
    for p in container.port_mappings:
        if network.mode == "none":
            continue
        if network.mode == "awsvpc":
            listen.append((p.container_port, p.container_port))
            continue
        if network.mode == "host":
            host = p.host_port or p.container_port
        else:
            host = p.host_port or allocator.allocate(p.protocol)
        bindings.append(NetworkBinding(p.container_port, host, p.protocol))
        listen.append((p.container_port, host))
    return bindings, listen


def process_environment(
    agent_env: Mapping[str, str],
    env: Mapping[str, str],
    network: TaskNetwork,
    listen: list[tuple[int, int]],
) -> dict[str, str]:
    out = {k: v for k, v in agent_env.items() if k in INHERITED or k.startswith("LC_")}
    out.update(env)
    out["PORTSIDE_NETWORK_MODE"] = network.mode
    if network.mode != "none":
        out["PORTSIDE_ADDRESS"] = network.address or "0.0.0.0"
    for container_port, port in listen:
        out[f"PORTSIDE_PORT_{container_port}"] = str(port)
    if listen:
        out["PORT"] = str(listen[0][1])
    return out
