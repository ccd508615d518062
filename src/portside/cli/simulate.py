"""``portside simulate SCENARIO.yaml --out DIR``: a scenario on the virtual clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

PROGRESS_STEP = 10
"""Percent of the run between two progress lines when stderr is not a terminal."""


def progress_lines(name: str, step: int = PROGRESS_STEP) -> Callable[[float, str], None]:
    """A progress callback for a log or a pipe (CI, ``2> run.log``): a bar's redraws would
    be noise there, and nothing at all would leave a long run looking hung. Prints one
    line each time the run crosses another ``step`` percent, ending at 100 %."""
    last = -1

    def report(fraction: float, at: str) -> None:
        nonlocal last
        percent = int(fraction * 100 + 1e-9) // step * step
        if percent > last:
            last = percent
            click.echo(f"simulating {name}: {percent:3d} % (virtual time {at})", err=True)

    return report


@click.command()
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Directory for the timeline (JSON, CSV), plots and report.html.")
@click.option("--seed", type=int, default=None, help="Override the scenario's seed.")
@click.option("--duration", default=None, help="Override the scenario's duration (e.g. 6h).")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots (faster).")
@click.option("--quiet", is_flag=True, help="No progress and no summary table.")
def simulate(scenario: str, out: str, seed: int | None, duration: str | None, no_plots: bool,
             quiet: bool) -> None:  # fmt: skip
    """Run SCENARIO with portside's scheduler and controllers on a virtual clock.

    Writes timeline.json, timeline.csv, actions.csv, PNG plots and report.html
    into --out, and prints a summary. The same scenario and seed give the
    same result.
    """
    import dataclasses

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from portside.sim.report import write
    from portside.sim.runner import Runner
    from portside.sim.scenario import ScenarioError, load
    from portside.sim.scenario import duration as parse_duration
    from portside.sim.summary import print_summary

    console = Console(stderr=True)
    try:
        sc = load(scenario)
        if seed is not None:
            sc = dataclasses.replace(sc, seed=seed)
        if duration is not None:
            sc = dataclasses.replace(sc, duration=parse_duration(duration, "--duration"))
        if quiet:
            result = Runner(sc).run()
        elif not console.is_terminal:
            report = progress_lines(sc.name)
            result = Runner(sc, progress=report).run()
            report(1.0, (sc.start + sc.duration).isoformat())  # a last tick short of the end
        else:
            columns = (TextColumn("[bold]{task.description}"), BarColumn(),
                       TextColumn("{task.percentage:>5.1f} %"), TextColumn("{task.fields[at]}"),
                       TimeElapsedColumn())  # fmt: skip
            with Progress(*columns, console=console, transient=True) as bar:
                job = bar.add_task(f"simulating {sc.name}", total=1.0, at="")
                result = Runner(sc, progress=lambda f, at: bar.update(job, completed=f, at=at)).run()
    except ScenarioError as exc:
        raise click.ClickException(f"{scenario}: {exc}") from None
    written = write(result, Path(out), plots=not no_plots)
    if not quiet:
        print_summary(written["summary"], Console())
        click.echo(f"wrote {', '.join(written['files'])} to {out}")
