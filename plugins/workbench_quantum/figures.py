"""Figures of thesis §4.2: rollout heatmaps and snapshots (Fig. 4.3), ⟨C⟩ against each swept
parameter (Fig. 4.4), and ⟨C⟩ per test family for each group (curriculum comparison)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import Field

import workbench
from workbench import Figure

if TYPE_CHECKING:  # pragma: no cover
    from workbench.run_view import RunView

DEFAULT_FAMILIES = ["triangular", "circular"]


class ArtifactParams(workbench.Params):
    families: list[str] = Field(default_factory=lambda: list(DEFAULT_FAMILIES), description="test families to show (one panel column each)")
    where: dict[str, str] = Field(default_factory=dict, description="grid coordinates that pick the cell (default: the first finished cell)")


def pick_rollouts(run: RunView, params: ArtifactParams) -> tuple[str, dict[str, dict[str, np.ndarray]]]:
    """The first finished cell matching ``where`` that saved rollouts of the families, and them."""
    for cell in run.cells:
        if any(str(cell.coordinates.get(k)) != v for k, v in params.where.items()):
            continue
        found = {f: run.artifact(cell.id, f"rollout-{f}") for f in params.families}
        found = {f: a for f, a in found.items() if a is not None}
        if found:
            # Long coordinate labels (lists) would swamp the title; the cell id identifies the cell.
            label = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in cell.coordinates.items() if len(str(v)) <= 30)
            label = f"{label}, cell {cell.id}" if label else cell.id
            return label, found
    return "", {}


def heatmaps(panels: dict[str, tuple[np.ndarray, np.ndarray]], title: str):
    """Re ψ(x, frame) of truth (top) and prediction (bottom), one column per panel; each
    panel's colour scale is its truth's largest |Re ψ|."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(panels), figsize=(4.5 * len(panels), 7.5), squeeze=False, sharey=True, layout="constrained")
    for col, (name, (truth, prediction)) in enumerate(panels.items()):
        scale = float(np.abs(truth).max()) or 1.0
        for row, (kind, values) in enumerate((("truth", truth), ("prediction", prediction))):
            ax = axes[row, col]
            image = ax.imshow(values, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-scale, vmax=scale,
                              extent=(0, values.shape[1], 1, values.shape[0]))
            ax.set_title(f"{name}: {kind}")
            ax.set_xlabel("grid point")
            if col == 0:
                ax.set_ylabel("frame")
        fig.colorbar(image, ax=axes[:, col], shrink=0.6, label="Re ψ")
    fig.suptitle(title, fontsize="medium")
    return fig


class RolloutHeatmaps(Figure):
    name = "rollout-heatmaps"
    summary = "Fig. 4.3 d/e: Re ψ(x, frame) of truth and prediction over all rolled-out frames, per test family."
    Params = ArtifactParams

    def draw(self, run: RunView):
        label, rollouts = pick_rollouts(run, self.params)
        if not rollouts:
            return None
        panels = {family: (arrays["re_truth"].astype(np.float32), arrays["re_prediction"].astype(np.float32))
                  for family, arrays in rollouts.items()}
        return heatmaps(panels, f"Re ψ, truth vs rollout ({label})")


