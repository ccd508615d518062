"""``python -m portside.proxy --config FILE``: one Service Connect proxy.

Reads the JSON configuration (:mod:`portside.proxy.config`), binds its listeners
and admin API, then polls the file once a second and applies it whenever it
changes (an invalid document is logged and the configuration in force is kept);
certificate files are checked on the same tick, so rotated certificates are used
for new connections. SIGHUP re-reads at once; SIGINT/SIGTERM stop.

Prints one line per listener, ``listening NAME HOST PORT``, then ``admin HOST PORT``
(or ``admin unix PATH``) and ``ready``, so a parent process can learn ports chosen
with port 0. Runs on uvloop when it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import signal

from portside.proxy.config import AdminConfig, ConfigError, ProxyConfig, load_config
from portside.proxy.server import Proxy

log = logging.getLogger("portside.proxy")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m portside.proxy", description=__doc__)
    parser.add_argument("--config", required=True, help="JSON configuration file (watched)")
    parser.add_argument("--admin", help="admin API as HOST:PORT or unix:PATH (overrides the file)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between file checks")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(args))
    else:
        uvloop.run(_serve(args))


def _admin_override(spec: str | None) -> AdminConfig | None:
    if spec is None:
        return None
    if spec.startswith("unix:"):
        return AdminConfig(unix=spec[5:])
    host, _, port = spec.rpartition(":")
    return AdminConfig(address=host or "127.0.0.1", port=int(port))


def _load(path: str, admin: AdminConfig | None) -> ProxyConfig:
    config = load_config(path)
    if admin is not None:
        config = dataclasses.replace(config, admin=admin)
    return config


async def _serve(args: argparse.Namespace) -> None:
    admin = _admin_override(args.admin)
    proxy = Proxy(_load(args.config, admin))
    await proxy.start()
    # The data path's objects die by reference counting; fewer cyclic-GC passes over
    # the long-lived start-up heap take the collector out of the latency tail.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    for listener in proxy.config.listeners:
        host, port = proxy.address(listener.name)
        print(f"listening {listener.name} {host} {port}", flush=True)
    where = proxy.admin_address
    if isinstance(where, str):
        print(f"admin unix {where}", flush=True)
    elif where is not None:
        print(f"admin {where[0]} {where[1]}", flush=True)
    print("ready", flush=True)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reload_now = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload_now.set)
    stamp = _stamp(args.config)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.poll):
                await reload_now.wait()
        if stop.is_set():
            break
        proxy.refresh_tls()
        now = _stamp(args.config)
        if now == stamp and not reload_now.is_set():
            continue
        reload_now.clear()
        stamp = now
        try:
            await proxy.apply(_load(args.config, admin))
            log.info("applied %s", args.config)
        except (ConfigError, OSError) as exc:
            log.error("keeping the configuration in force: %s", exc)
    await proxy.close()


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


if __name__ == "__main__":
    main()
