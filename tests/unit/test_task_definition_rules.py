"""RegisterTaskDefinition's rules as tables: sizes, Fargate pairs, containers, launch types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from portside.domain.ecs.model import PortReservation, Reservation
from portside.domain.ecs.task_definition import TaskDefinition
from portside.domain.ecs.task_definition_rules import check_registration, check_request_size
from portside.domain.ecs.task_definition_sizes import (
    fargate_size_ok,
    parse_task_cpu,
    parse_task_memory,
)
from portside.domain.ecs.task_definitions import task_reservation
from portside.domain.errors import ClientException


def box(name: str = "app", **kw: Any) -> dict[str, Any]:
    """A minimal valid container for an EC2 definition (128 MiB)."""
    return {"name": name, "image": "busybox", "memory": 128, **kw}


def fargate(containers: list[dict[str, Any]], cpu: str = "256", memory: str = "512",
            **kw: Any) -> dict[str, Any]:
    return dict(family="f", container_definitions=containers, network_mode="awsvpc",
                requires_compatibilities=["FARGATE"], cpu=cpu, memory=memory, **kw)


# -- task size ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("1024", 1024),
        ("256", 256),
        ("1 vCPU", 1024),
        ("0.25 vcpu", 256),  # 0.25 * 1024
        ("2vCPU", 2048),
        (" 4 VCPU ", 4096),
    ],
)
def test_task_cpu_forms(text: str, units: int) -> None:
    assert parse_task_cpu(text) == units


@pytest.mark.parametrize("text", ["", "abc", "0", "-1", "1.5", "0.0001 vCPU", "1 GHz"])
def test_bad_task_cpu(text: str) -> None:
    with pytest.raises(ClientException, match=r"Invalid 'cpu' setting for task\."):
        parse_task_cpu(text)


@pytest.mark.parametrize(
    ("text", "mib"),
    [
        ("512", 512),
        ("2 GB", 2048),  # 2 * 1024
        ("2GB", 2048),
        ("0.5GB", 512),
        ("1 GiB", 1024),
        ("3072 MiB", 3072),
    ],
)
def test_task_memory_forms(text: str, mib: int) -> None:
    assert parse_task_memory(text) == mib


@pytest.mark.parametrize("text", ["", "lots", "0", "1.5", "1 TB", "0.0001 GB"])
def test_bad_task_memory(text: str) -> None:
    with pytest.raises(ClientException, match=r"Invalid 'memory' setting for task\."):
        parse_task_memory(text)


@pytest.mark.parametrize(
    ("cpu", "memory", "ok"),
    [
        (256, 512, True),
        (256, 2048, True),
        (256, 3072, False),  # 0.25 vCPU stops at 2 GB
        (512, 1024, True),
        (512, 4096, True),
        (512, 512, False),
        (1024, 2048, True),
        (1024, 8192, True),
        (1024, 1024, False),
        (2048, 16384, True),
        (2048, 16385, False),  # not a whole GB
        (4096, 30720, True),
        (4096, 31744, False),
        (8192, 16384, True),  # 16 GB
        (8192, 20480, True),  # 20 GB: 16 + 4
        (8192, 17408, False),  # 17 GB: not a 4 GB step
        (8192, 61440, True),  # 60 GB
        (16384, 32768, True),  # 32 GB
        (16384, 40960, True),  # 40 GB: 32 + 8
        (16384, 36864, False),  # 36 GB: not an 8 GB step
        (16384, 122880, True),  # 120 GB
        (16384, 131072, False),
        (300, 1024, False),
    ],
)
def test_fargate_pairs(cpu: int, memory: int, ok: bool) -> None:
    assert fargate_size_ok(cpu, memory) is ok


# -- accepted definitions and what ECS fills in -------------------------------

def test_ec2_defaults_and_compatibilities() -> None:
    checked = check_registration(
        family="web",
        container_definitions=[box(port_mappings=[{"container_port": 80}])],
    )
    (c,) = checked.container_definitions
    assert c["essential"] is True and c["cpu"] == 0
    assert c["environment"] == [] and c["mount_points"] == [] and c["volumes_from"] == []
    assert c["port_mappings"] == [{"container_port": 80, "protocol": "tcp", "host_port": 0}]
    assert checked.compatibilities == ("EXTERNAL", "EC2")
    assert checked.requires_compatibilities == ()


def test_fargate_normalizes_sizes_and_fixes_host_ports() -> None:
    checked = check_registration(
        **fargate([{"name": "a", "image": "x", "port_mappings": [{"container_port": 8080}]}],
                  cpu="1 vCPU", memory="2 GB")
    )
    assert (checked.cpu, checked.memory) == ("1024", "2048")
    assert checked.container_definitions[0]["port_mappings"][0]["host_port"] == 8080
    assert checked.compatibilities == ("EC2", "FARGATE")


def test_health_check_defaults() -> None:
    checked = check_registration(
        family="h",
        container_definitions=[box(health_check={"command": ["CMD-SHELL", "true"]})],
    )
    hc = checked.container_definitions[0]["health_check"]
    assert (hc["interval"], hc["timeout"], hc["retries"]) == (30, 5, 3)
    assert "start_period" not in hc


def test_task_memory_stands_in_for_container_memory_on_ec2() -> None:
    checked = check_registration(
        family="m", memory="512", container_definitions=[{"name": "a", "image": "x"}]
    )
    assert checked.memory == "512"


# -- rejected definitions -----------------------------------------------------

REJECTED: list[tuple[str, dict[str, Any], str]] = [
    ("bad family", dict(family="no spaces", container_definitions=[box()]),
     "Family contains invalid characters."),
    ("blank family", dict(family="", container_definitions=[box()]), "Family can not be blank."),
    ("long family", dict(family="f" * 256, container_definitions=[box()]), "up to 255"),
    ("no containers", dict(family="f", container_definitions=[]),
     "Container list cannot be empty."),
    ("11 containers", dict(family="f", container_definitions=[box(f"c{i}") for i in range(11)]),
     "Too many containers."),
    ("no name", dict(family="f", container_definitions=[{"image": "x", "memory": 8}]),
     "Container.name should not be null or empty."),
    ("bad name", dict(family="f", container_definitions=[box("a b")]),
     "Container.name contains invalid characters."),
    ("no image", dict(family="f", container_definitions=[{"name": "a", "memory": 8}]),
     "Container.image should not be null or empty."),
    ("same names", dict(family="f", container_definitions=[box("a"), box("a")]),
     "Container names must be unique within a Task Definition."),
    ("none essential", dict(family="f", container_definitions=[box(essential=False)]),
     "doesn't have any essential container"),
    ("no memory on EC2", dict(family="f", container_definitions=[{"name": "a", "image": "x"}]),
     "At least one of 'memory' or 'memoryReservation' must be specified."),
    ("reservation over memory",
     dict(family="f", container_definitions=[box(memory=100, memory_reservation=200)]),
     "'memoryReservation' setting for container 'app' is greater"),
    ("container over task memory",
     dict(family="f", memory="512", container_definitions=[box(memory=1024)]),
     "The 'memory' setting for container 'app' is greater than for the task."),
    ("reservations over task memory",
     dict(family="f", memory="512",
          container_definitions=[box("a", memory_reservation=300, memory=None),
                                 box("b", memory_reservation=300, memory=None)]),
     "sum of all container 'memoryReservation' values"),
    ("cpu over task cpu",
     dict(family="f", cpu="256", container_definitions=[box("a", cpu=200), box("b", cpu=100)]),
     "sum of all container 'cpu' values"),
    ("fargate bridge", {**fargate([box()]), "network_mode": "bridge"},
     "Fargate only supports network mode \u2018awsvpc\u2019."),
    ("fargate no cpu", {**fargate([box()]), "cpu": None},
     "Fargate requires that 'cpu' be defined at the task level."),
    ("fargate no memory", {**fargate([box()]), "memory": None},
     "Fargate requires that 'memory' be defined at the task level."),
    ("fargate bad pair", fargate([box()], cpu="256", memory="4096"),
     "No Fargate configuration exists for given values: 256 CPU, 4096 memory."),
    ("fargate ipc", fargate([box()], ipc_mode="host"),
     "Tasks using the Fargate launch type do not support ipcMode."),
    ("fargate pid host", fargate([box()], pid_mode="host"), "do not support pidMode 'host'"),
    ("external awsvpc",
     dict(family="f", network_mode="awsvpc", requires_compatibilities=["EXTERNAL"],
          container_definitions=[box()]),
     "EXTERNAL compatibility do not support networkMode 'awsvpc'"),
    ("awsvpc host port differs",
     dict(family="f", network_mode="awsvpc",
          container_definitions=[box(port_mappings=[{"container_port": 80, "host_port": 81}])]),
     "When networkMode=awsvpc, the host ports and container ports in port mappings must match."),
    ("host mode host port differs",
     dict(family="f", network_mode="host",
          container_definitions=[box(port_mappings=[{"container_port": 80, "host_port": 81}])]),
     "When networkMode=host, the host ports"),
    ("container port 0",
     dict(family="f", container_definitions=[box(port_mappings=[{"container_port": 0}])]),
     "Invalid 'containerPort' setting for container 'app'."),
    ("container port 65536",
     dict(family="f", container_definitions=[box(port_mappings=[{"container_port": 65536}])]),
     "Invalid 'containerPort' setting"),
    ("no container port",
     dict(family="f", container_definitions=[box(port_mappings=[{"protocol": "udp"}])]),
     "Invalid 'containerPort' setting"),
    ("ports under none",
     dict(family="f", network_mode="none",
          container_definitions=[box(port_mappings=[{"container_port": 80}])]),
     "not supported when networkMode=none"),
    ("app protocol without name",
     dict(family="f", container_definitions=[
         box(port_mappings=[{"container_port": 80, "app_protocol": "http"}])]),
     "appProtocol can only be set on a port mapping that has a name"),
    ("duplicate port names",
     dict(family="f", container_definitions=[
         box("a", port_mappings=[{"container_port": 80, "name": "web"}]),
         box("b", port_mappings=[{"container_port": 81, "name": "web"}])]),
     "Port mapping names must be unique"),
    ("bad port name",
     dict(family="f", container_definitions=[
         box(port_mappings=[{"container_port": 80, "name": "-Web"}])]),
     "A port mapping name has up to 64"),
    ("health command", dict(family="f", container_definitions=[
        box(health_check={"command": ["curl", "localhost"]})]),
     "must start with CMD or CMD-SHELL"),
    ("health interval 4", dict(family="f", container_definitions=[
        box(health_check={"command": ["CMD", "true"], "interval": 4})]),
     "'interval' must be between 5 and 300"),
    ("health interval 301", dict(family="f", container_definitions=[
        box(health_check={"command": ["CMD", "true"], "interval": 301})]),
     "'interval' must be between 5 and 300"),
    ("health timeout 1", dict(family="f", container_definitions=[
        box(health_check={"command": ["CMD", "true"], "timeout": 1})]),
     "'timeout' must be between 2 and 120"),
    ("health retries 11", dict(family="f", container_definitions=[
        box(health_check={"command": ["CMD", "true"], "retries": 11})]),
     "'retries' must be between 1 and 10"),
    ("health start period 301", dict(family="f", container_definitions=[
        box(health_check={"command": ["CMD", "true"], "start_period": 301})]),
     "'startPeriod' must be between 0 and 300"),
    ("depends on a stranger", dict(family="f", container_definitions=[
        box(depends_on=[{"container_name": "db", "condition": "START"}])]),
     "Container 'db' is not defined in the task definition."),
    ("complete on essential", dict(family="f", container_definitions=[
        box("a", depends_on=[{"container_name": "b", "condition": "COMPLETE"}]), box("b")]),
     "A dependency container with SUCCESS or COMPLETE condition cannot be an essential"),
    ("healthy without check", dict(family="f", container_definitions=[
        box("a", depends_on=[{"container_name": "b", "condition": "HEALTHY"}]), box("b")]),
     "requires container 'b' to have a health check"),
    ("dependency cycle", dict(family="f", container_definitions=[
        box("a", depends_on=[{"container_name": "b", "condition": "START"}]),
        box("b", depends_on=[{"container_name": "a", "condition": "START"}])]),
     "cannot form a cycle: a -> b -> a."),
    ("hostname under awsvpc", dict(family="f", network_mode="awsvpc",
                                   container_definitions=[box(hostname="h")]),
     "hostname is not supported on container when networkMode=awsvpc."),
    ("GPU count", dict(family="f", container_definitions=[
        box(resource_requirements=[{"type": "GPU", "value": "two"}])]),
     "The GPU value must be a positive whole number"),
    ("container memory 4", dict(family="f", container_definitions=[box(memory=4)]),
     "Invalid 'memory' setting for container 'app'."),
]


@pytest.mark.parametrize(("case", "params", "message"), REJECTED, ids=[r[0] for r in REJECTED])
def test_rejected(case: str, params: dict[str, Any], message: str) -> None:
    params = {**params}
    params["container_definitions"] = [
        {k: v for k, v in c.items() if v is not None} for c in params["container_definitions"]
    ]
    params = {k: v for k, v in params.items() if v is not None}
    with pytest.raises(ClientException) as err:
        check_registration(**params)
    assert message in err.value.message


def test_depends_on_accepted_when_rules_hold() -> None:
    checked = check_registration(
        family="d",
        container_definitions=[
            box("init", essential=False),
            box("db", health_check={"command": ["CMD", "pg_isready"]}),
            box("app", depends_on=[
                {"container_name": "init", "condition": "SUCCESS"},
                {"container_name": "db", "condition": "HEALTHY"},
            ]),
        ],
    )
    assert [c["name"] for c in checked.container_definitions] == ["init", "db", "app"]


def test_request_size_limit() -> None:
    check_request_size(65536)
    with pytest.raises(ClientException, match="Max allowed length is '65536' bytes"):
        check_request_size(65537)


# -- task_reservation ---------------------------------------------------------

def _td(containers: list[dict[str, Any]], **kw: Any) -> TaskDefinition:
    return TaskDefinition(
        task_definition_arn="arn:aws:ecs:us-east-1:000000000000:task-definition/r:1",
        family="r", revision=1, registered_at=datetime(2026, 1, 1, tzinfo=UTC),
        container_definitions=tuple(containers), **kw,
    )


@pytest.mark.parametrize(
    ("containers", "kw", "expected"),
    [
        # task-level sizes win over containers
        ([{"name": "a", "cpu": 100, "memory": 300}], {"cpu": "512", "memory": "1024"},
         Reservation(cpu=512, memory=1024)),
        # sums over containers; a container reserves memoryReservation if set: 300 + 64
        ([{"name": "a", "cpu": 100, "memory": 300},
          {"name": "b", "cpu": 28, "memory": 512, "memory_reservation": 64}], {},
         Reservation(cpu=128, memory=364)),
        # bridge: only fixed (non-zero) host ports, deduplicated, tcp by default
        ([{"name": "a", "memory": 8, "port_mappings": [
            {"container_port": 80, "host_port": 8080, "protocol": "tcp"},
            {"container_port": 81, "host_port": 0, "protocol": "tcp"},
            {"container_port": 53, "host_port": 53, "protocol": "udp"}]},
          {"name": "b", "memory": 8, "port_mappings": [{"container_port": 80, "host_port": 8080}]}],
         {"network_mode": "bridge"},
         Reservation(memory=16, ports=(PortReservation(8080, "tcp"), PortReservation(53, "udp")))),
        # host: every container port is a host port
        ([{"name": "a", "memory": 8, "port_mappings": [{"container_port": 80, "host_port": 80}]}],
         {"network_mode": "host"}, Reservation(memory=8, ports=(PortReservation(80),))),
        # awsvpc: the task has its own ENI, so no host ports
        ([{"name": "a", "memory": 8, "port_mappings": [{"container_port": 80, "host_port": 80}]}],
         {"network_mode": "awsvpc"}, Reservation(memory=8, eni=True)),
        # GPUs: one entry per GPU, named by container
        ([{"name": "a", "memory": 8, "resource_requirements": [{"type": "GPU", "value": "2"}]},
          {"name": "b", "memory": 8, "resource_requirements": [{"type": "GPU", "value": "1"}]}],
         {}, Reservation(memory=16, gpus=("a", "a", "b"))),
    ],
)
def test_task_reservation(containers: list[dict[str, Any]], kw: dict[str, Any],
                          expected: Reservation) -> None:
    assert task_reservation(_td(containers, **kw)) == expected
