"""The arithmetic of ECS managed scaling, as pure functions with their examples.

ECS publishes one metric per capacity provider every minute,

    CapacityProviderReservation = M / N * 100

where N is the number of instances running (in service, past their warm-up)
and M the number needed: the instances running at least one non-daemon task,
plus — when tasks wait in PROVISIONING — an estimate of the instances those
tasks need, from a binpack of the waiting work over the group's instance type
(cpu, memory, ENIs, host ports, GPUs), grouped by identical requirements and
bounded by the minimum and maximum scaling step. Two cases are fixed: 0 / 0
is 100 (nothing to do, nothing running), and M > 0 with N = 0 is 200.

A target tracking policy then holds the metric at ``targetCapacity``: above
it, the group grows to ``ceil(M * 100 / target)`` instances (with N = 0, to
``ceil(200 / target)``: two instances from zero at a target of 100); below it
for 15 consecutive minutes, it shrinks to the same figure, removing only
instances that hold no task (termination protection keeps the others).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portside.controllers.capacity_model import InstanceSpec
from portside.scheduler.model import CPU, DYNAMIC_PORTS, ENI, GPU, MEMORY, PORTS, TaskRequest

UNLIMITED = 1_000_000
"""Tasks per instance when a task asks for none of a resource."""
ZERO_CAPACITY = 200.0
"""The metric when work waits and no instance runs."""


def reservation(needed: int, running: int) -> float:
    """CapacityProviderReservation in percent::

        M    N    reservation
        0    0      100        nothing needed, nothing running
        3    0      200        scale out from zero
        5    6       83.3      10 tasks of 1 vCPU / 2 GiB need 5 m5.large; 6 run
        5    5      100        exactly full
        0    4        0        four empty instances
    """
    if running == 0:
        return 100.0 if needed == 0 else ZERO_CAPACITY
    return needed * 100.0 / running


def desired_capacity(needed: int, running: int, target: int) -> int:
    """Instances target tracking aims for: ``ceil(N * reservation / target)``.

    That is ``ceil(M * 100 / target)``; with N = 0 and M > 0 the reservation is
    200 over a notional single instance, so ``ceil(200 / target)``::

        M    N   target   desired
        5    6     80        7       83.3 % > 80 %: 6 * 83.3 / 80 = 6.25 -> 7
        5    7     80        7       71.4 % < 80 %, but 7 * 71.4 / 80 = 6.25 -> 7: stays
        5    5    100        5
        3    0    100        2       from zero: 200 / 100
        3    0     80        3       200 / 80 = 2.5 -> 3
        0    4    100        0       all four may go (scale-in removes only empty ones)
    """
    if running == 0:
        return 0 if needed == 0 else -(-int(ZERO_CAPACITY) // target)
    return -(-needed * 100 // target)


def clamp_step(step: int, minimum: int, maximum: int) -> int:
    """A scale-out step within ``[minimumScalingStepSize, maximumScalingStepSize]``."""
    return max(minimum, min(step, maximum))


# -- what fits on one fresh instance ----------------------------------------


@dataclass(frozen=True, slots=True)
class Fit:
    """How many tasks of one requirement fit on a fresh instance, and what limits it."""

    count: int
    limit: str | None  # the scheduler's reason for the scarcest resource
    detail: str = ""


def _distinct(req: TaskRequest) -> bool:
    return any(c.type == "distinctInstance" for c in req.constraints)


def fit(req: TaskRequest, spec: InstanceSpec) -> Fit:
    """Tasks of ``req`` that one empty instance of ``spec`` holds::

        task (cpu, MiB, mode)      instance (cpu, MiB, ENI slots)   fit
        1024, 2048, bridge         m5.large 2048, 7985, 2             2  (cpu)
        1024, 2048, awsvpc         m5.large 2048, 7985, 2             2  (cpu, ENIs)
        256, 512, awsvpc           m5.large 2048, 7985, 2             2  (ENIs)
        4096, 2048, bridge         m5.large 2048, 7985, 2             0  RESOURCE:CPU
        512, 512, hostPort 80      m5.large                           1  (ports)
    """
    limits: list[tuple[int, str, str]] = []
    if req.cpu:
        limits.append((spec.cpu // req.cpu, CPU,
                       f"a task needs {req.cpu} CPU units; {spec.name} registers {spec.cpu}"))
    if req.memory:
        limits.append((spec.memory // req.memory, MEMORY,
                       f"a task needs {req.memory} MiB; {spec.name} registers {spec.memory} MiB"))
    if req.eni:
        limits.append((spec.eni_slots, ENI,
                       f"an awsvpc task needs a network interface; {spec.name} has "
                       f"{spec.eni_slots} for tasks"))
    if req.gpus:
        limits.append((spec.gpus // req.gpus, GPU,
                       f"a task needs {req.gpus} GPUs; {spec.name} has {spec.gpus}"))
    if req.ports:
        limits.append((1, PORTS, "a fixed host port allows one task per instance"))
    for count in (req.dynamic_ports, req.dynamic_ports_udp):
        if count:
            limits.append((len(DYNAMIC_PORTS) // count, PORTS, "dynamic host ports"))
    if _distinct(req):
        limits.append((1, "distinctInstance", "distinctInstance allows one task per instance"))
    if not limits:
        return Fit(UNLIMITED, None)
    count, reason, detail = min(limits, key=lambda x: x[0])
    return Fit(min(count, UNLIMITED), reason, detail)


# -- binpacking waiting work onto fresh instances -----------------------------

_State = tuple[int, int, int, int, int, int, frozenset[tuple[int, str]], frozenset[TaskRequest]]
"""What is left on one instance: cpu, memory, ENI slots, GPUs, dynamic tcp/udp ports,
fixed ports taken, distinctInstance groups present."""


def _fresh(spec: InstanceSpec) -> _State:
    n = len(DYNAMIC_PORTS)
    return (spec.cpu, spec.memory, spec.eni_slots, spec.gpus, n, n, frozenset(), frozenset())


def _fits(state: _State, req: TaskRequest) -> int:
    cpu, memory, enis, gpus, dyn, dyn_udp, ports, groups = state
    n = UNLIMITED
    for have, need in ((cpu, req.cpu), (memory, req.memory), (gpus, req.gpus),
                       (dyn, req.dynamic_ports), (dyn_udp, req.dynamic_ports_udp)):
        if need:
            n = min(n, have // need)
    if req.eni:
        n = min(n, enis)
    if req.ports:
        if any((p.port, p.protocol) in ports for p in req.ports):
            return 0
        n = min(n, 1)
    if _distinct(req):
        n = 0 if req in groups else min(n, 1)
    return max(n, 0)


def _take(state: _State, req: TaskRequest, k: int) -> _State:
    cpu, memory, enis, gpus, dyn, dyn_udp, ports, groups = state
    return (
        cpu - k * req.cpu, memory - k * req.memory, enis - (k if req.eni else 0),
        gpus - k * req.gpus, dyn - k * req.dynamic_ports, dyn_udp - k * req.dynamic_ports_udp,
        ports | {(p.port, p.protocol) for p in req.ports},
        groups | {req} if _distinct(req) else groups,
    )  # fmt: skip


def binpack(work: Sequence[tuple[TaskRequest, int]], spec: InstanceSpec) -> int:
    """Fresh instances of ``spec`` that hold ``work`` (requirement, count), first-fit
    decreasing by cpu then memory; requirements that fit no instance are skipped.

    Identical instances are kept as one (state, how many) entry, so the cost grows
    with the number of distinct requirements, not with the number of tasks::

        work                                     instance     instances
        10 x (1024 cpu, 2048 MiB)                m5.large         5
        3 x (1024, 2048) + 1 x (2048, 1024)      m5.large         3  (the big one alone)
        4 x (256, 512, awsvpc)                   m5.large         2  (2 ENI slots each)
    """
    bins: list[tuple[_State, int]] = []  # (what is left, how many identical instances)
    fresh = _fresh(spec)
    for req, count in sorted(work, key=lambda w: (w[0].cpu, w[0].memory), reverse=True):
        per = _fits(fresh, req)
        if count <= 0 or per == 0:
            continue
        left = count
        out: list[tuple[_State, int]] = []
        for state, n in bins:
            k = _fits(state, req) if left else 0
            if k == 0:
                out.append((state, n))
            elif left >= n * k:
                out.append((_take(state, req, k), n))
                left -= n * k
            else:
                q, r = divmod(left, k)
                if q:
                    out.append((_take(state, req, k), q))
                if r:
                    out.append((_take(state, req, r), 1))
                if n - q - (1 if r else 0):
                    out.append((state, n - q - (1 if r else 0)))
                left = 0
        full, rest = divmod(left, per)
        if full:
            out.append((_take(fresh, req, per), full))
        if rest:
            out.append((_take(fresh, req, rest), 1))
        bins = out
    return sum(n for _, n in bins)
