"""One Service Connect proxy per task, beside it, kept current from every manifest.

A TaskPayload with a ``serviceConnect`` section (docs/agent-protocol.md) makes
the task's manager call :meth:`ServiceConnect.start` once the task's network
exists and before any container is created: the agent writes the proxy's JSON
configuration (agent/service_connect_config.py) to
``STATE_DIR/service-connect/<task-id>/proxy.json`` and runs
``python -m portside.proxy`` with its admin API on a Unix socket there,
waiting for its ``ready`` line. A proxy that exits while its task runs is
restarted with backoff (0.5 s doubling to 30 s; logged), from the section in
force. Every later manifest hands the task's newest
section to :meth:`ServiceConnect.desired`; a per-task pusher applies it through
:class:`~portside.proxy.control.ProxyAdmin` — the endpoint sets alone when
only they changed, else the whole configuration. The proxy stops with the
task, after its containers (:meth:`ServiceConnect.stop`).

How the application finds its proxy with no change:

- process driver, Linux, as root: the container runs under
  ``unshare -m sh -c 'mount --bind HOSTS /etc/hosts && exec "$@"'``, so its
  process tree sees a private hosts file mapping every alias to the 127.x
  address the proxy binds on the host's loopback;
- Docker, awsvpc: the proxy runs in the task's network namespace
  (``nsenter -t <pause pid> -n``, the admin socket still on the host's
  filesystem) and binds ``127.255.0.N``; the pause container's extra hosts
  (shared by the task's containers) point each alias there. An alias on a
  port the task's own containers use gets no listener: the application binds
  that port on every address of the namespace, so it answers there itself;
- Docker, bridge: every container has a network namespace of its own and no
  pause container holds one, so the proxy stays on the host (where awsvpc
  tasks, and bridge tasks' host ports, are reachable) and, once a container
  runs, binds each alias's listener *inside* that container's namespace
  (``127.255.0.N``, proxy/netns.py) through a configuration push
  (:meth:`ServiceConnect.container_started`); the container was created with
  extra hosts pointing each alias there. The alias answers from a moment after
  the container starts (its namespace exists only then); an alias on one of the
  container's own ports gets no listener there;
- anywhere else (not root, Docker host mode): the proxy runs on the host's
  loopback and the container's environment says where each alias listens,
  ``PORTSIDE_SERVICE_CONNECT_<ALIAS>=address:port`` (set in every case).

How callers reach the task (its client-server ports, ``inbound``): the proxy's
inbound listener in front of the application. Under awsvpc it binds the task's
address on ``ingressPort``, the port Cloud Map registers. In the bridge mode
(either driver) the proxy runs on the host, where the tasks of one instance
cannot share a port: as ECS does, each inbound listener gets an ephemeral host
port from the agent's allocator (agent/ports.py, the one the process driver
gives bridge port mappings) bound on every address, and once the application's
container runs, the listener leads to it (its bridge address and container
port, else its host port) and :meth:`ServiceConnect.container_started` returns
the binding ``containerPort = ingressPort, hostPort = that port``, which the
task manager reports with the container's own bindings; the control plane
registers that host port in Cloud Map (domain/ecs/service_connect.py). The
ports are recorded in the task's directory (``ingress.json``): an agent that
restarts and adopts the task starts its proxy afresh on the same ports when
they are still free, so Cloud Map never holds a port nobody listens on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from portside.agent.drivers.base import (
    ContainerError,
    NetworkBinding,
    RuntimeContainer,
    TaskNetwork,
)
from portside.agent.drivers.process_spawn import start_ticks
from portside.agent.payload import ContainerSpec, TaskSpec
from portside.agent.ports import PortAllocator, PortsExhausted
from portside.agent.service_connect_config import (
    alias_addresses,
    alias_bases,
    alias_environment,
    endpoints_of,
    hosts_file,
    namespace_listeners,
    proxy_config,
)
from portside.agent.service_connect_tls import write_tls
from portside.proxy.config import TlsConfig, config_to_dict
from portside.proxy.control import ProxyAdmin, ProxyAdminError

log = logging.getLogger("portside.agent.service_connect")

READY_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
RESTART_MIN = 0.5  # seconds before restarting a proxy that exited, doubling ...
RESTART_MAX = 30.0  # ... up to this
RESTART_STABLE = 60.0  # a proxy that ran this long starts the backoff over
INGRESS_FILE = "ingress.json"  # bridge: upstream -> the host port of its inbound listener
ALIAS_BASE_FILE = "alias-base"  # the /24 of the host's loopback the task's aliases live in
_HOSTS_SCRIPT = 'mount --bind "$0" /etc/hosts && exec "$@"'


def can_private_hosts() -> bool:
    """Whether a process can get its own /etc/hosts (Linux, root, unshare present)."""
    return sys.platform == "linux" and os.geteuid() == 0 and shutil.which("unshare") is not None


class TaskProxy:
    """The proxy process of one task and the section it last applied."""

    def __init__(self, task: TaskSpec, directory: Path, section: Mapping[str, Any],
                 network: TaskNetwork, netns_pid: int | None = None,
                 ports: PortAllocator | None = None, alias_base: str | None = None) -> None:
        self.task = task
        self.dir = directory
        self.section = dict(section)
        self.netns_pid = netns_pid  # run inside this process's network namespace
        self.private = netns_pid is not None
        self.alias_base = alias_base  # on the host's loopback: the task's own /24
        self.aliases = alias_addresses(section, task.task_arn, private=self.private,
                                       base=alias_base)
        self.reserved = frozenset(
            p.container_port for c in task.containers for p in c.port_mappings
        ) if self.private else frozenset()
        self.task_address = network.address or "127.0.0.1"
        sock = directory / "admin.sock"
        if len(str(sock)) > 100:  # AF_UNIX paths are limited to 108 bytes
            sock = Path(tempfile.gettempdir()) / f"portside-sc-{task.task_id[:16]}.sock"
        self.sock = sock
        self.admin = ProxyAdmin.unix(str(sock))
        self.process: asyncio.subprocess.Process | None = None
        self.tls: TlsConfig | None = None  # the task's certificate files, when it has TLS
        self._wanted: dict[str, Any] | None = None
        self._wake = asyncio.Event()
        self._pusher: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None  # restarts a proxy that exits
        self.restarts = 0
        # Docker bridge: container name -> (its network namespace, its own ports)
        self.namespaces: dict[str, tuple[str, frozenset[int]]] = {}
        # bridge (``ports`` given): upstream -> the host port of its inbound listener, and
        # upstream -> where its application answers (known once its container runs)
        self.ports = ports
        self.host_ingress: dict[str, int] | None = {} if ports is not None else None
        self.targets: dict[str, tuple[str, int]] = {}
        self._pushing = asyncio.Lock()  # one configuration push at a time

    @property
    def hosts_path(self) -> Path:
        return self.dir / "hosts"

    def _config(self, section: Mapping[str, Any]) -> Any:
        self._allocate(section)
        config = proxy_config(section, self.aliases, task_address=self.task_address,
                              admin_unix=str(self.sock), reserved_ports=self.reserved,
                              tls=self.tls, host_ingress=self.host_ingress,
                              targets=self.targets)
        # a container that ended took its namespace along: nothing left to serve there
        self.namespaces = {k: v for k, v in self.namespaces.items() if os.path.exists(v[0])}
        if not self.namespaces:
            return config
        inside = alias_addresses(section, self.task.task_arn, private=True)
        return namespace_listeners(config, section, inside, self.namespaces)

    def _allocate(self, section: Mapping[str, Any]) -> None:
        """Bridge: a host port for every inbound listener that has none yet (one that cannot
        get one is logged and left without a listener), recorded in the task's directory."""
        if self.host_ingress is None or self.ports is None:
            return
        before = dict(self.host_ingress)
        for i in section.get("inbound") or ():
            upstream = str(i.get("upstream"))
            if not i.get("containerPort") or upstream in self.host_ingress:
                continue
            try:
                self.host_ingress[upstream] = self.ports.allocate()
            except PortsExhausted as exc:
                log.warning("task %s: no host port for the Service Connect ingress of %s: %s",
                            self.task.task_id, upstream, exc)
        if self.host_ingress != before:
            path = self.dir / INGRESS_FILE
            path.with_suffix(".tmp").write_text(json.dumps(self.host_ingress))
            path.with_suffix(".tmp").replace(path)

    def _reclaim(self) -> None:
        """Bridge, the task adopted by a restarted agent: each inbound listener takes back the
        host port it had (recorded by :meth:`_allocate`) when nobody holds it now, so the
        port Cloud Map registers stays right; else it gets a new one, reported as usual."""
        if self.host_ingress is None or self.ports is None:
            return
        try:
            recorded = json.loads((self.dir / INGRESS_FILE).read_text())
        except (OSError, ValueError):
            return
        if not isinstance(recorded, dict):
            return
        for upstream, port in recorded.items():
            if isinstance(port, int) and self.ports.reclaim(port):
                self.host_ingress[str(upstream)] = port

    def _inbound_of(self, container: str) -> list[Mapping[str, Any]]:
        return [i for i in self.section.get("inbound") or ()
                if i.get("containerName") == container and i.get("containerPort")]

    async def container_runs(self, container: str, rc: RuntimeContainer,
                             netns: str | None, own_ports: frozenset[int]) -> tuple[NetworkBinding, ...]:
        """``container`` runs: serve the aliases inside its network namespace too (``netns``,
        Docker bridge) and, in the bridge mode, lead its inbound listeners to it. Returns
        the ingress bindings to report for it (bridge; none before its listener leads there)."""
        targets = {}
        if self.host_ingress is not None:
            for i in self._inbound_of(container):
                target = app_target(rc, int(i["containerPort"]))
                if target is not None:
                    targets[str(i["upstream"])] = target
        if netns is None and not targets:
            return ()
        async with self._pushing:
            if netns is not None:
                self.namespaces[container] = (netns, own_ports)
            self.targets.update(targets)
            await self.admin.push_config(self._config(self.section))
        return self.ingress_bindings(container)

    def ingress_bindings(self, container: str) -> tuple[NetworkBinding, ...]:
        """Bridge: ``containerPort`` = the ingress port, ``hostPort`` = where the listener is."""
        if self.host_ingress is None:
            return ()
        return tuple(
            NetworkBinding(int(i["ingressPort"]), self.host_ingress[str(i["upstream"])])
            for i in self._inbound_of(container)
            if i.get("ingressPort") and str(i["upstream"]) in self.host_ingress
            and str(i["upstream"]) in self.targets
        )

    def _write_hosts(self) -> None:
        try:
            base = Path("/etc/hosts").read_text()
        except OSError:
            base = "127.0.0.1\tlocalhost\n"
        # rewritten in place: a bind mount follows the inode, not the name
        with open(self.hosts_path, "w", encoding="utf-8") as f:
            f.write(hosts_file(base, self.aliases))

    async def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        left = kill_recorded(self.dir)
        if left is not None:
            await exited(left)  # its listeners closed: their host ports can be bound again
        self._write_hosts()
        self.tls = write_tls(self.dir, self.section)
        self._reclaim()
        await self._spawn()
        self._pusher = asyncio.create_task(self._push_loop(), name=f"sc-{self.task.task_id[:8]}")
        self._keeper = asyncio.create_task(self._supervise(), name=f"sc-keep-{self.task.task_id[:8]}")

    async def _spawn(self) -> None:
        """Write the configuration of the section in force, run the proxy, wait for ``ready``."""
        with contextlib.suppress(FileNotFoundError):
            self.sock.unlink()
        path = self.dir / "proxy.json"
        path.write_text(json.dumps(config_to_dict(self._config(self.section))))
        with open(self.dir / "proxy.log", "ab") as logfile:
            enter = ("nsenter", "-t", str(self.netns_pid), "-n") if self.netns_pid else ()
            self.process = await asyncio.create_subprocess_exec(
                *enter, sys.executable, "-m", "portside.proxy", "--config", str(path),
                "--admin", f"unix:{self.sock}",
                stdout=asyncio.subprocess.PIPE, stderr=logfile, start_new_session=True,
            )
        (self.dir / "proxy.pid").write_text(str(self.process.pid))
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                while (line := await self.process.stdout.readline()) != b"ready\n":
                    if not line:
                        raise ContainerError(
                            "CannotStartContainerError",
                            f"the Service Connect proxy exited (see {self.dir / 'proxy.log'})",
                        )
        except TimeoutError:
            await self._end_process()
            raise ContainerError(
                "CannotStartContainerError", "the Service Connect proxy did not become ready"
            ) from None

    async def _supervise(self) -> None:
        """Restart the proxy whenever it exits while its task runs, with backoff.

        The delay doubles from RESTART_MIN to RESTART_MAX after each quick death and
        starts over once a proxy stayed up for RESTART_STABLE seconds. The section in
        force is written again, so a restarted proxy has the newest endpoints."""
        loop = asyncio.get_running_loop()
        delay = RESTART_MIN
        while True:
            proc = self.process
            started = loop.time()
            code = await proc.wait() if proc is not None else None
            if loop.time() - started >= RESTART_STABLE:
                delay = RESTART_MIN
            log.warning("task %s: the Service Connect proxy exited (code %s); restarting in %.1fs",
                        self.task.task_id, code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX)
            try:
                await self._spawn()
            except (ContainerError, OSError) as exc:
                log.warning("task %s: the Service Connect proxy did not restart: %s",
                            self.task.task_id, exc)
                continue
            self.restarts += 1
            log.info("task %s: the Service Connect proxy restarted (%d)",
                     self.task.task_id, self.restarts)

    def desired(self, section: Mapping[str, Any]) -> None:
        self._wanted = dict(section)
        self._wake.set()

    async def _push_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            wanted, self._wanted = self._wanted, None
            if wanted is None or wanted == self.section:
                continue
            try:
                async with self._pushing:
                    await self._push(wanted)
                    self.section = wanted
            except (OSError, ProxyAdminError, TimeoutError) as exc:
                log.warning("task %s: Service Connect update failed: %s", self.task.task_id, exc)
                if self._wanted is None:
                    self._wanted = wanted
                await asyncio.sleep(0.5)
                self._wake.set()

    async def _push(self, wanted: dict[str, Any]) -> None:
        # a new certificate is new files only: the proxy reloads them itself (proxy/tls.py)
        tls = write_tls(self.dir, wanted)
        shape_old = {k: v for k, v in self.section.items() if k not in ("endpoints", "tls")}
        shape_new = {k: v for k, v in wanted.items() if k not in ("endpoints", "tls")}
        if tls != self.tls:
            self.tls, shape_old = tls, {}
        if shape_old != shape_new:
            aliases = alias_addresses(wanted, self.task.task_arn, private=self.private,
                                      base=self.alias_base)
            if aliases != self.aliases:
                self.aliases = aliases
                self._write_hosts()
            await self.admin.push_config(self._config(wanted))
            return
        old, new = endpoints_of(self.section), endpoints_of(wanted)
        for name, eps in new.items():
            if old.get(name) != eps:
                await self.admin.push_endpoints(name, eps)

    async def stop(self) -> None:
        tasks = [t for t in (self._keeper, self._pusher) if t is not None]
        for task in tasks:  # no restart from here on
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # a restart in progress ends first
        await self._end_process()
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "proxy.pid").unlink()
        with contextlib.suppress(FileNotFoundError):
            self.sock.unlink()
        if self.ports is not None and self.host_ingress:
            for port in self.host_ingress.values():
                self.ports.release(port)
            self.host_ingress.clear()
        with contextlib.suppress(FileNotFoundError):
            (self.dir / INGRESS_FILE).unlink()

    def abandon(self) -> None:
        """Stop watching the proxy and leave it running, as an agent that dies does."""
        for task in (self._keeper, self._pusher):
            if task is not None:
                task.cancel()

    async def _end_process(self) -> None:
        proc = self.process
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()


