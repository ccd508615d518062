"""Validation of a service's ``serviceRegistries`` as ECS does it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portside.controllers.registrations import registry_service_id
from portside.domain.ecs.task_definition_containers import network
from portside.domain.errors import InvalidParameterException
from portside.store.store import Store


def check_service_registries(
    store: Store, td: Any, launch_type: str | None, registries: Sequence[Mapping[str, Any]] | None
) -> tuple[dict[str, Any], ...]:
    """Validated copies: one registry, an existing Cloud Map service, SRV for bridge/host,
    A or SRV records (never CNAME) for awsvpc."""
    regs = [dict(r) for r in registries or ()]
    if not regs:
        return ()
    if launch_type == "EXTERNAL":
        raise InvalidParameterException(
            "Service discovery is not supported for the EXTERNAL launch type."
        )
    if len(regs) > 1:
        raise InvalidParameterException("A service can have only one service registry.")
    reg = regs[0]
    arn = reg.get("registry_arn")
    if not arn:
        raise InvalidParameterException("serviceRegistries requires a registryArn.")
    sd = store.get("sd_service", registry_service_id(arn))
    if sd is None:
        raise InvalidParameterException(f"The service registry {arn} does not exist.")
    types = {r.type for r in sd.dns_config.dns_records} if sd.dns_config else set()
    _check_record_types(arn, types)
    mode = network(td.network_mode)
    name, port = reg.get("container_name"), reg.get("container_port")
    if (name is None) != (port is None):
        raise InvalidParameterException(
            "containerName and containerPort must be specified together in serviceRegistries."
        )
    if name is not None:
        container = td.container(name)
        if container is None:
            raise InvalidParameterException(
                f"The container {name} in serviceRegistries is not in the task definition."
            )
        ports = {p.get("container_port") for p in container.get("port_mappings") or ()}
        if port not in ports:
            raise InvalidParameterException(
                f"The container port {port} in serviceRegistries is not mapped by container {name}."
            )
    if mode in ("bridge", "host"):
        if "SRV" not in types:
            raise InvalidParameterException(
                f"The service registry for a task definition with networkMode '{mode}' must "
                "use SRV records: A records cannot carry the dynamic host port."
            )
        if name is None:
            raise InvalidParameterException(
                "When specifying 'host' or 'bridge' for networkMode, values for "
                "'containerName' and 'containerPort' must be specified from the task definition."
            )
    elif "SRV" in types and name is None and not reg.get("port"):
        raise InvalidParameterException(
            "A service registry with SRV records needs a port, or a containerName and "
            "containerPort."
        )
    return (reg,)


def _check_record_types(arn: str, types: set[str]) -> None:
    """ECS registers task addresses and ports: A and SRV records, AAAA beside them.

    ECS's guide: with awsvpc "you can create any combination of A or SRV
    records", with bridge or host only SRV. A CNAME record names another host,
    which ECS never registers; an AAAA-only registry would have no record for
    any task, since portside gives tasks no IPv6 address.
    """
    if "CNAME" in types:
        raise InvalidParameterException(
            f"The service registry {arn} uses CNAME records; ECS registers task addresses, "
            "so use A or SRV records."
        )
    if types and not types & {"A", "SRV"}:
        raise InvalidParameterException(
            f"The service registry {arn} has only AAAA records, and tasks have no IPv6 "
            "address; add an A or SRV record."
        )
