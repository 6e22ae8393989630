"""Running a validated study: one directory per run, cells through an executor, results
assembled from the cells' own result files, figures and a report at the end.

A run directory holds::

    study.yaml          the study file as written
    resolved.yaml       the study with every default filled in
    manifest.json       study, grid axes and cells (ids, coordinates, seeds)
    environment.json    Python, platform, package and plugin versions
    run.log             the log of every cell
    cells/<id>/         result.json (written atomically when the cell ends), artifacts/, checkpoint.pt
    results.csv         the tidy results table (one row per cell × evaluation × metric × step)
    summary.csv/.json   mean ± std over replicates by group
    figures/*.png

A cell counts as finished only when its ``result.json`` exists, so a run killed at any moment
resumes (``--resume``) without recomputing finished cells and without trusting partial ones.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from . import atomic
from .cache import Cache
from .cell import RESULT_FILE, CellJob, CellOutcome
from .errors import WorkbenchError
from .executors import Executor, ProcessPoolExecutor, SequentialExecutor
from .progress import NullSink, ProgressSink
from .registry import get_registry
from .run_view import RESULT_COLUMNS, RunView
from .study import REPLICATE, LoadedStudy

log = logging.getLogger("workbench.runner")

PACKAGES = ("workbench", "torch", "numpy", "scipy", "scikit-learn", "pandas", "rdkit", "pydantic", "pluggy", "matplotlib")


@dataclass
class RunOptions:
    runs_root: Path = Path("runs")
    run_dir: Path | None = None
    resume: bool = False
    jobs: int = 1
    cache_dir: Path | None = None
    data_dir: Path | None = None


@dataclass
class RunResult:
    run_dir: Path
    total: int
    done: int
    failed: dict[str, str] = field(default_factory=dict)
    skipped: int = 0
    interrupted: bool = False
    figures: list[Path] = field(default_factory=list)
    summary: pd.DataFrame | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted and self.done == self.total


def find_latest_run(runs_root: Path, name: str) -> Path | None:
    base = runs_root / name
    if not base.is_dir():
        return None
    runs = sorted(p for p in base.iterdir() if (p / "manifest.json").exists())
    return runs[-1] if runs else None


def choose_run_dir(loaded: LoadedStudy, options: RunOptions) -> tuple[Path, bool]:
    """The directory to run in and whether it is a resumed run."""
    if options.run_dir is not None:
        run_dir = Path(options.run_dir)
        if (run_dir / "manifest.json").exists():
            if not options.resume:
                raise WorkbenchError(f"{run_dir} already holds a run. Add --resume to finish it, or choose another --run-dir.")
            return run_dir, True
        return run_dir, False
    if options.resume:
        latest = find_latest_run(options.runs_root, loaded.name)
        if latest is not None:
            return latest, True
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = options.runs_root / loaded.name / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = options.runs_root / loaded.name / f"{stamp}-{suffix}"
    return run_dir, False


def environment() -> dict[str, Any]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    registry = get_registry()
    return {
        "python": sys.version,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "plugins": [{"plugin": name, "distribution": dist} for name, dist in registry.plugins],
        "plugin_failures": [f.__dict__ for f in registry.failures],
        "argv": sys.argv,
    }


def write_manifest(run_dir: Path, loaded: LoadedStudy, status: str) -> None:
    atomic.write_json(
        run_dir / "manifest.json",
        {
            "study_name": loaded.name,
            "study_file": str(loaded.path.resolve()),
            "status": status,
            "updated": dt.datetime.now().isoformat(timespec="seconds"),
            "axes": loaded.axis_names,
            "group_by": loaded.group_by,
            "study": loaded.study.model_dump(mode="json", by_alias=True),
            "cells": [
                {"id": c.id, "index": c.index, "coordinates": c.coordinates, "seed": c.seed}
                for c in loaded.cells
            ],
        },
    )


def collect_results(run_dir: Path, loaded_axes: list[str], cell_ids: list[str]) -> pd.DataFrame:
    """The tidy results table assembled from every finished cell's result file."""
    frames = []
    for cell_id in cell_ids:
        path = run_dir / "cells" / cell_id / RESULT_FILE
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        rows = pd.DataFrame(result["rows"], columns=["evaluation", "metric", "step_name", "step", "value"])
        if rows.empty:
            continue
        coordinates = result["coordinates"]
        rows.insert(0, "cell", cell_id)
        for i, axis in enumerate(loaded_axes):
            rows.insert(1 + i, axis, coordinates.get(axis, ""))
        rows.insert(1 + len(loaded_axes), "replicate", int(coordinates.get(REPLICATE, 0)))
        rows.insert(2 + len(loaded_axes), "seed", result["seed"])
        frames.append(rows)
    columns = ["cell", *loaded_axes, *RESULT_COLUMNS[1:]]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


