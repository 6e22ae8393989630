"""Running a validated study: one directory per run, cells through an executor, results
assembled from the cells' own result files, figures and a report at the end.

A run directory holds::

    study.yaml          the study file as written
    resolved.yaml       the cell plans (a plans file: `workbench validate` / `run` accept it)
    manifest.json       status, grid axes, and each cell's id, index, coordinates and seed
    environment.json    Python, platform, CPU/BLAS, package and plugin versions
    run.log             the log of every cell
    cells/<id>/         plan.json, result.json (written atomically when the cell ends),
                        artifacts/, checkpoint.npz while it runs
    results.csv         the tidy results table (one row per cell × evaluation × metric × step)
    summary.csv/.json   mean ± std (and n) over replicates by group
    figures/*.png

A cell counts as finished only when its ``result.json`` exists, so a run killed at any moment
resumes (``--resume``) without recomputing finished cells and without trusting partial ones.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from . import atomic
from .cache import Cache, digest
from .cell import RESULT_FILE, CellOutcome, CellTask, framework_modules, hash_seed_pinned
from .components import Executor
from .errors import WorkbenchError
from .progress import NullSink, ProgressSink
from .registry import get_registry
from .schema import CellPlan, plan_content
from .specs import ExecutorSpec
from .study import REPLICATE, LoadedStudy

log = logging.getLogger("workbench.runner")

PACKAGES = ("deml-workbench", "torch", "numpy", "scipy", "scikit-learn", "pandas", "rdkit", "pydantic", "pluggy", "matplotlib", "dask", "distributed")
DEFAULT_EXECUTOR = "local"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass
class RunOptions:
    runs_root: Path = Path("runs")
    run_dir: Path | None = None
    resume: bool = False
    jobs: int | None = None
    executor: str | None = None
    executor_options: dict[str, Any] = field(default_factory=dict)
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
    summary: Any = None
    seconds: float = 0.0
    notes: dict[str, list[str]] = field(default_factory=dict)
    """What cells said about their data (rows left out, ...): note → cells."""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted and self.done == self.total


def find_latest_run(runs_root: Path, name: str) -> Path | None:
    base = runs_root / name
    if not base.is_dir():
        return None
    runs = sorted(p for p in base.iterdir() if (p / "manifest.json").exists())
    return runs[-1] if runs else None


def safe_study_name(name: str) -> str:
    """``name`` if it can be a directory name under the runs root, else a clear error."""
    if not SAFE_NAME.match(name) or name in (".", ".."):
        raise WorkbenchError(
            f"the study name {name!r} cannot name a run directory: use letters, digits, '.', '_' and '-' "
            "(no slashes, no leading dot, at most 100 characters). Set `name:` in the study."
        )
    return name


def import_in_background(modules: list[str]) -> None:
    """Import ``modules`` in a daemon thread. While worker processes start and cells run, the
    parent is mostly waiting; importing matplotlib then (about half a second) means the figures
    at the end do not wait for it. A module that fails to import is left to fail where it is used."""
    import importlib

    def load() -> None:
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:
                return

    if modules:
        threading.Thread(target=load, name="workbench-import", daemon=True).start()


def choose_run_dir(loaded: LoadedStudy, options: RunOptions) -> tuple[Path, bool]:
    """The directory to run in and whether it is a resumed run."""
    name = safe_study_name(loaded.name)
    if options.run_dir is not None:
        run_dir = Path(options.run_dir)
        if (run_dir / "manifest.json").exists():
            if not options.resume:
                raise WorkbenchError(f"{run_dir} already holds a run. Add --resume to finish it, or choose another --run-dir.")
            return run_dir, True
        if options.resume:
            raise WorkbenchError(f"--resume: {run_dir} holds no run to resume (no manifest.json). Run without --resume to start one there.")
        return run_dir, False
    if options.resume:
        latest = find_latest_run(options.runs_root, name)
        if latest is None:
            raise WorkbenchError(f"--resume: there is no earlier run of study {name!r} under {options.runs_root / name}. "
                                 "Run without --resume to start one (or give --runs-root / --run-dir).")
        return latest, True
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = options.runs_root / name / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = options.runs_root / name / f"{stamp}-{suffix}"
    return run_dir, False


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> list[dict[str, Any]]:
    """The BLAS/OpenMP libraries numpy (and torch, if loaded) run on, as threadpoolctl sees them."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    import numpy  # noqa: F401  (loads its BLAS so that it is listed)

    keep = ("user_api", "internal_api", "version", "num_threads", "architecture")
    return [{k: info.get(k) for k in keep} for info in threadpool_info()]


def source_revision(where: Path | None = None) -> dict[str, Any] | None:
    """The git commit of the workbench source this process runs, and whether its tree had
    uncommitted changes (``None`` when it was not installed from a git checkout)."""
    import subprocess

    folder = where or Path(__file__).resolve().parent
    try:
        top = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel", "HEAD"], capture_output=True, text=True, timeout=10)
        if top.returncode != 0:
            return None
        root, commit = top.stdout.split()[:2]
        status = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return {"commit": commit, "dirty": bool(status.stdout.strip()), "changed_files": len(status.stdout.splitlines())}


