"""``portside top``: Service Connect traffic of a cluster, per service and per endpoint.

Where the numbers come from: every task's proxy counts what it carries; its
agent sends those counters to the control plane every 2 s on its session
(``ServiceConnectStats``), and ``POST /_portside/top`` sums them per ECS
service and per endpoint (domain/ecs/service_connect_top.py). Rates and
latency quantiles cover the last report interval; totals count since each
proxy started. ``--once`` prints one table set (as text, or ``--json``) and
exits, for scripts and tests.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from portside.cli.client import endpoint_option, signed_post


def _fetch(endpoint: str, region: str, cluster: str) -> Any:
    return signed_post(endpoint, region, "/_portside/top", {"cluster": cluster})


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _table(title: str, rows: list[dict[str, Any]], with_endpoint: bool) -> Table:
    t = Table(title=title)
    cols = ["service", "dir", "upstream"] + (["endpoint"] if with_endpoint else ["tasks"])
    cols += ["req/s", "requests", "2xx", "3xx", "4xx", "5xx", "p50 ms", "p99 ms", "conns",
             "bytes in", "bytes out"] + (["ejected", "ejections"] if with_endpoint else [])
    for col in cols:
        t.add_column(col, justify="left" if col in ("service", "dir", "upstream", "endpoint")
                     else "right")
    for r in rows:
        first = [r["service"], r["direction"], r["upstream"],
                 r["endpoint"] if with_endpoint else str(r["tasks"])]
        res = r["responses"]
        last = [f"{r['ejected']}/{r['tasks']}", str(r["ejections"])] if with_endpoint else []
        t.add_row(*first, f"{r['requestsPerSecond']:.1f}", str(r["requests"]), str(res["2xx"]),
                  str(res["3xx"]), str(res["4xx"]), str(res["5xx"]), _ms(r["p50Ms"]),
                  _ms(r["p99Ms"]), str(r["connectionsActive"]), _bytes(r["bytesReceived"]),
                  _bytes(r["bytesSent"]), *last)
    return t


def _render(doc: dict[str, Any]) -> Group:
    name = doc["cluster"].rsplit("/", 1)[-1]
    if not doc["services"]:
        return Group(f"{name}: no Service Connect traffic reported (proxies report every 2 s)")
    return Group(
        _table(f"{name}: Service Connect by service", doc["services"], False),
        _table(f"{name}: by endpoint", doc["endpoints"], True),
    )


@click.command()
@endpoint_option
@click.option("--cluster", default="default", show_default=True)
@click.option("--once", is_flag=True, help="Print once and exit (for scripts).")
@click.option("--json", "as_json", is_flag=True, help="With --once: the raw JSON document.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.2),
              help="Seconds between refreshes.")
def top(endpoint: str, region: str, cluster: str, once: bool, as_json: bool,
        interval: float) -> None:
    """Service Connect requests, responses, latency, connections and bytes, live.

    Per ECS service and upstream ("out": calls the service's tasks make through
    an alias; "in": calls they receive), and per endpoint under each, with
    "ejected" as how many of the service's task proxies eject it right now and
    "ejections" as how many times they have ejected it.
    """
    if once:
        doc = _fetch(endpoint, region, cluster)
        if as_json:
            click.echo(json.dumps(doc, indent=2))
        else:
            Console(width=160).print(_render(doc))
        return
    with Live(_render(_fetch(endpoint, region, cluster)), refresh_per_second=4,
              screen=False) as live:
        while True:
            time.sleep(interval)
            live.update(_render(_fetch(endpoint, region, cluster)))