class RolloutSnapshots(Figure):
    name = "rollout-snapshots"
    summary = "Fig. 4.3 f/g: |ψ| and Re ψ of truth and prediction at frames 50, 200, 350, with the potential."
    Params = ArtifactParams

    def draw(self, run: RunView):
        label, rollouts = pick_rollouts(run, self.params)
        if not rollouts:
            return None
        import matplotlib.pyplot as plt

        n_snap = max(len(a["snapshot_frames"]) for a in rollouts.values())
        fig, axes = plt.subplots(n_snap, len(rollouts), figsize=(5 * len(rollouts), 2.6 * n_snap), squeeze=False, sharex=True,
                                 layout="constrained")
        for col, (family, arrays) in enumerate(rollouts.items()):
            v = arrays["potential"]
            for row, frame in enumerate(arrays["snapshot_frames"]):
                ax = axes[row, col]
                truth, pred = arrays["snapshot_truth"][row], arrays["snapshot_prediction"][row]
                ax.plot(truth.real, color="k", lw=1.0, label="Re ψ truth")
                ax.plot(pred.real, color="tab:red", lw=0.8, ls="--", label="Re ψ prediction")
                ax.plot(np.abs(truth), color="0.5", lw=1.0, label="|ψ| truth")
                ax.plot(np.abs(pred), color="tab:orange", lw=0.8, ls="--", label="|ψ| prediction")
                if np.abs(v).max() > 0:  # wells (V < 0) are drawn below the axis
                    ax.fill_between(np.arange(len(v)), 0, v / np.abs(v).max() * np.abs(truth).max(), color="tab:green", alpha=0.15,
                                    label="V (scaled)")
                ax.set_title(f"{family}, rolled-out frame {int(frame)}", fontsize="small")
                if row == 0 and col == 0:
                    ax.legend(fontsize="x-small", ncol=2)
            axes[-1, col].set_xlabel("grid point")
        fig.suptitle(f"Snapshots ({label})", fontsize="medium")
        return fig


def default_group_by(run: RunView, requested: list[str] | None, columns) -> list[str]:
    """``requested``, else the study's report.group_by, else every grid axis."""
    if requested is not None:
        return requested
    study_groups = run.study.report.group_by
    axes = study_groups if study_groups is not None else run.axes
    return [a for a in axes if a in columns]


def group_column(frame: pd.DataFrame, group_by: list[str]) -> pd.Series:
    if not group_by:
        return pd.Series(["all"] * len(frame), index=frame.index)
    return frame[group_by].astype(str).agg(", ".join, axis=1)


class CorrelationSweeps(Figure):
    name = "correlation-sweeps"
    summary = "Fig. 4.4: ⟨C⟩ of each sweep scenario against the swept parameter, mean ± std over replicates; training values marked."

    class Params(workbench.Params):
        metric: str = Field(default="scenario-correlation", description="per-scenario metric label in the results table")
        group_by: list[str] | None = Field(default=None, description="grid axes that make the lines (default: the study's group_by)")

    def draw(self, run: RunView):
        rows = run.results
        rows = rows[(rows["metric"] == self.params.metric) & (rows["step_name"] == "scenario") & rows["evaluation"].astype(str).str.startswith("sweep-")]
        if rows.empty:
            return None
        from .dataset import WavepacketWindows

        # The study's dataset parameters give the sweep values and the training values; a grid
        # may have changed the evaluated families per cell, so every family is considered.
        params = {k: v for k, v in run.study.dataset.with_.items() if k != "families"}
        families = {f.name: f for f in WavepacketWindows(params).families() if f.swept is not None}
        present = [name for name in families if name in set(rows["evaluation"])]
        if not present:
            return None
        group_by = default_group_by(run, self.params.group_by, rows.columns)
        rows = rows.assign(group=group_column(rows, group_by))
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(present), figsize=(4.2 * len(present), 3.8), squeeze=False, layout="constrained")
        for ax, name in zip(axes[0], present):
            family = families[name]
            part = rows[rows["evaluation"] == name]
            for group, sub in part.groupby("group", sort=False):
                stats = sub.groupby("step")["value"].agg(["mean", "std"]).fillna(0.0)
                x = np.array([family.values[int(i)] for i in stats.index])
                ax.errorbar(x, stats["mean"], yerr=stats["std"], marker="o", capsize=3, label=str(group))
            for value in family.trained:
                if min(family.values) <= value <= max(family.values):
                    ax.axvline(value, color="tab:red", lw=0.6, alpha=0.5)
            ax.set_xlabel({"s0": "S0", "wb": "Wb", "e0": "E0", "hb": "Hb"}.get(family.swept, family.swept))
            ax.set_ylabel("⟨C⟩")
            ax.set_title(f"{name} (red: training values)", fontsize="small")
            ax.grid(alpha=0.3)
        axes[0, 0].legend(fontsize="x-small")
        return fig


