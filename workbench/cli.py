"""The ``workbench`` command line: run, validate, show, plugins, report.

Exit codes: 0 success; 1 a run finished with failed cells; 2 an invalid study, bad input or
missing data; 130 interrupted (finished cells are kept; re-run with ``--resume``).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from . import __version__
from .components import KINDS, PLURALS
from .describe import describe_params
from .errors import StudyError, WorkbenchError
from .registry import get_registry

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130

app = typer.Typer(
    name="workbench",
    help="Validated, reproducible, resumable studies for data-effective machine learning in physics and materials science.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)

StudyPaths = Annotated[list[Path], typer.Argument(help="Study YAML file(s), then optional overrides KEY=VALUE (e.g. model.with.n_estimators=200 repeats=3).", show_default=False)]


def _version(value: bool) -> None:
    if value:
        console.print(f"workbench {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Validated, reproducible, resumable studies: `workbench run studies/emulator.yaml`."""


def _fail(message: str, code: int = EXIT_INVALID) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _split_overrides(arguments: list[Path]) -> tuple[list[Path], list[str]]:
    """Study files, and the KEY=VALUE overrides given after them."""
    studies, overrides = [], []
    for argument in arguments:
        text = str(argument)
        if "=" in text and not argument.exists():
            overrides.append(text)
        else:
            studies.append(argument)
    if not studies:
        raise _fail("give at least one study file (KEY=VALUE arguments are overrides applied to it)")
    return studies, overrides


def _load(arguments: list[Path], max_cells: int | None = None, grid: list[str] | None = None):
    from .study import DEFAULT_MAX_CELLS, load_study

    paths, overrides = _split_overrides(arguments)
    loaded, problems = [], []
    for path in paths:
        try:
            loaded.append(load_study(path, max_cells=max_cells or DEFAULT_MAX_CELLS, overrides=overrides, grid=grid or []))
        except StudyError as error:
            problems.append((path, error))
    return loaded, problems


GridOption = Annotated[Optional[list[str]], typer.Option("--grid", help="Add a grid axis: PATH=V1,V2,... (repeatable), e.g. --grid model.with.max_depth=2,4,8.")]


MaxCells = Annotated[Optional[int], typer.Option("--max-cells", min=1, help="Refuse grids with more cells than this [default: 10000].")]


def _axes_text(study) -> str:
    return ", ".join(f"{name} ({size})" for name, size in study.axis_sizes()) or "none"


def _print_problems(problems) -> None:
    for path, error in problems:
        count = len(error.problems)
        err_console.print(f"[bold red]✗ {escape(str(path))}[/]: {count} problem{'s' if count != 1 else ''}")
        for problem in error.problems:
            err_console.print("  " + escape(problem.render()).replace("\n", "\n  "))


def _set_dirs(cache_dir: Optional[Path], data_dir: Optional[Path]) -> None:
    # Environment variables reach plugins and worker processes alike.
    if cache_dir is not None:
        os.environ["WORKBENCH_CACHE_DIR"] = str(cache_dir.expanduser().resolve())
    if data_dir is not None:
        os.environ["WORKBENCH_DATA_DIR"] = str(data_dir.expanduser().resolve())


@app.command()
def validate(studies: StudyPaths, max_cells: MaxCells = None, grid: GridOption = None) -> None:
    """Check study files (or a run's resolved.yaml) without running them: components, parameters, targets, grid."""
    loaded, problems = _load(studies, max_cells, grid)
    for study in loaded:
        console.print(f"[green]✓[/] {escape(str(study.path))}: {len(study.plans)} cells; axes: {escape(_axes_text(study))}")
    _print_problems(problems)
    if problems:
        raise typer.Exit(EXIT_INVALID)


