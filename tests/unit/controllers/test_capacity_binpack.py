"""binpack() of waiting work over catalogue instance types: awsvpc ENI slots and GPUs.

The instance figures come from the catalogue (domain/autoscaling/instance_types.py)
as the simulator and the live server build them, not from hand-written specs.
"""

from __future__ import annotations

import pytest

from portside.controllers.capacity_math import binpack, fit
from portside.domain.autoscaling.instance_types import (
    CATALOGUE,
    Catalogue,
    InstanceType,
    instance_spec,
)
from portside.scheduler.model import TaskRequest

AWSVPC = TaskRequest(cpu=256, memory=512, network_mode="awsvpc")
BRIDGE = TaskRequest(cpu=256, memory=512, group="bridge")


@pytest.mark.parametrize(
    ("name", "max_enis", "four", "ten"),
    [
        # one interface is the instance's own: slots = max ENIs - 1; cpu and memory would
        # hold 3 (t3.small) to 256 (m5.16xlarge) of these tasks, so the ENIs decide
        ("m5.large", 3, 2, 5),
        ("m5.xlarge", 4, 2, 4),
        ("m5.4xlarge", 8, 1, 2),
        ("m5.16xlarge", 15, 1, 1),
        ("t3.small", 3, 2, 5),  # 2 GiB would hold 3 by memory
    ],
)
def test_awsvpc_tasks_are_bounded_by_the_catalogue_eni_limit(
    name: str, max_enis: int, four: int, ten: int
) -> None:
    t = CATALOGUE[name]
    assert t.max_enis == max_enis
    spec = instance_spec(t)
    assert fit(AWSVPC, spec).limit == "RESOURCE:ENI"
    assert binpack([(AWSVPC, 4)], spec) == four
    assert binpack([(AWSVPC, 10)], spec) == ten


def test_bridge_tasks_fill_what_the_eni_limit_leaves() -> None:
    spec = instance_spec(CATALOGUE["m5.large"])
    # 4 awsvpc tasks take 2 m5.large (2 ENI slots each) and use 512 of 2048 CPU units on
    # each; 8 bridge tasks need no ENI and fit in the 2 x 1536 left
    assert binpack([(AWSVPC, 4), (BRIDGE, 8)], spec) == 2
    assert binpack([(AWSVPC, 4), (BRIDGE, 13)], spec) == 3


GPU_TYPE = InstanceType("g9.custom", vcpus=8, memory_mib=61440, max_enis=4,
                        architecture="x86_64", price_per_hour=1.5, gpus=4)  # fmt: skip


def test_a_custom_gpu_type_binpacks_by_its_gpus() -> None:
    spec = instance_spec(Catalogue({"g9.custom": GPU_TYPE})["g9.custom"])
    assert (spec.cpu, spec.memory, spec.gpus, spec.eni_slots) == (8192, 59887, 4, 3)
    one = TaskRequest(cpu=1024, memory=4096, gpus=1)
    two = TaskRequest(cpu=1024, memory=4096, gpus=2, group="two")
    assert fit(one, spec).limit == "RESOURCE:GPU" and fit(one, spec).count == 4
    assert binpack([(one, 10)], spec) == 3  # 4 + 4 + 2 GPUs
    assert binpack([(two, 5)], spec) == 3  # two per instance
    assert binpack([(two, 1), (one, 2)], spec) == 1  # 2 + 1 + 1 GPUs share one
    # tasks without GPUs use the CPU the GPU tasks leave: 4 x 1024 + 4 x 1024 = 8192
    plain = TaskRequest(cpu=1024, memory=4096, group="plain")
    assert binpack([(one, 4), (plain, 4)], spec) == 1
    assert binpack([(one, 4), (plain, 5)], spec) == 2
    # on a type without GPUs a GPU task fits nowhere and is left out
    assert binpack([(one, 3)], instance_spec(CATALOGUE["m5.large"])) == 0
