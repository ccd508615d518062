"""The arithmetic of managed scaling, with ECS's documented figures."""

from __future__ import annotations

import pytest

from portside.controllers.capacity_math import (
    binpack,
    clamp_step,
    desired_capacity,
    fit,
    reservation,
)
from portside.controllers.capacity_model import InstanceSpec
from portside.domain.autoscaling.instance_types import CATALOGUE, Catalogue, UnknownInstanceType
from portside.domain.ecs.model import PortReservation
from portside.scheduler.model import Constraint, TaskRequest

M5_LARGE = InstanceSpec("m5.large", cpu=2048, memory=7985, eni_slots=2)


@pytest.mark.parametrize(
    ("needed", "running", "value"),
    [(0, 0, 100.0), (3, 0, 200.0), (5, 5, 100.0), (0, 4, 0.0), (10, 5, 200.0)],
)
def test_reservation_fixed_points(needed: int, running: int, value: float) -> None:
    assert reservation(needed, running) == value


def test_reservation_of_the_walkthrough_is_83() -> None:
    # 10 tasks of 1 vCPU / 2 GiB need 5 m5.large; with 6 running: 5 / 6 = 83 %.
    assert round(reservation(5, 6)) == 83


@pytest.mark.parametrize(
    ("needed", "running", "target", "desired"),
    [
        (5, 6, 80, 7),  # 6 * 83.3 / 80 = 6.25 -> 7
        (5, 7, 80, 7),  # 71.4 % is below 80 %, but 7 * 71.4 / 80 = 6.25 -> 7: nothing goes
        (5, 5, 100, 5),
        (3, 0, 100, 2),  # from zero: two
        (1, 0, 100, 2),
        (3, 0, 80, 3),  # 200 / 80 = 2.5 -> 3
        (0, 4, 100, 0),
        (0, 0, 100, 0),
    ],
)
def test_desired_capacity(needed: int, running: int, target: int, desired: int) -> None:
    assert desired_capacity(needed, running, target) == desired


def test_clamp_step() -> None:
    assert clamp_step(0, 1, 10000) == 1
    assert clamp_step(50, 1, 20) == 20
    assert clamp_step(3, 5, 20) == 5


def test_ten_tasks_of_one_vcpu_need_five_m5_large() -> None:
    task = TaskRequest(cpu=1024, memory=2048)
    assert fit(task, M5_LARGE).count == 2
    assert binpack([(task, 10)], M5_LARGE) == 5


def test_fit_names_the_scarcest_resource() -> None:
    assert fit(TaskRequest(cpu=4096, memory=512), M5_LARGE).limit == "RESOURCE:CPU"
    assert fit(TaskRequest(cpu=4096, memory=512), M5_LARGE).count == 0
    big = fit(TaskRequest(cpu=256, memory=16384), M5_LARGE)
    assert (big.count, big.limit) == (0, "RESOURCE:MEMORY")
    assert "7985 MiB" in big.detail
    # awsvpc: an m5.large has 3 network interfaces, 2 for tasks.
    eni = fit(TaskRequest(cpu=256, memory=512, network_mode="awsvpc"), M5_LARGE)
    assert (eni.count, eni.limit) == (2, "RESOURCE:ENI")
    port = fit(TaskRequest(cpu=256, memory=512, ports=(PortReservation(80),)), M5_LARGE)
    assert (port.count, port.limit) == (1, "RESOURCE:PORTS")
    gpu = fit(TaskRequest(cpu=256, memory=512, gpus=1), M5_LARGE)
    assert (gpu.count, gpu.limit) == (0, "RESOURCE:GPU")
    distinct = fit(TaskRequest(cpu=256, memory=512, constraints=(Constraint.of("distinctInstance"),)),
                   M5_LARGE)
    assert distinct.count == 1


def test_binpack_mixes_requirements_first_fit_decreasing() -> None:
    small = TaskRequest(cpu=1024, memory=2048)
    large = TaskRequest(cpu=2048, memory=1024)
    # the large one fills an instance alone; three small ones need two more
    assert binpack([(small, 3), (large, 1)], M5_LARGE) == 3
    # small ones fill the gaps a different requirement leaves
    half = TaskRequest(cpu=1024, memory=512, group="other")
    assert binpack([(small, 1), (half, 1)], M5_LARGE) == 1


def test_binpack_fixed_ports_one_task_per_instance_per_port() -> None:
    web = TaskRequest(cpu=128, memory=128, ports=(PortReservation(80),))
    api = TaskRequest(cpu=128, memory=128, ports=(PortReservation(8080),), group="api")
    assert binpack([(web, 4)], M5_LARGE) == 4
    assert binpack([(web, 4), (api, 4)], M5_LARGE) == 4  # different ports share instances


def test_binpack_skips_work_that_fits_nowhere() -> None:
    assert binpack([(TaskRequest(cpu=8192, memory=512), 3)], M5_LARGE) == 0


def test_binpack_scales_with_requirements_not_tasks() -> None:
    work = [(TaskRequest(cpu=256 * (i + 1), memory=512), 10_000) for i in range(4)]
    # 1024: 5,000 full instances; 768: 5,000 instances with 512 left, which the 512s fill
    # (5,000 of them), the other 5,000 take 1,250 more; the 256s take 1,250 more:
    # 12,500 = 40,000 tasks * 640 cpu on average / 2,048, a perfect packing
    assert binpack(work, M5_LARGE) == 12_500


def test_catalogue_figures() -> None:
    m5 = CATALOGUE["m5.large"]
    assert (m5.vcpus, m5.memory_mib, m5.max_enis, m5.price_per_hour) == (2, 8192, 3, 0.096)
    assert m5.cpu_units == 2048
    assert m5.registered_memory() == 7985  # ECS's m4.large example: 8 GiB registers 7,985 MiB
    assert m5.eni_slots == 2
    assert CATALOGUE["m6g.large"].architecture == "arm64"
    for family in ("t3", "m5", "c5", "r5", "m6g"):
        for size in ("large", "xlarge", "2xlarge"):
            assert f"{family}.{size}" in CATALOGUE
    for family in ("m5", "c5", "r5", "m6g"):
        assert f"{family}.4xlarge" in CATALOGUE
    with pytest.raises(UnknownInstanceType, match=r"unknown instance type 'x9\.huge'"):
        Catalogue()["x9.huge"]