@app.command()
def show(
    study: StudyPaths,
    cells: Annotated[bool, typer.Option("--cells", help="Also list every cell with its coordinates and seed.")] = False,
    plans: Annotated[bool, typer.Option("--plans", help="Print every cell's full plan (what resolved.yaml holds).")] = False,
    max_cells: MaxCells = None,
    grid: GridOption = None,
) -> None:
    """Print a study as it will run: every component's parameters with defaults, per grid value."""
    import yaml
    from rich.syntax import Syntax

    from .display import study_overview

    if len(_split_overrides(study)[0]) != 1:
        raise _fail("show takes one study file (and optional overrides)")
    loaded, problems = _load(study, max_cells, grid)
    if problems:
        _print_problems(problems)
        raise typer.Exit(EXIT_INVALID)
    loaded_study = loaded[0]
    shown = loaded_study.resolved() if plans else study_overview(loaded_study)
    console.print(Syntax(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True), "yaml", background_color="default"))
    console.print(f"{len(loaded_study.plans)} cells; axes: {_axes_text(loaded_study)}")
    if cells:
        table = RichTable("#", "cell", *loaded_study.axes, "seed")
        for index, plan in enumerate(loaded_study.plans):
            table.add_row(str(index), plan.id, *[escape(plan.coordinates.get(a, "")) for a in loaded_study.axes], str(plan.seed))
        console.print(table)


@app.command()
def plugins(
    params: Annotated[bool, typer.Option("--params", "-p", help="Also list each component's parameters with types and defaults.")] = False,
) -> None:
    """List every registered component by kind, with the plugin and distribution providing it."""
    registry = get_registry()
    for kind in KINDS:
        table = RichTable(title=PLURALS[kind], title_justify="left", show_lines=params)
        table.add_column("name", style="bold cyan")
        table.add_column("summary")
        table.add_column("source", style="dim")
        for entry in registry.entries(kind):
            summary = entry.summary
            if params:
                lines = describe_params(entry.cls.Params)
                summary += ("\n" + "\n".join(f"  • {line}" for line in lines)) if lines else ""
            table.add_row(entry.name, escape(summary), escape(f"{entry.plugin} ({entry.distribution})"))
        if not registry.entries(kind):
            table.add_row("—", "(none registered)", "")
        console.print(table)
    if registry.failures:
        console.print("[bold red]Plugins that failed to load (skipped):[/]")
        for failure in registry.failures:
            console.print(f"  [red]✗[/] {escape(failure.plugin)} ({escape(failure.distribution)}): {escape(failure.error)}")


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise _fail(f"--executor-option {pair!r}: write KEY=VALUE, e.g. -E n_workers=4")
        try:
            options[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            options[key.strip()] = value
    return options


@app.command()
def run(
    studies: StudyPaths,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, max=4096, help="Cells run at once (local: worker processes; dask: workers of a local cluster).")] = None,
    executor: Annotated[Optional[str], typer.Option("--executor", "-x", help="Where cells run: local, dask, ... (`workbench plugins` lists executors) [default: the study's execution:, else local].")] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Address of a running Dask scheduler (tcp://host:port); implies --executor dask.")] = None,
    executor_option: Annotated[Optional[list[str]], typer.Option("--executor-option", "-E", help="An executor option KEY=VALUE (YAML value); repeatable.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Finish the latest run of each study (or --run-dir), skipping finished cells.")] = False,
    run_dir: Annotated[Optional[Path], typer.Option("--run-dir", help="Run directory to use (default: RUNS_ROOT/<study>/<timestamp>).")] = None,
    runs_root: Annotated[Path, typer.Option("--runs-root", help="Where new run directories are made.")] = Path("runs"),
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="Cache for expensive intermediates (default: $WORKBENCH_CACHE_DIR, else the user cache directory).")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Data directory laid out like the project's shared data folder (default: $WORKBENCH_DATA_DIR).")] = None,
    max_cells: MaxCells = None,
    grid: GridOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars; only the final report.")] = False,
) -> None:
    """Validate and run studies, then report. Ctrl-C keeps finished cells; add --resume to continue."""
    from .runner import RunOptions, Runner

    if run_dir is not None and len(_split_overrides(studies)[0]) > 1:
        raise _fail("--run-dir takes a single study")
    options = _parse_options(executor_option or [])
    if scheduler is not None:
        if executor not in (None, "dask"):
            raise _fail("--scheduler is an option of the dask executor; drop --executor or use --executor dask")
        executor = "dask"
        options["scheduler"] = scheduler
    _set_dirs(cache_dir, data_dir)
    loaded, problems = _load(studies, max_cells, grid)
    if problems:
        _print_problems(problems)
        raise typer.Exit(EXIT_INVALID)
    code = EXIT_OK
    for study in loaded:
        run_options = RunOptions(runs_root=runs_root, run_dir=run_dir, resume=resume, jobs=jobs, executor=executor,
                                 executor_options=options, cache_dir=cache_dir, data_dir=data_dir)
        try:
            runner = Runner(study, run_options)
            if runner.executor.runs_cells_here():
                _reexec_pinned()  # skipped early for --jobs N, but this executor runs cells here
            result = _run_one(study, runner, quiet)
        except WorkbenchError as error:
            raise _fail(str(error)) from None
        if result.interrupted:
            command = f"workbench run {shlex.quote(str(study.path))} --resume" + (f" --run-dir {shlex.quote(str(result.run_dir))}" if run_dir else "")
            err_console.print(
                f"[bold yellow]Interrupted.[/] {result.done} of {result.total} cells are finished and saved in {escape(str(result.run_dir))}.\n"
                f"Resume with: [bold]{escape(command)}[/]"
            )
            raise typer.Exit(EXIT_INTERRUPTED)
        if not result.ok:
            code = EXIT_FAILED
    raise typer.Exit(code)