def environment(executor: Executor | None = None) -> dict[str, Any]:
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
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "blas": _blas(),
        "hash_seed": os.environ.get("PYTHONHASHSEED"),
        "hash_seed_pinned": hash_seed_pinned(),
        "executor": None if executor is None else {"use": executor.name, "with": executor.params.model_dump(mode="json"),
                                                     "threads_per_cell": executor.threads_per_cell()},
        "source": source_revision(),
        "packages": versions,
        "plugins": [{"plugin": name, "distribution": dist.rsplit(" ", 1)[0], "version": dist.rsplit(" ", 1)[-1]}
                    for name, dist in registry.plugins],
        "plugin_failures": [f.__dict__ for f in registry.failures],
        "argv": sys.argv,
    }


def write_manifest(run_dir: Path, loaded: LoadedStudy, status: str) -> None:
    atomic.write_json(
        run_dir / "manifest.json",
        {
            "study_name": loaded.name,
            "study_file": str(loaded.path),
            "extends": [str(p) for p in loaded.bases],
            "overrides": list(loaded.overrides),
            "status": status,
            "updated": dt.datetime.now().isoformat(timespec="seconds"),
            "axes": loaded.axis_names,
            "group_by": loaded.group_by,
            "report": loaded.report.model_dump(mode="json", by_alias=True),
            "study": None if loaded.study is None else loaded.study.model_dump(mode="json", by_alias=True),
            "cells": [
                {"id": p.id, "index": i, "coordinates": p.coordinates, "seed": p.seed}
                for i, p in enumerate(loaded.plans)
            ],
        },
    )


def torch_details() -> dict[str, Any]:
    """What decides torch's floating-point results on this machine: the CPU code path it takes
    and the MKL / oneDNN it was built with (statically linked, so not in the BLAS list)."""
    import re

    import torch

    config = torch.__config__.show()
    found = {name: re.search(pattern, config) for name, pattern in
             (("mkl", r"Intel\(R\) (?:oneAPI )?Math Kernel Library Version ([^\s]+)"), ("onednn", r"(?:oneDNN|MKL-DNN) v([^\s]+)"))}
    return {"version": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads(), **{k: m.group(1) if m else None for k, m in found.items()}}


def record_data_files(run_dir: Path, plans: list[CellPlan]) -> None:
    """Add every data file the finished cells read, with its sha256, to environment.json (and,
    when the cells use torch, the details of the torch build that decide its numbers)."""
    import json

    from .run_view import read_result

    files: dict[str, str] = {}
    for plan in plans:
        result = read_result(run_dir / "cells" / plan.id / RESULT_FILE)
        files.update((result or {}).get("data_files") or {})
    path = run_dir / "environment.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    record["data_files"] = dict(sorted(files.items()))
    if any("torch" in get_registry().get("model", p.model.use).frameworks for p in plans):
        try:
            record["torch"] = torch_details()
        except Exception as error:  # torch missing or unusual: say so rather than fail the report
            record["torch"] = {"error": f"{type(error).__name__}: {error}"}
    atomic.write_json(path, record)


def collect_results(run_dir: Path, axes: list[str], plans: list[CellPlan]) -> Any:
    """The tidy results table assembled from every finished cell's result file."""
    import pandas as pd

    from .run_view import RESULT_COLUMNS, read_result

    frames = []
    for plan in plans:
        result = read_result(run_dir / "cells" / plan.id / RESULT_FILE)
        if result is None:
            continue
        rows = pd.DataFrame(result["rows"], columns=["evaluation", "metric", "step_name", "step", "value", "n"])
        if rows.empty:
            continue
        rows.insert(0, "cell", plan.id)
        for i, axis in enumerate(axes):
            rows.insert(1 + i, axis, plan.coordinates.get(axis, ""))
        rows.insert(1 + len(axes), "replicate", int(plan.coordinates.get(REPLICATE, 0)))
        rows.insert(2 + len(axes), "seed", plan.seed)
        frames.append(rows)
    columns = ["cell", *axes, *RESULT_COLUMNS[1:]]
    if not frames:
        return pd.DataFrame(columns=columns)
    table = pd.concat(frames, ignore_index=True)[columns]
    table["n"] = table["n"].astype("Int64")
    return table


def executor_spec(loaded: LoadedStudy, options: RunOptions) -> ExecutorSpec:
    """The executor to run with: the command line's, else the study's ``execution:``, else local."""
    study = loaded.execution
    use = options.executor or (study.use if study is not None else DEFAULT_EXECUTOR)
    params: dict[str, Any] = dict(study.with_) if study is not None and study.use == use else {}
    params.update(options.executor_options)
    if options.jobs is not None:
        params["jobs"] = options.jobs
    return ExecutorSpec(use=use, **{"with": params})