class CorrelationByFamily(Figure):
    name = "correlation-by-family"
    summary = "⟨C⟩ per test family, one bar per group (e.g. curriculum), mean ± std over replicates."

    class Params(workbench.Params):
        metric: str = Field(default="normalized-correlation", description="metric label in the results table")
        group_by: list[str] | None = Field(default=None, description="grid axes that make the bars (default: the study's group_by)")
        ylim: list[float] | None = Field(default=None, description="y-axis limits [low, high]")

    def draw(self, run: RunView):
        rows = run.final()
        rows = rows[(rows["metric"] == self.params.metric) & (rows["evaluation"] != "train")]
        if rows.empty:
            return None
        group_by = default_group_by(run, self.params.group_by, rows.columns)
        rows = rows.assign(group=group_column(rows, group_by))
        stats = rows.groupby(["evaluation", "group"], sort=False)["value"].agg(["mean", "std"]).fillna(0.0).reset_index()
        families = list(dict.fromkeys(stats["evaluation"]))
        groups = list(dict.fromkeys(stats["group"]))
        width = 0.8 / len(groups)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(min(16, max(6, 1.1 * len(families) * max(1, len(groups) / 2))), 4.5))
        for i, group in enumerate(groups):
            part = stats[stats["group"] == group].set_index("evaluation").reindex(families)
            ax.bar(np.arange(len(families)) + (i - (len(groups) - 1) / 2) * width, part["mean"], width, yerr=part["std"], capsize=2, label=group)
        ax.set_xticks(np.arange(len(families)), families, rotation=30, ha="right")
        ax.set_ylabel(f"⟨C⟩ ({self.params.metric})")
        if self.params.ylim:
            ax.set_ylim(*self.params.ylim)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize="small")
        ax.set_title("⟨C⟩ per test family; mean ± std over replicates")
        fig.tight_layout()
        return fig


class CorrelationVsBudget(Figure):
    name = "correlation-vs-budget"
    summary = "Data effectiveness: 1 − ⟨C⟩ against a grid axis such as the curriculum's budget of generated windows (log–log), one line per group."

    class Params(workbench.Params):
        axis: str = Field(default="curriculum.with.budget", description="grid axis on the x axis (numeric)")
        metric: str = Field(default="normalized-correlation", description="metric label in the results table (a correlation: 1 − value is plotted)")
        families: list[str] | None = Field(default=None, description="test families averaged per cell (default: every evaluation holding the metric)")
        group_by: list[str] | None = Field(default=None, description="grid axes that make the lines (default: the study's group_by without `axis`)")

    def draw(self, run: RunView):
        p = self.params
        rows = run.final()
        rows = rows[(rows["metric"] == p.metric) & (rows["evaluation"] != "train")]
        if p.families is not None:
            rows = rows[rows["evaluation"].isin(p.families)]
        if rows.empty or p.axis not in rows.columns:
            return None
        import matplotlib.pyplot as plt

        group_by = [g for g in default_group_by(run, p.group_by, rows.columns) if g != p.axis]
        # One value per cell: the mean over its families; then mean ± std over replicates.
        per_cell = rows.groupby(["cell", p.axis, *group_by], sort=False)["value"].mean().reset_index()
        per_cell = per_cell.assign(group=group_column(per_cell, group_by), x=per_cell[p.axis].astype(float), gap=1.0 - per_cell["value"])
        fig, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
        for group, part in per_cell.groupby("group", sort=False):
            stats = part.groupby("x")["gap"].agg(["mean", "std"]).fillna(0.0)
            ax.errorbar(stats.index, stats["mean"], yerr=stats["std"], marker="o", capsize=3, label=str(group))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(p.axis.split(".")[-1] + " (generated training windows)" if p.axis.endswith("budget") else p.axis)
        ax.set_ylabel(f"1 − ⟨C⟩ ({p.metric})")
        families = sorted(set(rows["evaluation"]))
        ax.set_title(f"mean over {', '.join(families)}; mean ± std over replicates", fontsize="small")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
        return fig