class Runner:
    """Runs a loaded study into a run directory."""

    def __init__(self, loaded: LoadedStudy, options: RunOptions | None = None):
        self.loaded = loaded
        self.options = options or RunOptions()
        self.cache = Cache(self.options.cache_dir)

    def executor(self) -> Executor:
        return ProcessPoolExecutor(self.options.jobs) if self.options.jobs > 1 else SequentialExecutor()

    def jobs(self, run_dir: Path, pending: list[Any]) -> list[CellJob]:
        threads = max(1, (os.cpu_count() or 1) // max(1, self.options.jobs))
        data_dir = self.options.data_dir or os.environ.get("WORKBENCH_DATA_DIR")
        return [
            CellJob(
                cell_id=cell.id,
                seed=cell.seed,
                coordinates=cell.coordinates,
                study=cell.study.model_dump(mode="json", by_alias=True),
                study_dir=str(self.loaded.path.resolve().parent),
                cell_dir=str(run_dir / "cells" / cell.id),
                cache_dir=str(self.cache.root),
                data_dir=str(data_dir) if data_dir else None,
                threads=threads,
                log_path=str(run_dir / "run.log"),
            )
            for cell in pending
        ]

    def run(
        self,
        sink: ProgressSink | None = None,
        on_start: Callable[[Path, int, int, bool], None] | None = None,
        on_outcome: Callable[[CellOutcome], None] | None = None,
    ) -> RunResult:
        started = time.perf_counter()
        sink = sink or NullSink()
        run_dir, resumed = choose_run_dir(self.loaded, self.options)
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic.write_text(run_dir / "study.yaml", self.loaded.text)
        atomic.write_text(run_dir / "resolved.yaml", yaml.safe_dump(self.loaded.resolved(), sort_keys=False, allow_unicode=True))
        atomic.write_json(run_dir / "environment.json", environment())
        write_manifest(run_dir, self.loaded, "running")

        cells = self.loaded.cells
        pending = [c for c in cells if not (run_dir / "cells" / c.id / RESULT_FILE).exists()]
        result = RunResult(run_dir, total=len(cells), done=len(cells) - len(pending), skipped=len(cells) - len(pending))
        if on_start is not None:
            on_start(run_dir, len(cells), result.skipped, resumed)

        def record(outcome: CellOutcome) -> None:
            if outcome.ok:
                result.done += 1
            else:
                result.failed[outcome.cell_id] = outcome.error or "failed"
            if on_outcome is not None:
                on_outcome(outcome)

        try:
            self.executor().run(self.jobs(run_dir, pending), sink, record)
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            status = "interrupted" if result.interrupted else ("failed" if result.failed else "finished")
            write_manifest(run_dir, self.loaded, status)
            result.seconds = time.perf_counter() - started
            self.finish(result)
        return result

    def finish(self, result: RunResult) -> None:
        """Assemble the results table, summary and figures from whatever cells have finished."""
        run_dir = result.run_dir
        results = collect_results(run_dir, self.loaded.axis_names, [c.id for c in self.loaded.cells])
        atomic.write_text(run_dir / "results.csv", results.to_csv(index=False))
        view = RunView(run_dir, results=results, study=self.loaded.study)
        from .report import draw_figures, write_summary_files

        result.summary = write_summary_files(
            view,
            self.loaded.group_by,
            {
                "study": self.loaded.name,
                "run_dir": str(run_dir),
                "cells": result.total,
                "finished": result.done,
                "failed": result.failed,
                "interrupted": result.interrupted,
                "seconds": round(result.seconds, 2),
            },
        )
        if not results.empty:
            result.figures = draw_figures(view, run_dir / "figures")
