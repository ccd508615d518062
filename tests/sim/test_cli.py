"""``portside simulate`` as a user runs it: a real process, files on disk."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.sim.build import group, provider, scenario, service, taskdef


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portside.cli.main", "simulate", *args],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def _write(tmp_path: Path, doc: dict[str, object]) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_simulate_writes_timeline_plots_and_report(tmp_path: Path) -> None:
    doc = scenario(
        groups=[group("asg", ["us-east-1a"])], providers=[provider("cp", "asg", target=80)],
        taskdefs=[taskdef("web", 1024, 2048)],
        services=[service("web", "web", 10, placementStrategy=[{"type": "binpack", "field": "cpu"}])],
        duration="45m",
    )  # fmt: skip
    out = tmp_path / "out"
    proc = _simulate(str(_write(tmp_path, doc)), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Capacity providers" in proc.stdout and "cost (USD)" in proc.stdout
    names = {p.name for p in out.iterdir()}
    assert {"timeline.json", "timeline.csv", "actions.csv", "report.html", "instances.png",
            "reservation.png", "tasks.png", "cost.png"} <= names  # fmt: skip
    timeline = json.loads((out / "timeline.json").read_text())
    assert len(timeline["rows"]) == 46
    assert timeline["summary"]["groups"]["asg"]["final_instances"] == 7
    assert timeline["actions"][0]["metric"] == "CapacityProviderReservation"
    assert timeline["actions"][0]["cause"].startswith("CapacityProviderReservation 200.0 %")
    with (out / "timeline.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows[-1]["instances:asg"] == "7" and rows[-1]["reservation:cp"] == "71.43"
    assert (out / "instances.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4
    assert "CapacityProviderReservation 200.0 % is above the target 80 %" in html


def test_same_seed_same_files(tmp_path: Path) -> None:
    doc = scenario(
        groups=[group("asg", ["us-east-1a", "us-east-1b"])], providers=[provider("cp", "asg")],
        taskdefs=[taskdef("web", 512, 1024)], services=[service("web", "web", 9)],
        duration="40m", seed=5,
    )  # fmt: skip
    path = _write(tmp_path, doc)
    for name in ("a", "b"):
        proc = _simulate(str(path), "--out", str(tmp_path / name), "--no-plots", "--quiet")
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a" / "timeline.csv").read_text() == (tmp_path / "b" / "timeline.csv").read_text()
    assert (tmp_path / "a" / "actions.csv").read_text() == (tmp_path / "b" / "actions.csv").read_text()


def test_a_bad_scenario_is_a_clear_error(tmp_path: Path) -> None:
    doc = scenario(
        groups=[group("asg", ["us-east-1a"])], providers=[provider("cp", "asg")],
        taskdefs=[taskdef("web", 512, 1024)], services=[service("web", "web", 2)],
    )  # fmt: skip
    doc["services"][0]["desiredCont"] = 3  # type: ignore[index]
    proc = _simulate(str(_write(tmp_path, doc)), "--out", str(tmp_path / "out"))
    assert proc.returncode != 0
    assert "services[0] (ecs CreateService): Unknown parameter 'desiredCont'" in proc.stderr
    assert "Traceback" not in proc.stderr
