"""Thesis Fig. 2.3: per representation, the linear model's score as a bar and the random
forest's gain (or loss) over it stacked on top, one panel per target."""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import Field

import workbench
from workbench import Figure

if TYPE_CHECKING:  # pragma: no cover
    from workbench.run_view import RunView


def gain_table(results: pd.DataFrame, metric: str, evaluation: str, representation_axis: str, model_axis: str,
               linear: str, forest: str, panel_axis: str | None, order: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Mean and std over the pooled cells of ``metric`` per (panel, representation, model), with
    the forest-minus-linear gain; within a panel, representations in the order of ``order``
    ((panel, representation) pairs in the grid's order), else in the order they first appear."""
    final = results["step_name"].fillna("") == ""  # final values (no step), however the table was read
    rows = results[(results["metric"] == metric) & (results["evaluation"] == evaluation) & final]
    if panel_axis:
        # A zipped axis whose combinations repeat gets labels "health_hazard#0", "#1", ...
        # from the kernel; the panel is the value either way.
        rows = rows.assign(**{panel_axis: rows[panel_axis].astype(str).str.replace(r"#\d+$", "", regex=True)})
    keys = ([panel_axis] if panel_axis else []) + [representation_axis]
    stats = rows.groupby(keys + [model_axis], sort=False)["value"].agg(["mean", "std", "count"]).reset_index()
    wide = stats.pivot_table(index=keys, columns=model_axis, values=["mean", "std", "count"], sort=False)
    out = pd.DataFrame(index=wide.index)
    for model, name in ((linear, "linear"), (forest, "forest")):
        if ("mean", model) not in wide.columns:
            return pd.DataFrame()
        out[f"{name}_mean"] = wide[("mean", model)]
        out[f"{name}_std"] = wide[("std", model)].fillna(0.0)
        out[f"{name}_n"] = wide[("count", model)]
    out["forest_gain"] = out["forest_mean"] - out["linear_mean"]
    out = out.reset_index()
    if order:
        rank = {pair: i for i, pair in enumerate(order)}
        panels = {v: i for i, v in enumerate(dict.fromkeys([panel for panel, _ in order] + list(out[panel_axis].astype(str) if panel_axis else [])))}
        pairs = list(zip(out[panel_axis].astype(str) if panel_axis else [""] * len(out), out[representation_axis].astype(str)))
        out = out.assign(_panel=[panels.get(panel, len(panels)) for panel, _ in pairs], _rank=[rank.get(pair, len(rank)) for pair in pairs])
        out = out.sort_values(["_panel", "_rank"], kind="stable").drop(columns=["_panel", "_rank"]).reset_index(drop=True)
    return out


class RepresentationGain(Figure):
    name = "representation-gain"
    summary = "Thesis Fig. 2.3: linear score per representation with the random forest's gain stacked on top, one panel per target."

    class Params(workbench.Params):
        metric: str = Field(default="roc-auc", description="metric label in the results table")
        evaluation: str = Field(default="test", description="evaluation set")
        representation_axis: str = Field(default="representation", description="grid axis holding the representations")
        model_axis: str = Field(default="model", description="grid axis holding the models")
        linear: str = Field(default="linear", description="label of the linear model on the model axis")
        forest: str = Field(default="forest", description="label of the random forest on the model axis")
        panel_axis: str | None = Field(default="target", description="grid axis giving one panel per value (null: one panel)")
        title: str | None = Field(default=None, description="figure title (default: derived)")
        higher_is_better: bool | None = Field(default=None, description="direction of the metric (null: the registered metric's, by name)")

    def _higher_is_better(self) -> bool:
        if self.params.higher_is_better is not None:
            return self.params.higher_is_better
        from workbench.registry import UnknownComponentError, get_registry

        try:
            return bool(get_registry().entry("metric", self.params.metric).cls.higher_is_better)
        except UnknownComponentError:
            return True

    def draw(self, run: RunView):
        p = self.params
        results = run.results
        needed = {p.representation_axis, p.model_axis} | ({p.panel_axis} if p.panel_axis else set())
        if results.empty or not needed <= set(results.columns):
            return None
        # Bars in the order the study lists the representations (the manifest keeps grid order).
        coordinates = [c.get("coordinates", {}) for c in run.manifest.get("cells", [])]
        order = [(re.sub(r"#\d+$", "", str(c.get(p.panel_axis))) if p.panel_axis else "", str(c.get(p.representation_axis))) for c in coordinates]
        table = gain_table(results, p.metric, p.evaluation, p.representation_axis, p.model_axis, p.linear, p.forest, p.panel_axis,
                           list(dict.fromkeys(order)))
        if table.empty:
            return None
        higher = self._higher_is_better()
        panels = list(dict.fromkeys(table[p.panel_axis])) if p.panel_axis else [None]
        cols = min(3, len(panels))
        rows_n = int(np.ceil(len(panels) / cols))
        from matplotlib.figure import Figure as MplFigure  # no pyplot: no global state, no backend switch

        fig = MplFigure(figsize=(max(6.5, 4.6 * cols), 0.6 + 3.8 * rows_n))
        axes = fig.subplots(rows_n, cols, squeeze=False)
        for ax, panel in zip(axes.flat, panels):
            part = table if panel is None else table[table[p.panel_axis] == panel]
            x = np.arange(len(part))
            lin, gain = part["linear_mean"].to_numpy(), part["forest_gain"].to_numpy()
            ax.bar(x, lin, yerr=part["linear_std"], capsize=2, color="tab:blue", label="linear")
            # The forest's change is a narrower orange segment from the linear value to the
            # forest's, so a decrease does not hide the blue bar's top; hatched where worse.
            worse = (gain < 0) if higher else (gain > 0)
            ax.bar(x, gain, bottom=lin, width=0.5, yerr=part["forest_std"], capsize=2, color="tab:orange",
                   edgecolor="k", linewidth=0.5, label="random forest − linear")
            for xi, g, l, w in zip(x, gain, lin, worse):
                if w and g != 0:
                    ax.bar(xi, g, bottom=l, width=0.5, color="none", edgecolor="k", hatch="//", linewidth=0)
            low = min(float(np.nanmin(np.minimum(lin, lin + gain))), 0.5 if p.metric == "roc-auc" else np.inf)
            high = float(np.nanmax(np.maximum(lin, lin + gain)))
            ax.set_ylim(low - 0.05 * abs(high - low), high + 0.1 * abs(high - low))
            ax.set_xticks(x, list(part[p.representation_axis]), rotation=35, ha="right", fontsize="small")
            ax.set_ylabel(p.metric)
            ax.set_title(str(panel) if panel is not None else p.metric)
            ax.grid(axis="y", alpha=0.3)
        for ax in list(axes.flat)[len(panels):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize="small", loc="best", framealpha=0.9)
        counts = set(table["linear_n"]) | set(table["forest_n"])
        pooled = f"the {int(next(iter(counts)))} cells of each bar" if len(counts) == 1 else "the cells of each bar"
        default = (f"{p.metric} ({p.evaluation}): blue bar = linear model; orange segment = change to the random forest (its far end "
                   f"is the forest's value; {'higher' if higher else 'lower'} is better; hatched = forest worse); mean ± std over {pooled}")
        # Wrapped to the figure's width (about 16 characters per inch at this font size).
        fig.suptitle(textwrap.fill(p.title or default, width=int(16 * fig.get_figwidth())), fontsize="small")
        fig.tight_layout()
        return fig
