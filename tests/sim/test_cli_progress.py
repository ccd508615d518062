"""``portside simulate`` progress when stderr is a pipe or a log, not a terminal.

A terminal gets a live bar; anything else gets one plain line per 10 % of the
run, so a long run in CI shows it is moving. The subprocess's stderr here is a
pipe, as in CI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.sim.build import group, provider, scenario, service, taskdef

LINE = re.compile(r"^simulating (\S+): +(\d+) % \(virtual time (\S+)\)$")


def _simulate(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    doc = scenario(
        groups=[group("asg", ["us-east-1a"])], providers=[provider("cp", "asg")],
        taskdefs=[taskdef("web", 1024, 2048)], services=[service("web", "web", 4)],
        duration="45m",
    )  # fmt: skip
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc))
    env = {k: v for k, v in os.environ.items()
           if k not in ("FORCE_COLOR", "FORCE_TERMINAL", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "portside.cli.main", "simulate", str(path),
         "--out", str(tmp_path / "out"), "--no-plots", *args],
        capture_output=True, text=True, timeout=240, env=env,
    )  # fmt: skip


def _progress(stderr: str) -> list[tuple[int, str]]:
    out = []
    for line in stderr.splitlines():
        m = LINE.match(line)
        assert m, f"not a progress line: {line!r}"
        assert m.group(1) == "test"
        out.append((int(m.group(2)), m.group(3)))
    return out


def test_plain_progress_lines_rise_by_ten_percent_to_100(tmp_path: Path) -> None:
    proc = _simulate(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "\x1b[" not in proc.stderr  # no bar redraws
    lines = _progress(proc.stderr)
    assert [p for p, _ in lines] == list(range(0, 101, 10))
    times = [t for _, t in lines]
    assert times[0] == "2026-01-05T00:00:00+00:00" and times[-1] == "2026-01-05T00:45:00+00:00"
    assert times == sorted(times)
    assert "Capacity providers" in proc.stdout  # the summary still goes to stdout


def test_a_run_whose_last_tick_falls_short_still_reports_100(tmp_path: Path) -> None:
    # ticks at 0, 60 and 120 s of 150 s: 0 %, 40 %, 80 %, then the end
    proc = _simulate(tmp_path, "--duration", "150s")
    assert proc.returncode == 0, proc.stderr
    assert [p for p, _ in _progress(proc.stderr)] == [0, 40, 80, 100]


def test_quiet_prints_no_progress(tmp_path: Path) -> None:
    proc = _simulate(tmp_path, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout == ""