def _run_one(study, runner, quiet: bool):
    from .report import RichSink, make_progress

    progress = make_progress(console)
    sink = RichSink(progress) if not quiet else None
    overall: dict[str, int] = {}

    def on_start(run_dir: Path, total: int, skipped: int, resumed: bool) -> None:
        what = "Resuming" if resumed else "Running"
        console.print(f"[bold]{what} {escape(study.name)}[/] → {escape(str(run_dir))}")
        console.print(f"  {total} cells" + (f", {skipped} already finished" if skipped else ""))
        overall["task"] = progress.add_task(f"{study.name}: cells", total=total, completed=skipped, shown={})

    by_id = {plan.id: plan for plan in study.plans}

    def on_outcome(outcome) -> None:
        progress.advance(overall["task"])
        plan = by_id.get(outcome.cell_id)
        where = " ".join(f"{k.split('.')[-1]}={v}" for k, v in plan.coordinates.items()) if plan is not None else ""
        if outcome.ok:
            progress.console.print(f"  [green]✓[/] {outcome.cell_id} {escape(where)} [dim]({outcome.seconds:.1f} s)[/]")
        else:
            progress.console.print(f"  [red]✗[/] {outcome.cell_id} {escape(where)}: {escape(outcome.error or '')}")

    if quiet:
        result = runner.run(None, on_start, on_outcome)
    else:
        with progress:
            result = runner.run(sink, on_start, on_outcome)
    _print_report(study.name, result.run_dir, study.group_by, study.axis_names, result)
    return result


def _print_notes(run_dir: Path) -> None:
    """The cells' notes about their data (rows or columns left out, ...), each once."""
    try:
        notes = json.loads((run_dir / "summary.json").read_text(encoding="utf-8")).get("notes") or {}
    except (OSError, ValueError):
        return
    for note, cells in notes.items():
        who = f"{len(cells)} cell{'s' if len(cells) != 1 else ''}"
        console.print(f"  [yellow]⚠ note[/] ({who}): {escape(note)}")