def build_executor(spec: ExecutorSpec) -> Executor:
    from pydantic import ValidationError

    from .describe import describe_params

    registry = get_registry()
    cls = registry.get("executor", spec.use)
    try:
        params = cls.Params.model_validate(spec.with_)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in error.errors())
        allowed = "\n  ".join(describe_params(cls.Params)) or "(no options)"
        raise WorkbenchError(f"executor {spec.use!r}: {problems}. Its options:\n  {allowed}") from None
    return cls(params)


def sibling_groups(plans: list[CellPlan]) -> list[list[CellPlan]]:
    """Plans grouped into tasks: cells whose model fits them together (``Model.fit_together``)
    and whose plans agree on everything else form one task; every other cell is its own."""
    registry = get_registry()
    groups: dict[str, list[CellPlan]] = {}
    for plan in plans:
        sections = registry.get("model", plan.model.use).fit_together
        if not sections:
            groups[plan.id] = [plan]
            continue
        content = plan_content(plan)
        for key in ("id", "coordinates", *sections):
            content.pop(key, None)
        groups.setdefault("group-" + digest(content), []).append(plan)
    return list(groups.values())


class Runner:
    """Runs a loaded study into a run directory."""

    def __init__(self, loaded: LoadedStudy, options: RunOptions | None = None):
        self.loaded = loaded
        self.options = options or RunOptions()
        self.cache = Cache(self.options.cache_dir)
        self.executor = build_executor(executor_spec(loaded, self.options))
        self.cache.check_writable()

    def tasks(self, run_dir: Path, pending: list[CellPlan]) -> list[CellTask]:
        data_dir = self.options.data_dir or os.environ.get("WORKBENCH_DATA_DIR")
        threads = self.executor.threads_per_cell()
        return [
            CellTask(
                plans=tuple(plan_content(p) for p in group),
                run_dir=str(run_dir.resolve()),
                study_dir=str(self.loaded.study_dir),
                cache_dir=str(self.cache.root.resolve()),
                data_dir=str(Path(data_dir).resolve()) if data_dir else None,
                threads=threads,
            )
            for group in sibling_groups(pending)
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
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "cells").mkdir(exist_ok=True)
        except OSError as error:
            raise WorkbenchError(f"cannot create the run directory {run_dir}: {error.strerror or error}. "
                                 "Choose a writable place with --runs-root or --run-dir.") from None
        from .run_view import read_result

        plans = self.loaded.plans
        pending = [p for p in plans if read_result(run_dir / "cells" / p.id / RESULT_FILE) is None]
        self.executor.prepare([plan_content(p) for p in pending])
        import yaml

        atomic.write_text(run_dir / "study.yaml", self.loaded.text)
        atomic.write_text(run_dir / "resolved.yaml", "# The cell plans of this run: `workbench validate` and `workbench run` accept this file.\n"
                          + yaml.safe_dump(self.loaded.resolved(), sort_keys=False, allow_unicode=True))
        atomic.write_json(run_dir / "environment.json", environment(self.executor))
        write_manifest(run_dir, self.loaded, "running")
        result = RunResult(run_dir, total=len(plans), done=len(plans) - len(pending), skipped=len(plans) - len(pending))
        if on_start is not None:
            on_start(run_dir, len(plans), result.skipped, resumed)

        def record(outcome: CellOutcome) -> None:
            for note in outcome.notes:
                result.notes.setdefault(note, []).append(outcome.cell_id)
            if outcome.ok:
                result.done += 1
            else:
                result.failed[outcome.cell_id] = outcome.error or "failed"
            if on_outcome is not None:
                on_outcome(outcome)

        import_in_background(self.figure_modules())
        try:
            self.executor.run(self.tasks(run_dir, pending), sink, record)
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            status = "interrupted" if result.interrupted else ("failed" if result.failed else "finished")
            write_manifest(run_dir, self.loaded, status)
            result.seconds = time.perf_counter() - started
            self.finish(result)
        return result

    def figure_modules(self) -> list[str]:
        """The modules the study's figures draw with (matplotlib's), to import while cells run."""
        registry = get_registry()
        modules: dict[str, None] = {}
        for spec in self.loaded.report.figures:
            try:
                frameworks = registry.get("figure", spec.use).frameworks
            except Exception:  # an unknown figure is reported when it is drawn
                continue
            modules.update(dict.fromkeys(framework_modules(frameworks)))
        return list(modules)

    def finish(self, result: RunResult) -> None:
        """Assemble the results table, summary and figures from whatever cells have finished."""
        from .report import draw_figures, write_summary_files
        from .run_view import RunView

        run_dir = result.run_dir
        results = collect_results(run_dir, self.loaded.axis_names, self.loaded.plans)
        atomic.write_text(run_dir / "results.csv", results.to_csv(index=False))
        view = RunView(run_dir, results=results)
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
        record_data_files(run_dir, self.loaded.plans)
        from .html_report import write_html_report

        write_html_report(view, result.summary, self.loaded.group_by, result.figures)