def app_target(rc: RuntimeContainer, container_port: int) -> tuple[str, int] | None:
    """Where a bridge container answers on ``container_port`` from the host: its own
    address (Docker's bridge), else the host port it was given (process driver)."""
    if rc.address:
        return rc.address, container_port
    for b in rc.bindings:
        if b.container_port == container_port and b.protocol == "tcp":
            return "127.0.0.1", b.host_port
    return None


def _bindable(aliases: Mapping[str, str], section: Mapping[str, Any]) -> bool:
    """Whether every outbound listener of ``section`` could bind its alias address now."""
    for o in section.get("outbound") or ():
        address = aliases.get(str(o.get("dnsName")))
        if address is None:
            continue
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the proxy binds
            try:
                sock.bind((address, int(o.get("port") or 0)))
            except OSError:
                return False
    return True


def kill_recorded(directory: Path) -> int | None:
    """Stop a proxy an earlier run of the agent left for this task (its pid file); its pid."""
    try:
        pid = int((directory / "proxy.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    if b"portside.proxy" not in cmdline:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    return pid


async def exited(pid: int) -> None:
    """Until process ``pid`` (not our child) has exited: SIGKILL after STOP_TIMEOUT."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_TIMEOUT
    while start_ticks(pid) is not None:  # a zombie has closed its sockets: gone enough
        if loop.time() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if loop.time() > deadline + 1:
                return  # a zombie nobody reaps holds no socket; anything else, we tried
        await asyncio.sleep(0.05)


class ServiceConnect:
    """Every task's proxy on this agent, and the newest section the control plane sent."""

    def __init__(self, root: Path, driver_name: str, ports: PortAllocator | None = None) -> None:
        self.root = root
        self.driver_name = driver_name
        self.ports = ports or PortAllocator()  # bridge ingress ports (the driver's, if it has one)
        self.sections: dict[str, dict[str, Any]] = {}
        self.proxies: dict[str, TaskProxy] = {}
        self.alias_bases: dict[str, str] = {}  # task ARN -> its /24 on the host's loopback

    def desired(self, task_arn: str, section: Mapping[str, Any] | None) -> None:
        """The section of a task in the newest manifest (None: the task has none)."""
        if section is None:
            return
        self.sections[task_arn] = dict(section)
        proxy = self.proxies.get(task_arn)
        if proxy is not None:
            proxy.desired(section)

    def network_spec(self, task: TaskSpec) -> TaskSpec:
        """The task as its network must be set up: Docker awsvpc puts the aliases in its hosts."""
        section = self.sections.get(task.task_arn)
        if section is None or self.driver_name != "docker" or task.network_mode != "awsvpc":
            return task
        if not task.containers:
            return task
        aliases = alias_addresses(section, task.task_arn, private=True)
        first = task.containers[0]
        hosts = first.extra_hosts + tuple(sorted(aliases.items()))
        return replace(task, containers=(replace(first, extra_hosts=hosts), *task.containers[1:]))

    async def start(self, task: TaskSpec, network: TaskNetwork) -> None:
        """Run the task's proxy (when its payload has a section); idempotent."""
        section = self.sections.get(task.task_arn)
        if section is None or task.task_arn in self.proxies:
            return
        netns = network.sandbox_pid if self.driver_name == "docker" else None
        ports = self.ports if task.network_mode == "bridge" else None
        base = self._alias_base(task, section) if netns is None else None
        proxy = TaskProxy(task, self.root / task.task_id, section, network, netns, ports, base)
        try:
            await proxy.start()
        except BaseException:
            self.alias_bases.pop(task.task_arn, None)
            raise
        self.proxies[task.task_arn] = proxy

    def _alias_base(self, task: TaskSpec, section: Mapping[str, Any]) -> str:
        """The /24 of the host's loopback for the task's aliases: the one it had before the
        agent restarted (recorded in its directory), else the first from where its ARN
        hashes that no other task of this agent has and whose alias addresses and ports are
        free (another agent on this host may hold them). Chosen and reserved before any
        await, so two tasks starting at once cannot both take one."""
        taken = {b for arn, b in self.alias_bases.items() if arn != task.task_arn}
        candidates = list(alias_bases(task.task_arn))
        path = self.root / task.task_id / ALIAS_BASE_FILE
        try:
            kept = path.read_text().strip()
        except OSError:
            kept = ""
        if kept not in candidates or kept in taken:
            kept = next((b for b in candidates if b not in taken and _bindable(
                alias_addresses(section, task.task_arn, private=False, base=b), section)),
                candidates[0])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(kept)
        self.alias_bases[task.task_arn] = kept
        return kept

    def container(
        self, task: TaskSpec, container: ContainerSpec, env: Mapping[str, str]
    ) -> tuple[ContainerSpec, dict[str, str]]:
        """The container as it must be created so its aliases reach the proxy."""
        proxy = self.proxies.get(task.task_arn)
        out_env = dict(env)
        if proxy is None:
            return container, out_env
        if self._bridge(task):  # the aliases live in the container's own namespace
            inside = alias_addresses(proxy.section, task.task_arn, private=True)
            out_env.update(alias_environment(proxy.section, inside))
            hosts = container.extra_hosts + tuple(sorted(inside.items()))
            return replace(container, extra_hosts=hosts), out_env
        out_env.update(alias_environment(proxy.section, proxy.aliases))
        if self.driver_name == "process" and can_private_hosts() and container.argv:
            wrap = ("unshare", "-m", "sh", "-c", _HOSTS_SCRIPT, str(proxy.hosts_path))
            container = replace(container, entry_point=wrap + container.entry_point)
        return container, out_env

    def _bridge(self, task: TaskSpec) -> bool:
        return self.driver_name == "docker" and task.network_mode == "bridge"

    async def container_started(self, task: TaskSpec, container: ContainerSpec,
                                rc: RuntimeContainer) -> tuple[NetworkBinding, ...]:
        """A container of the task runs: with Docker bridge, its proxy binds the aliases in
        the container's network namespace now; in the bridge mode, its inbound listeners
        lead to it, and the bindings returned (the ingress host ports) are to be reported
        with the container's. Never fails the task: a failure is logged, the container's
        aliases stay unanswered and no ingress is reported (Cloud Map leaves it out)."""
        proxy = self.proxies.get(task.task_arn)
        if proxy is None:
            return ()
        netns = f"/proc/{rc.pid}/ns/net" if self._bridge(task) and rc.pid is not None else None
        own = frozenset(p.container_port for p in container.port_mappings)
        try:
            return await proxy.container_runs(container.name, rc, netns, own)
        except (OSError, ProxyAdminError, TimeoutError) as exc:
            log.warning("task %s: Service Connect for container %s: %s",
                        task.task_id, container.name, exc)
            return ()

    def abandon(self) -> None:
        """Leave every proxy running, unwatched (the agent is going away; a restarted one
        adopts the tasks, replaces their proxies and keeps their bridge ingress ports)."""
        for proxy in self.proxies.values():
            proxy.abandon()

    async def stats(self) -> dict[str, Any]:
        """Every running proxy's counters by task ARN (``GET /stats``); a proxy that does
        not answer (restarting, say) is left out of this round."""
        proxies = list(self.proxies.items())
        answers = await asyncio.gather(*(p.admin.stats() for _, p in proxies),
                                       return_exceptions=True)
        return {arn: doc for (arn, _), doc in zip(proxies, answers, strict=True)
                if isinstance(doc, dict)}

    async def stop(self, task_arn: str, task_id: str) -> None:
        """Stop the task's proxy (or one an earlier run left); idempotent."""
        self.sections.pop(task_arn, None)
        self.alias_bases.pop(task_arn, None)
        proxy = self.proxies.pop(task_arn, None)
        if proxy is not None:
            await proxy.stop()
        else:
            kill_recorded(self.root / task_id)
