"""``python -m portside.dns --zones FILE``: the DNS server on its own.

Serves the zones in a JSON file (:func:`portside.dns.zone.zones_from_json`);
SIGHUP re-reads the file. Prints ``listening HOST PORT`` once bound, so a
parent process (the benchmark, a test) can learn a port chosen with
``--port 0``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from portside.config import DEFAULT_DNS_PORT, DEFAULT_HOST
from portside.dns.forward import Upstream
from portside.dns.server import DnsServer, DnsSettings
from portside.dns.zone import StaticRegistry, load_zones


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m portside.dns", description=__doc__)
    parser.add_argument("--zones", required=True, help="JSON file of zones")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_DNS_PORT)
    parser.add_argument("--upstream", action="append", default=[], help="HOST[:PORT], repeatable")
    parser.add_argument("--upstream-timeout", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = DnsSettings(
        host=args.host,
        port=args.port,
        upstreams=tuple(Upstream.parse(u) for u in args.upstream),
        upstream_timeout=args.upstream_timeout,
        seed=args.seed,
    )
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(args.zones, settings))
    else:
        uvloop.run(_serve(args.zones, settings))


async def _serve(path: str, settings: DnsSettings) -> None:
    registry = StaticRegistry(load_zones(path))
    server = DnsServer(registry, settings)
    await server.start()
    print(f"listening {settings.host} {server.port}", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: registry.publish(load_zones(path)))
    with contextlib.suppress(asyncio.CancelledError):
        await stop.wait()
    await server.stop()


if __name__ == "__main__":
    main()
