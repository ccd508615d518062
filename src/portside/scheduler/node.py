"""One container instance during one placement batch: the snapshot plus what the batch took.

The snapshot (:class:`InstanceState`) is immutable; a :class:`Node` copies the
parts a placement changes (cpu, memory, ports, GPUs, ENI slots, task groups)
so each task of a batch is placed against what the earlier ones left. A node
answers the cluster query language's questions itself, so ``memberOf``
expressions evaluate against it directly.

A batch makes a node of every instance but reserves on few of them, so the
collections (ports, GPUs, task groups) are the snapshot's own until the first
reservation copies them (copy on write).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from portside.domain.ecs.model import PortReservation, Reservation
from portside.scheduler.model import (
    CPU,
    DYNAMIC_PORTS,
    ENI,
    GPU,
    MEMORY,
    PORTS,
    InstanceState,
    TaskRequest,
)

_LO, _HI = DYNAMIC_PORTS.start, DYNAMIC_PORTS.stop


class Node:
    __slots__ = (
        "_dyn_tcp",
        "_dyn_udp",
        "_own",
        "cpu",
        "enis",
        "gpus",
        "groups",
        "index",
        "memory",
        "ports",
        "ports_udp",
        "rank",
        "state",
    )  # fmt: skip

    def __init__(self, index: int, rank: int, state: InstanceState) -> None:
        self.index = index
        self.rank = rank
        self.state = state
        self.cpu = state.cpu
        self.memory = state.memory
        self.ports: set[int] | frozenset[int] = state.ports
        self.ports_udp: set[int] | frozenset[int] = state.ports_udp
        self.gpus: Sequence[str] = state.gpus
        self.enis = state.eni_slots
        self.groups: Mapping[str, int] = state.groups
        self._own = False
        """Whether the collections above are this node's copies yet (see the docstring)."""
        self._dyn_tcp = self._dyn_udp = -1  # taken dynamic ports: counted when first asked

    # -- the cluster query language's view of the instance ------------------

    @property
    def arn(self) -> str:
        return self.state.arn

    @property
    def attributes(self) -> Mapping[str, str]:
        return self.state.attributes

    @property
    def ec2_instance_id(self) -> str | None:
        return self.state.ec2_instance_id

    @property
    def registered_at(self) -> datetime | None:
        return self.state.registered_at

    @property
    def running_tasks_count(self) -> int:
        return self.state.running_tasks_count

    @property
    def agent_connected(self) -> bool:
        return self.state.agent_connected

    @property
    def agent_version(self) -> str | None:
        return self.state.agent_version

    # -- resources ----------------------------------------------------------

    def lacks(self, req: TaskRequest) -> str | None:
        """The first resource the task needs that this node does not have left, or None."""
        if req.cpu > self.cpu:
            return CPU
        if req.memory > self.memory:
            return MEMORY
        if req.ports or req.dynamic_ports or req.dynamic_ports_udp:
            for p in req.ports:
                if p.port in (self.ports_udp if p.protocol == "udp" else self.ports):
                    return PORTS
            free = len(DYNAMIC_PORTS)
            if req.dynamic_ports and req.dynamic_ports > free - self._dynamic_taken(udp=False):
                return PORTS
            if req.dynamic_ports_udp and req.dynamic_ports_udp > free - self._dynamic_taken(
                udp=True
            ):
                return PORTS
        if req.gpus > len(self.gpus):
            return GPU
        if req.eni and self.enis is not None and self.enis < 1:
            return ENI
        return None

    def reserve(self, req: TaskRequest, group: str) -> Reservation:
        """Take what ``req`` needs (the caller checked :meth:`lacks`) and say what was taken."""
        if not self._own:
            self.ports, self.ports_udp = set(self.ports), set(self.ports_udp)
            self.gpus, self.groups = list(self.gpus), dict(self.groups)
            self._own = True
        self.cpu -= req.cpu
        self.memory -= req.memory
        ports = list(req.ports)
        for p in req.ports:
            self._take(p.port, p.protocol)
        for protocol, count in (("tcp", req.dynamic_ports), ("udp", req.dynamic_ports_udp)):
            taken = self.ports_udp if protocol == "udp" else self.ports
            port = _LO
            for _ in range(count):
                while port in taken:
                    port += 1
                self._take(port, protocol)
                ports.append(PortReservation(port, protocol))
        gpus = tuple(self.gpus[: req.gpus])
        self.gpus = self.gpus[req.gpus :]
        if req.eni and self.enis is not None:
            self.enis -= 1
        groups = self.groups
        assert isinstance(groups, dict)  # copied above
        groups[group] = groups.get(group, 0) + 1
        return Reservation(
            cpu=req.cpu, memory=req.memory, ports=tuple(ports), gpus=gpus, eni=req.eni
        )

    def _take(self, port: int, protocol: str) -> None:
        taken = self.ports_udp if protocol == "udp" else self.ports
        if port in taken:
            return
        assert isinstance(taken, set)  # copied by reserve()
        taken.add(port)
        if _LO <= port < _HI:  # (a count not taken yet will include the port)
            if protocol == "udp" and self._dyn_udp >= 0:
                self._dyn_udp += 1
            elif protocol != "udp" and self._dyn_tcp >= 0:
                self._dyn_tcp += 1

    def _dynamic_taken(self, udp: bool) -> int:
        """How many ports of the dynamic range are taken (counted once, then kept)."""
        if udp:
            if self._dyn_udp < 0:
                self._dyn_udp = sum(1 for p in self.ports_udp if _LO <= p < _HI)
            return self._dyn_udp
        if self._dyn_tcp < 0:
            self._dyn_tcp = sum(1 for p in self.ports if _LO <= p < _HI)
        return self._dyn_tcp
