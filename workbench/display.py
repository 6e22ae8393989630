"""A study's plans summarised for people: each section once when every cell shares it, and
per grid value when the grid changes it (what ``workbench show`` prints)."""

from __future__ import annotations

from typing import Any

from .cache import canonical_json
from .schema import CELL_FIELDS, plan_content
from .study import LoadedStudy


def study_overview(loaded: LoadedStudy) -> dict[str, Any]:
    """Study-level fields, then every cell-level field resolved: one value if all cells agree,
    else a mapping from the grid coordinates that set it to the value they give."""
    out: dict[str, Any] = {"name": loaded.name, "description": loaded.description}
    contents = [plan_content(plan) for plan in loaded.plans]
    axes_of: dict[str, list[str]] = {}
    for axis in loaded.grid_axes:
        if axis.path:
            axes_of.setdefault(axis.path[0], []).append(axis.name)
    for name in CELL_FIELDS:
        values = [content.get(name) for content in contents]
        distinct = {canonical_json(v): v for v in values}
        if len(distinct) <= 1:
            if values and values[0] is not None:
                out[name] = values[0]
            continue
        axes = axes_of.get(name) or [a for a in loaded.axes if a != "replicate"]
        varying: dict[str, Any] = {}
        for plan, value in zip(loaded.plans, values):
            key = ", ".join(f"{a}={plan.coordinates.get(a, '')}" for a in axes)
            varying.setdefault(key, value)
        out[name] = {"(varies with the grid)": varying}
    out["report"] = loaded.report.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if loaded.execution is not None:
        out["execution"] = loaded.execution.to_yaml_data()
    return out