def _print_report(name: str, run_dir: Path, group_by: list[str], axes: list[str], result=None) -> None:
    import pandas as pd

    from .report import caption, comparison_table, summary_table

    summary = result.summary if result is not None else pd.read_csv(run_dir / "summary.csv", keep_default_na=False, na_values=[""])
    console.print(summary_table(summary, group_by, f"{name}: {caption(axes, group_by)}"))
    comparison = run_dir / "comparison.csv"
    if comparison.exists():
        frame = pd.read_csv(comparison, keep_default_na=False, na_values=[""])
        if not frame.empty:
            console.print(comparison_table(frame, f"{name}: paired differences against {frame['baseline'].iloc[0]} (95% CI over pairs)"))
    if result is not None:
        status = f"{result.done}/{result.total} cells finished" + (f", {len(result.failed)} failed" if result.failed else "")
        console.print(f"{status} in {result.seconds:.1f} s")
        by_message: dict[str, list[str]] = {}
        for cell_id, error in result.failed.items():
            by_message.setdefault(error, []).append(cell_id)
        for error, cells in by_message.items():
            who = cells[0] if len(cells) == 1 else f"{len(cells)} cells ({cells[0]}, …)"
            console.print(f"  [red]✗ {who}[/]: {escape(error)}")
    _print_notes(run_dir)
    figures = sorted((run_dir / "figures").glob("*.png")) if (run_dir / "figures").exists() else []
    console.print(f"Results table: {escape(str(run_dir / 'results.csv'))}")
    console.print(f"Summary:       {escape(str(run_dir / 'summary.csv'))}")
    for figure in figures:
        console.print(f"Figure:        {escape(str(figure))}")
    console.print(f"Report:        {escape(str(run_dir / 'report.html'))}")
    console.print(f"Log:           {escape(str(run_dir / 'run.log'))}")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (runs/<study>/<timestamp>).", show_default=False)],
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Redraw the figures.")] = True,
) -> None:
    """Re-render a finished (or interrupted) run's table, summary and figures from its directory."""
    from .atomic import write_text
    from .report import draw_figures, write_summary_files
    from .run_view import RunView
    from .runner import collect_results

    manifest_path = run_dir / "manifest.json"
    if not manifest_path.exists():
        raise _fail(f"{run_dir} is not a run directory (no manifest.json). Runs are under runs/<study>/<timestamp>/.")
    try:
        view = RunView(run_dir)
        manifest = view.manifest
        axes = list(manifest.get("axes", []))
        group_by = manifest.get("group_by", axes)
        plans = [p for p in (view.plan(c["id"]) for c in manifest.get("cells", [])) if p is not None]
        results = collect_results(run_dir, axes, plans)
        write_text(run_dir / "results.csv", results.to_csv(index=False))
        view = RunView(run_dir, results=results)
        summary = write_summary_files(view, group_by, {"study": manifest.get("study_name"), "run_dir": str(run_dir),
                                                       "status": manifest.get("status"), "cells": len(manifest.get("cells", [])),
                                                       "finished": len(view.cells)})
        drawn = draw_figures(view, run_dir / "figures") if figures else sorted((run_dir / "figures").glob("*.png"))
        from .html_report import write_html_report

        write_html_report(view, summary, group_by, drawn)
    except (KeyError, TypeError, OSError) as error:
        raise _fail(f"{run_dir} holds a damaged run record ({error}); re-run the study with --resume --run-dir {run_dir}") from None
    _print_report(manifest.get("study_name", run_dir.name), run_dir, group_by, axes)


@app.command()
def runs(
    study: Annotated[Optional[str], typer.Argument(help="Only the runs of this study.", show_default=False)] = None,
    runs_root: Annotated[Path, typer.Option("--runs-root", help="Where the runs are.")] = Path("runs"),
) -> None:
    """List the runs under the runs root: study, status, date, cells finished and failed."""
    from .catalogue import list_runs

    found = list_runs(runs_root, study)
    if not found:
        console.print(f"No runs under {escape(str(runs_root))}" + (f" for study {escape(study)}" if study else "") + ".")
        return
    table = RichTable("run", "study", "status", "updated", "cells", "finished", "failed", title=f"runs under {escape(str(runs_root))}",
                      title_justify="left")
    for info in found:
        colour = {"finished": "green", "failed": "red", "interrupted": "yellow", "running": "cyan"}.get(info.status, "white")
        table.add_row(escape(str(info.dir)), escape(info.study), f"[{colour}]{escape(info.status)}[/]", escape(info.updated),
                      str(info.cells), str(info.done), str(info.failed) if info.failed else "")
    console.print(table)


