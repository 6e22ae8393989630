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
    """Final values grouped by ``group_by`` × evaluation × metric: mean, std, n over replicates."""
    final = results[results["step_name"] == ""]
    keys = [g for g in group_by if g in final.columns] + ["evaluation", "metric"]
    if final.empty:
        return pd.DataFrame(columns=keys + ["mean", "std", "n"])
    grouped = final.groupby(keys, sort=False, dropna=False)["value"]
    summary = grouped.agg(mean="mean", std=lambda v: float(np.std(v.to_numpy(dtype=float), ddof=1)) if len(v) > 1 else 0.0, n="count")
    return summary.reset_index()


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
    wide = summary.assign(cell=[format_mean_std(m, s, n) for m, s, n in zip(summary["mean"], summary["std"], summary["n"])])
    pivot = wide.pivot_table(index=keys, columns="metric", values="cell", aggfunc="first", sort=False)
    shown = 0
    for index, values in pivot.iterrows():
        if shown >= max_rows:
            table.add_row(*(["…"] * (len(keys) + len(metrics))))
            break
        index = index if isinstance(index, tuple) else (index,)
        cells = [values.get(m, "") for m in metrics]
        table.add_row(*[escape(str(i)) for i in index], *[c if isinstance(c, str) else "" for c in cells])
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    registry = get_registry()
    written: list[Path] = []
    for index, spec in enumerate(view.study.report.figures):
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
        figure.savefig(tmp, dpi=120)
        plt.close(figure)
        tmp.replace(path)
        written.append(path)
    return written


def write_summary_files(view: RunView, group_by: list[str], extra: dict[str, Any]) -> pd.DataFrame:
    summary = summarize(view.results, group_by)
    atomic.write_text(view.dir / "summary.csv", summary.to_csv(index=False))
    atomic.write_json(view.dir / "summary.json", {**extra, "summary": summary.to_dict(orient="records")})
    return summary
