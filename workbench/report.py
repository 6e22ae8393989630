"""The terminal report: live progress while cells run, then a table of mean ± std over
replicates grouped by the grid axes, and where the figures and tables were written."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table as RichTable
from rich.text import Text

from . import atomic
from .registry import get_registry
from .run_view import RunView

log = logging.getLogger("workbench.report")


def summarize(results: pd.DataFrame, group_by: list[str]) -> pd.DataFrame:
    """Final values grouped by ``group_by`` × evaluation × metric: mean, std and ``n`` (how many
    cells' values each row pools: replicates times the values of every axis not grouped by)."""
    final = results[results["step_name"] == ""]
    keys = [g for g in group_by if g in final.columns] + ["evaluation", "metric"]
    if final.empty:
        return pd.DataFrame(columns=keys + ["mean", "std", "n"])
    grouped = final.groupby(keys, sort=False, dropna=False)["value"]
    summary = grouped.agg(mean="mean", std=lambda v: float(np.std(v.to_numpy(dtype=float), ddof=1)) if len(v) > 1 else 0.0, n="count")
    return summary.reset_index()


def pooled_axes(axes: list[str], group_by: list[str]) -> list[str]:
    """The axes a summary pools over: replicate and every grid axis not grouped by."""
    return [a for a in axes if a not in group_by] + ["replicate"]


def caption(axes: list[str], group_by: list[str]) -> str:
    pooled = pooled_axes(axes, group_by)
    return "mean ± std over " + " × ".join(pooled) + " (n values per row)"


def compare(results: pd.DataFrame, axis: str, group_by: list[str], level: float = 0.95) -> pd.DataFrame:
    """Paired differences against the first value of ``axis``: cells that differ only in
    ``axis`` (same replicate and every other coordinate) are paired, and each row gives the mean
    difference, its ``level`` confidence interval (Student t over the pairs) and the number of
    pairs. Columns: the groups, evaluation, metric, ``compared``, ``baseline``, ``mean_diff``,
    ``ci_low``, ``ci_high``, ``pairs``."""
    columns = [g for g in group_by if g != axis] + ["evaluation", "metric", "compared", "baseline", "mean_diff", "ci_low", "ci_high", "pairs"]
    final = results[results["step_name"] == ""]
    if final.empty or axis not in final.columns:
        return pd.DataFrame(columns=columns)
    from scipy import stats

    levels = list(dict.fromkeys(final[axis].astype(str)))
    baseline = levels[0]
    others = [c for c in final.columns if c not in ("cell", "seed", "value", "n", "step", "step_name", axis)]
    keys = [c for c in others if c not in ("evaluation", "metric")]
    base = final[final[axis].astype(str) == baseline].set_index(keys + ["evaluation", "metric"])["value"]
    out = []
    for level_name in levels[1:]:
        part = final[final[axis].astype(str) == level_name].set_index(keys + ["evaluation", "metric"])["value"]
        joined = pd.concat([part.rename("value"), base.rename("base")], axis=1, join="inner").reset_index()
        joined["diff"] = joined["value"] - joined["base"]
        group_keys = [g for g in group_by if g != axis and g in joined.columns] + ["evaluation", "metric"]
        for key, sub in joined.groupby(group_keys, sort=False, dropna=False):
            diffs = sub["diff"].to_numpy(dtype=float)
            pairs = len(diffs)
            mean = float(diffs.mean())
            if pairs > 1:
                half = float(stats.t.ppf(0.5 + level / 2, pairs - 1) * diffs.std(ddof=1) / np.sqrt(pairs))
            else:
                half = float("nan")
            key = key if isinstance(key, tuple) else (key,)
            out.append([*key, level_name, baseline, mean, mean - half, mean + half, pairs])
    return pd.DataFrame(out, columns=columns)


def format_mean_std(mean: float, std: float, n: int) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    magnitude = max(abs(mean), abs(std), 1e-12)
    digits = 4 if magnitude < 10 else 2 if magnitude < 1000 else 0
    text = f"{mean:.{digits}f}"
    if n > 1:
        text += f" ± {std:.{digits}f}"
    return text


def summary_table(summary: pd.DataFrame, group_by: list[str], title: str, max_rows: int = 60) -> RichTable:
    """A rich table with one row per group × evaluation and one column per metric."""
    table = RichTable(title=title, title_justify="left", show_lines=False)
    keys = [g for g in group_by if g in summary.columns] + ["evaluation"]
    metrics = list(dict.fromkeys(summary["metric"]))
    for key in keys:
        table.add_column(escape(key.split(".")[-1]), style="cyan")
    for metric in metrics:
        table.add_column(escape(metric), justify="right")
    if summary.empty:
        return table
    counts = summary.groupby(keys, sort=False, dropna=False)["n"].agg(lambda v: "/".join(str(x) for x in dict.fromkeys(v)))
    table.add_column("n", justify="right", style="dim")
    wide = summary.assign(cell=[format_mean_std(m, s, n) for m, s, n in zip(summary["mean"], summary["std"], summary["n"])])
    pivot = wide.pivot_table(index=keys, columns="metric", values="cell", aggfunc="first", sort=False)
    shown = 0
    for index, values in pivot.iterrows():
        if shown >= max_rows:
            table.add_row(*(["…"] * (len(keys) + len(metrics))))
            break
        index = index if isinstance(index, tuple) else (index,)
        cells = [values.get(m, "") for m in metrics]
        n = counts.get(index if len(index) > 1 else index[0], "")
        table.add_row(*[escape(str(i)) for i in index], *[c if isinstance(c, str) else "" for c in cells], str(n))
        shown += 1
    return table


class FieldsColumn(ProgressColumn):
    """Shows the extra fields a component passed to ``advance`` (loss, ...)."""

    def render(self, task: Task) -> Text:
        fields = task.fields.get("shown", {})
        return Text("  ".join(f"{k}={_short(v)}" for k, v in fields.items()), style="dim")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class RichSink:
    """A :class:`~workbench.progress.ProgressSink` drawing rich progress bars."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def start(self, key: str, description: str, total: float | None) -> None:
        self.tasks[key] = self.progress.add_task(description, total=total, shown={})

    def advance(self, key: str, amount: float, fields: dict[str, Any]) -> None:
        task = self.tasks.get(key)
        if task is not None:
            self.progress.update(task, advance=amount, shown=fields)

    def finish(self, key: str) -> None:
        task = self.tasks.pop(key, None)
        if task is not None:
            self.progress.remove_task(task)


def make_progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        FieldsColumn(),
        console=console,
        transient=False,
        refresh_per_second=4,
    )


def draw_figures(view: RunView, out_dir: Path) -> list[Path]:
    """Draw the study's figures into ``out_dir``; a figure that fails is logged and skipped."""
    registry = get_registry()
    written: list[Path] = []
    for index, spec in enumerate(view.report.figures):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", spec.label or f"{index + 1:02d}-{spec.use}").strip("-")
        try:
            figure = registry.build("figure", spec.use, spec.with_).draw(view)
        except Exception as error:  # a broken figure must not lose the run's results
            log.warning("figure %s (%s) failed: %s", name, spec.use, error, exc_info=True)
            continue
        if figure is None:
            continue
        path = out_dir / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.png")
        try:
            figure.savefig(tmp, dpi=120)
        finally:
            _close(figure)
        tmp.replace(path)
        written.append(path)
    return written


def comparison_table(comparison: pd.DataFrame, title: str) -> RichTable:
    """Paired differences as a rich table: one row per group × evaluation × metric × compared value."""
    table = RichTable(title=title, title_justify="left")
    for column in comparison.columns:
        if column in ("ci_low", "ci_high"):
            continue
        table.add_column(escape(str(column).split(".")[-1]), justify="right" if column in ("mean_diff", "pairs") else "left")
    table.add_column("95% CI", justify="right")
    for _, r in comparison.iterrows():
        cells = [format_mean_std(v, 0.0, 1) if k == "mean_diff" else str(v) for k, v in r.items() if k not in ("ci_low", "ci_high")]
        ci = "n/a" if not np.isfinite(r["ci_low"]) else f"[{format_mean_std(r['ci_low'], 0, 1)}, {format_mean_std(r['ci_high'], 0, 1)}]"
        table.add_row(*[escape(c) for c in cells], ci)
    return table


def _close(figure: Any) -> None:
    """Release a figure; one made with pyplot must also leave pyplot's registry."""
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(figure)


def write_summary_files(view: RunView, group_by: list[str], extra: dict[str, Any]) -> pd.DataFrame:
    summary = summarize(view.results, group_by)
    axes = view.axes
    atomic.write_text(view.dir / "summary.csv", summary.to_csv(index=False))
    data, notes = data_descriptions(view)
    payload = {**extra, "group_by": group_by, "pooled_axes": pooled_axes(axes, group_by), "caption": caption(axes, group_by),
               "data": data, "notes": notes, "summary": summary.to_dict(orient="records")}
    compared = view.report.compare
    if compared:
        comparison = compare(view.results, compared, group_by)
        atomic.write_text(view.dir / "comparison.csv", comparison.to_csv(index=False))
        payload["comparison"] = {"axis": compared, "level": 0.95, "rows": comparison.to_dict(orient="records")}
    atomic.write_json(view.dir / "summary.json", payload)
    return summary


def data_descriptions(view: RunView) -> tuple[list[str], dict[str, list[str]]]:
    """What the datasets said about the data the cells used (their splits), each once; and the
    cells' notes (rows or columns left out, ...), each with the cells that made it."""
    from .run_view import read_result

    seen: dict[str, None] = {}
    notes: dict[str, list[str]] = {}
    for cell in view.cells:
        result = read_result(cell.dir / "result.json") or {}
        if result.get("data"):
            seen[str(result["data"])] = None
        for note in result.get("notes") or []:
            notes.setdefault(str(note), []).append(cell.id)
    return list(seen), notes