@app.command()
def compare(
    runs: Annotated[list[str], typer.Argument(help="Run directories, or study names (their latest runs).", show_default=False)],
    runs_root: Annotated[Path, typer.Option("--runs-root", help="Where runs of a study name are looked for.")] = Path("runs"),
    last: Annotated[int, typer.Option("--last", min=1, help="How many latest runs a study name stands for.")] = 5,
    csv: Annotated[Optional[Path], typer.Option("--csv", help="Write the table here (default: RUNS_ROOT/compare-<timestamp>.csv).")] = None,
) -> None:
    """One table of the runs' shared metrics, with the settings that differ between them as columns (mean ± std, n)."""
    from .atomic import write_text
    from .catalogue import compare_runs, default_csv, resolve_runs
    from .report import format_mean_std

    try:
        table = compare_runs(resolve_runs(runs, runs_root, last))
    except WorkbenchError as error:
        raise _fail(str(error)) from None
    out = csv or default_csv(runs_root)
    write_text(out, table.to_csv(index=False))
    shown = RichTable(*[escape(str(c)) for c in table.columns if c not in ("mean", "std", "n")], "mean ± std", "n",
                      title="Runs compared (final values; columns between run and evaluation are the settings that differ)",
                      title_justify="left")
    for _, row in table.iterrows():
        cells = [escape(str(row[c])) for c in table.columns if c not in ("mean", "std", "n")]
        shown.add_row(*cells, format_mean_std(row["mean"], row["std"], int(row["n"])), str(int(row["n"])))
    console.print(shown)
    console.print(f"Written to {escape(str(out))}")


def _add_plugin_commands() -> None:
    for plugin, source, register in get_registry().commands:
        try:
            register(app=app)
        except Exception as error:  # a plugin's broken command must not take the CLI down
            err_console.print(f"[yellow]warning:[/] plugin {escape(plugin)} ({escape(source)}) could not add its commands: {escape(str(error))}")


def _jobs_requested(args: list[str]) -> int:
    """The ``--jobs``/``-j`` value on the command line (1 when absent or unreadable)."""
    for i, arg in enumerate(args):
        value = arg.split("=", 1)[1] if arg.startswith("--jobs=") else args[i + 1] if arg in ("--jobs", "-j") and i + 1 < len(args) else None
        if value is not None:
            return int(value) if value.isdigit() else 1
    return 1


def _pin_hash_seed_and_reexec() -> None:
    """``run`` re-executes itself once with PYTHONHASHSEED=0, so that cells run in this process
    hash strings (and iterate sets) exactly as worker processes and other runs do. With
    ``--jobs N`` (N > 1) cells normally run in workers started pinned, so this early
    re-execution (a fifth of a second) is skipped; ``run`` re-executes later if the study's
    executor turns out to run cells in this process after all."""
    if sys.argv[1:2] == ["run"] and _jobs_requested(sys.argv[2:]) == 1:
        _reexec_pinned()


_AS_COMMAND = False
"""True when ``main`` runs (the ``workbench`` command), never when a test invokes ``app``: only a
whole command may re-execute itself."""


def _reexec_pinned() -> None:
    """Re-execute this command with PYTHONHASHSEED=0 unless it already has it."""
    if _AS_COMMAND and os.environ.get("PYTHONHASHSEED") != "0" and os.name == "posix" and sys.executable:
        os.environ["PYTHONHASHSEED"] = "0"
        try:
            os.execv(sys.executable, [sys.executable, "-m", "workbench", *sys.argv[1:]])
        except OSError:
            pass  # carry on unpinned; environment.json records it


def _terminate_as_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    global _AS_COMMAND
    _AS_COMMAND = True
    _pin_hash_seed_and_reexec()
    # A batch system's SIGTERM is handled like Ctrl-C: finished cells are kept, the run is marked
    # interrupted and its table written.
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    _add_plugin_commands()
    try:
        app()
    except WorkbenchError as error:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}")
        raise SystemExit(EXIT_INVALID) from None
