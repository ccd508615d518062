"""Writing a result: timeline JSON and CSV, plots, and one self-contained HTML report.

    write(result, out_dir) -> dict of what was written

- ``timeline.json``: the scenario's name and seed, the summary, the columns,
  one row per tick, every scaling action (with its metric, value, target and
  cause) and every event;
- ``timeline.csv`` (one row per tick) and ``actions.csv``;
- the PNG plots (sim/plots.py);
- ``report.html``: summary, plots (embedded), actions and events, readable
  offline and mailable as one file.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path
from typing import Any

from portside.sim.plots import draw
from portside.sim.runner import Result
from portside.sim.summary import summarize


def write(result: Result, out: Path, *, plots: bool = True) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    tl = result.timeline
    summary = summarize(result)
    columns = tl.columns()
    doc = {
        "scenario": result.scenario.name,
        "seed": result.scenario.seed,
        "start": result.scenario.start.isoformat(),
        "summary": summary,
        "columns": columns,
        "rows": tl.rows,
        "actions": [a.as_dict() for a in tl.actions],
        "events": [n.as_dict() for n in tl.notes],
    }
    (out / "timeline.json").write_text(json.dumps(doc, indent=1))
    with (out / "timeline.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(tl.rows)
    with (out / "actions.csv").open("w", newline="") as f:
        fields = ["time", "provider", "action", "capacity_from", "capacity_to", "metric",
                  "value", "target", "cause"]  # fmt: skip
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(a.as_dict() for a in tl.actions)
    images = draw(tl, out) if plots else []
    (out / "report.html").write_text(_html(result, summary, images))
    return {"summary": summary, "files": sorted(p.name for p in out.iterdir())}


def _html(result: Result, summary: dict[str, Any], images: list[Path]) -> str:
    e = html.escape
    tl = result.timeline
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>portside simulation: {e(result.scenario.name)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;font-size:13px;text-align:left}th{background:#f3f3f3}"
        "img{max-width:100%;border:1px solid #eee;margin:.5em 0}</style></head><body>",
        f"<h1>Simulation: {e(result.scenario.name)}</h1>",
        f"<p>Seed {summary['seed']}, {summary['simulated_hours']} simulated hours from "
        f"{e(result.scenario.start.isoformat())}, computed in {summary['wall_seconds']} s. "
        "The scheduler and controllers are portside's own; instances are simulated.</p>",
        "<h2>Summary</h2>",
        _table(["what", "value"], [[k.replace("_", " "), v] for k, v in summary.items()
                                   if not isinstance(v, dict)]),
        _table(["group", "peak", "final", "instance-hours"],
               [[g, v["peak_instances"], v["final_instances"], v["instance_hours"]]
                for g, v in summary["groups"].items()]),
        _table(["provider", "target", "mean reservation", "max", "scale-outs", "scale-ins"],
               [[p, v["target_capacity"], v["reservation_mean"], v["reservation_max"],
                 v["scale_outs"], v["scale_ins"]] for p, v in summary["providers"].items()]),
    ]
    if images:
        parts.append("<h2>Plots</h2>")
        for path in images:
            data = base64.b64encode(path.read_bytes()).decode()
            parts.append(f"<img alt='{e(path.stem)}' src='data:image/png;base64,{data}'>")
    parts.append(f"<h2>Scaling actions ({len(tl.actions)})</h2>")
    parts.append(_table(
        ["time", "provider", "action", "from", "to", "reservation", "target", "cause"],
        [[a.time.isoformat(), a.provider, a.action, a.capacity_from, a.capacity_to,
          a.value, a.target, a.cause] for a in tl.actions],
    ))  # fmt: skip
    parts.append(f"<h2>Events ({len(tl.notes)})</h2>")
    parts.append(_table(["time", "kind", "message"],
                        [[n.time.isoformat(), n.kind, n.message] for n in tl.notes]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    e = html.escape
    out = ["<table><tr>", *(f"<th>{e(h)}</th>" for h in head), "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>")
    out.append("</table>")
    return "".join(out)
