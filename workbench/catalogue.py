"""The runs under a runs root, as a catalogue: list them, and compare several in one table
(the way MLflow compares runs: shared metrics, the settings that differ, mean ± std and n)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import WorkbenchError
from .run_view import RunView


@dataclass(frozen=True)
class RunInfo:
    dir: Path
    study: str
    status: str
    updated: str
    cells: int
    done: int
    failed: int


def run_info(run_dir: Path) -> RunInfo | None:
    """What a run directory holds, or ``None`` if it is not a (readable) run."""
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cells = manifest.get("cells") or []
    done = sum(1 for c in cells if (run_dir / "cells" / str(c.get("id")) / "result.json").exists())
    failed = sum(1 for c in cells if (run_dir / "cells" / str(c.get("id")) / "error.txt").exists())
    return RunInfo(run_dir, str(manifest.get("study_name", run_dir.parent.name)), str(manifest.get("status", "?")),
                   str(manifest.get("updated", "")), len(cells), done, failed)


def list_runs(runs_root: Path, study: str | None = None) -> list[RunInfo]:
    """Every run under ``runs_root`` (``<study>/<stamp>/``), oldest first."""
    if not runs_root.is_dir():
        return []
    found = []
    for manifest in sorted(runs_root.glob("*/*/manifest.json")):
        info = run_info(manifest.parent)
        if info is not None and (study is None or info.study == study or manifest.parent.parent.name == study):
            found.append(info)
    return sorted(found, key=lambda r: (r.updated, str(r.dir)))


def resolve_runs(arguments: list[str], runs_root: Path, last: int) -> list[Path]:
    """Run directories from the arguments: each a run directory, or a study name (its ``last``
    runs under ``runs_root``)."""
    runs: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if (path / "manifest.json").exists():
            runs.append(path)
            continue
        of_study = list_runs(runs_root, argument)
        if not of_study:
            raise WorkbenchError(f"{argument!r} is neither a run directory (no manifest.json) nor a study with runs under {runs_root}. "
                                 "`workbench runs` lists the runs.")
        runs += [r.dir for r in of_study[-last:]]
    unique = list(dict.fromkeys(p.resolve() for p in runs))
    if len(unique) < 2:
        raise WorkbenchError(f"compare needs at least two runs; got {len(unique)}. Give more run directories, or a study with "
                             "several runs (--last N).")
    return unique


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        return {prefix: json.dumps(value, sort_keys=True)}
    return {prefix: value}


def _settings(view: RunView) -> dict[str, Any]:
    """A run's settings as flat dotted paths: the first cell's plan (components with every
    parameter), its overrides and its grid axes."""
    settings: dict[str, Any] = {}
    cells = view.manifest.get("cells") or []
    plan = view.plan(cells[0]["id"]) if cells else None
    if plan is not None:
        content = plan.model_dump(mode="json", by_alias=True)
        for key in ("id", "seed", "coordinates"):
            content.pop(key, None)
        settings.update(_flatten(content))
    study = view.manifest.get("study") or {}
    settings["seed"] = study.get("seed")
    settings["repeats"] = study.get("repeats")
    if view.manifest.get("overrides"):
        settings["overrides"] = " ".join(view.manifest["overrides"])
    settings["grid"] = ", ".join(view.axes) or "-"
    return settings


def compare_runs(run_dirs: list[Path]) -> pd.DataFrame:
    """One row per run × group × evaluation × metric (metrics every run has), with the settings
    that differ between the runs as columns, and mean, std and n of the final values."""
    from .report import summarize

    views = [RunView(d) for d in run_dirs]
    settings = [_settings(v) for v in views]
    keys = list(dict.fromkeys(k for s in settings for k in s))
    differing = [k for k in keys if len({json.dumps(s.get(k), sort_keys=True, default=str) for s in settings}) > 1]
    summaries = []
    metric_sets = []
    for view, setting in zip(views, settings):
        group_by = view.manifest.get("group_by") or view.axes
        summary = summarize(view.results, group_by)
        metric_sets.append(set(summary["metric"]))
        summary.insert(0, "run", f"{view.dir.parent.name}/{view.dir.name}")
        for i, key in enumerate(differing):
            summary.insert(1 + i, key, setting.get(key))
        summaries.append(summary)
    shared = set.intersection(*metric_sets) if metric_sets else set()
    if not shared:
        raise WorkbenchError("these runs share no metric to compare (each run's metrics: "
                             + "; ".join(", ".join(sorted(m)) or "none" for m in metric_sets) + ")")
    table = pd.concat(summaries, ignore_index=True)
    table = table[table["metric"].isin(shared)]
    leading = ["run", *differing]
    groups = [c for c in table.columns if c not in (*leading, "evaluation", "metric", "mean", "std", "n")]
    return table[[*leading, *groups, "evaluation", "metric", "mean", "std", "n"]].reset_index(drop=True)


def default_csv(runs_root: Path) -> Path:
    return runs_root / f"compare-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.csv"
