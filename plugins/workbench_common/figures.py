"""Generic figures drawn from a run's results table: curves over steps, a metric against a
grid axis, and bars per group, each as mean ± standard deviation over the pooled cells (the
replicates and every grid axis the figure does not show), with n in the title."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import Field

import workbench
from workbench import Figure

if TYPE_CHECKING:  # pragma: no cover
    from workbench.run_view import RunView


def new_figure(width: float, height: float):
    """A matplotlib figure and its axes, made without pyplot: no global state, no backend
    switch (a notebook keeps its own), and matplotlib is imported only when a figure is drawn."""
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width, height))
    return fig, fig.subplots()


class FigureParams(workbench.Params):
    metric: str = Field(description="metric label as it appears in the results table")
    evaluation: str | None = Field(default=None, description="evaluation set (default: the first holding the metric)")
    group_by: list[str] | None = Field(default=None, description="grid axes that make the groups (default: the study's group_by)")
    title: str | None = Field(default=None, description="figure title (default: derived)")


def group_labels(frame: pd.DataFrame, group_by: list[str]) -> pd.Series:
    """One label per row, joining the row's values of the ``group_by`` columns."""
    if not group_by:
        return pd.Series(["all"] * len(frame), index=frame.index)
    parts = [frame[axis].astype(str) if len(group_by) == 1 else axis.split(".")[-1] + "=" + frame[axis].astype(str) for axis in group_by]
    label = parts[0]
    for part in parts[1:]:
        label = label + ", " + part
    return label


def select(run: RunView, params: FigureParams, stepped: bool) -> tuple[pd.DataFrame, list[str], str]:
    rows = run.results
    rows = rows[(rows["metric"] == params.metric) & ((rows["step_name"] != "") if stepped else (rows["step_name"] == ""))]
    evaluation = params.evaluation or (sorted(rows["evaluation"].unique(), key=lambda e: (e == "train", e))[0] if len(rows) else "")
    rows = rows[rows["evaluation"] == evaluation]
    group_by = params.group_by if params.group_by is not None else [a for a in run.axes if a in rows.columns]
    return rows, group_by, evaluation


def spread(run: RunView, rows: pd.DataFrame, shown: list[str], keys: list[str]) -> str:
    """What each point's mean ± std pools, for the title: every axis not shown (and the
    replicates), with n, the number of values behind each point."""
    pooled = [a for a in run.axes if a not in shown] + ["replicate"]
    n = int(rows.groupby(keys, sort=False).size().max()) if keys and len(rows) else len(rows)
    return f"mean ± std over {' × '.join(pooled)} (n = {n})"


def mean_std(values: pd.Series) -> tuple[float, float]:
    arr = values.to_numpy(dtype=float)
    return float(np.nanmean(arr)), float(np.nanstd(arr)) if len(arr) > 1 else 0.0


def numeric_or_none(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


class MetricCurve(Figure):
    name = "metric-curve"
    summary = "A metric against its steps (epoch, frame, ...), one line per group with a mean ± std band over replicates."

    class Params(FigureParams):
        step_name: str | None = Field(default=None, description="which steps (default: the metric's only step name)")
        log_y: bool = Field(default=False, description="logarithmic y axis")

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"metric": "accuracy"}]

    def draw(self, run: RunView):
        p = self.params
        rows, group_by, evaluation = select(run, p, stepped=True)
        if p.step_name is not None:
            rows = rows[rows["step_name"] == p.step_name]
        if rows.empty:
            return None
        step_name = rows["step_name"].iloc[0]
        rows = rows[rows["step_name"] == step_name].assign(group=group_labels(rows, group_by))
        fig, ax = new_figure(7, 4.5)
        for group, part in rows.groupby("group", sort=False):
            stats = part.groupby("step")["value"].agg(["mean", "std"]).fillna(0.0)
            ax.plot(stats.index, stats["mean"], label=str(group))
            ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], alpha=0.2)
        ax.set_xlabel(step_name)
        ax.set_ylabel(p.metric)
        if p.log_y:
            ax.set_yscale("log")
        ax.set_title(p.title or f"{p.metric} per {step_name} ({evaluation})\n{spread(run, rows, group_by, ['group', 'step'])}",
                     fontsize="medium")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        return fig


class MetricVsAxis(Figure):
    name = "metric-vs-axis"
    summary = "A metric's final value against one grid axis, one line per group, mean ± std over replicates."

    class Params(FigureParams):
        axis: str = Field(description="grid axis on the x axis")
        log_x: bool = Field(default=False, description="logarithmic x axis")

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"metric": "accuracy", "axis": "train_size"}]

    def draw(self, run: RunView):
        p = self.params
        rows, group_by, evaluation = select(run, p, stepped=False)
        if rows.empty or p.axis not in rows.columns:
            return None
        group_by = [g for g in group_by if g != p.axis]
        rows = rows.assign(group=group_labels(rows, group_by))
        fig, ax = new_figure(7, 4.5)
        for group, part in rows.groupby("group", sort=False):
            stats = part.groupby(p.axis, sort=False)["value"].agg(["mean", "std"]).fillna(0.0)
            labels = [str(x) for x in stats.index]
            x = numeric_or_none(labels)
            order = np.argsort(x) if x is not None else np.arange(len(labels))
            xs = np.asarray(x)[order] if x is not None else np.arange(len(labels))
            ax.errorbar(xs, stats["mean"].to_numpy()[order], yerr=stats["std"].to_numpy()[order], marker="o", capsize=3, label=str(group))
            if x is None:
                ax.set_xticks(np.arange(len(labels)), [labels[i] for i in order])
        if p.log_x:
            ax.set_xscale("log")
        ax.set_xlabel(p.axis)
        ax.set_ylabel(p.metric)
        ax.set_title(p.title or f"{p.metric} vs {p.axis} ({evaluation})\n{spread(run, rows, [*group_by, p.axis], ['group', p.axis])}",
                     fontsize="medium")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        return fig


class MetricBars(Figure):
    name = "metric-bars"
    summary = "A metric's final value as one bar per group, with ± std error bars over replicates."

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"metric": "accuracy"}]

    Params = FigureParams

    def draw(self, run: RunView):
        p = self.params
        rows, group_by, evaluation = select(run, p, stepped=False)
        if rows.empty:
            return None
        rows = rows.assign(group=group_labels(rows, group_by))
        stats = rows.groupby("group", sort=False)["value"].agg(["mean", "std"]).fillna(0.0)
        fig, ax = new_figure(max(5, 0.9 * len(stats) + 2), 4.5)
        ax.bar(np.arange(len(stats)), stats["mean"], yerr=stats["std"], capsize=3, color="tab:blue", alpha=0.8)
        ax.set_xticks(np.arange(len(stats)), list(stats.index), rotation=30, ha="right")
        ax.set_ylabel(p.metric)
        ax.set_title(p.title or f"{p.metric} ({evaluation})\n{spread(run, rows, group_by, ['group'])}", fontsize="medium")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        return fig
