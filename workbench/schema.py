"""The data models of a study file and of a cell plan, both derived from the kind table.

A :class:`Study` is what a user writes. Its fields are of two scopes:

* study-level (:class:`StudyLevel`): name, description, seed, repeats, grid, seed_axes,
  report, and the sections of kinds that are not part of a cell (``execution``);
* cell-level: everything else — the component sections of kinds marked ``in_plan`` in
  :data:`~workbench.components.KIND_TABLE` and the fields of :class:`CellLevel` (target,
  train_size, track_epochs). A field added here is part of every cell's plan, and therefore of
  its id, without any other list to update.

A :class:`CellPlan` is one cell, frozen and fully resolved: every cell-level field with the
grid applied and every component's parameters completed by their defaults (nested components
included), plus the cell's seed and grid coordinates. Validation makes the plans; the run
directory's ``resolved.yaml`` lists them; workers build a cell from its plan and nothing else.
Its id is a digest of its content.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from .cache import digest
from .components import KIND_TABLE, Kind
from .specs import FigureSpec, spec_class

MAX_REPEATS = 10_000
MAX_SEED = 2**63 - 1
MAX_TRAIN_SIZE = 10**12


class ReportSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_by: list[str] | None = Field(default=None, description="grid axes the summary table groups by (default: all but replicate)")
    compare: str | None = Field(default=None, description="grid axis whose values are compared pairwise: the summary adds paired "
                                                          "differences with 95% confidence intervals against its first value")
    figures: list[FigureSpec] = Field(default_factory=list, description="figures to draw after the run")


class StudyLevel(BaseModel):
    """Fields that describe the study as a whole; none of them is part of a cell's plan."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="study", description="study name; runs go to runs/<name>/ (default: the file name)")
    description: str = Field(default="", description="what the study is for")
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="study seed; each cell's seed is derived from it and the cell's grid coordinates")
    repeats: int = Field(default=1, ge=1, le=MAX_REPEATS, description="independent replicates of every cell (grid axis 'replicate')")
    grid: dict[str, Any] = Field(default_factory=dict, description="dotted paths to lists of values; cells are their product")
    seed_axes: list[str] | None = Field(
        default=None, description="grid axes that determine each cell's seed (default: replicate and the axes that change the data, "
                                  "so cells differing only in model, representation or curriculum share data draws and seeds)")
    report: ReportSpec = Field(default_factory=ReportSpec)


class CellLevel(BaseModel):
    """Fields that change a cell's numbers (besides its component sections)."""

    model_config = ConfigDict(extra="forbid")

    target: str | None = Field(default=None, description="target to predict (default: the dataset's first target)")
    train_size: int | None = Field(default=None, ge=1, le=MAX_TRAIN_SIZE,
                                   description="draw this many training samples with the cell's seed; validation and test sets stay whole")
    track_epochs: bool = Field(default=False, description="also score the metrics after every training epoch")


def _section_field(kind: Kind) -> tuple[Any, Any]:
    spec = spec_class(kind.name)
    if kind.cardinality == "one":
        return spec, Field(description=f"the {kind.name}: {kind.description}")
    if kind.cardinality == "optional":
        return spec | None, Field(default=None, description=f"optional {kind.name}: {kind.description}")
    return list[spec], Field(min_length=1, description=f"{kind.plural}: {kind.description}")


SECTION_KINDS: dict[str, Kind] = {kind.section: kind for kind in KIND_TABLE if kind.section is not None}
"""Study sections that hold components, and their kind."""
PLAN_SECTIONS: tuple[str, ...] = tuple(section for section, kind in SECTION_KINDS.items() if kind.in_plan)
STUDY_SECTIONS: tuple[str, ...] = tuple(section for section, kind in SECTION_KINDS.items() if not kind.in_plan)

Study = create_model(
    "Study",
    __base__=(StudyLevel, CellLevel),
    __doc__="One study file, as written (before the grid is applied).",
    **{section: _section_field(kind) for section, kind in SECTION_KINDS.items()},
)

STUDY_LEVEL_FIELDS: tuple[str, ...] = (*StudyLevel.model_fields, *STUDY_SECTIONS)
CELL_FIELDS: tuple[str, ...] = tuple(name for name in Study.model_fields if name not in STUDY_LEVEL_FIELDS)
"""Study fields that belong to each cell's plan: what a grid axis may vary."""


class PlanHeader(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default="", description="digest of the rest of the plan (computed when empty)")
    seed: int = Field(ge=0, le=MAX_SEED, description="the cell's seed")
    coordinates: dict[str, str] = Field(default_factory=dict, description="the cell's grid coordinates (axis → value label)")


CellPlan = create_model(
    "CellPlan",
    __base__=(PlanHeader, CellLevel),
    __config__=None,
    __doc__="One cell, frozen and fully resolved: what a worker builds the cell from.",
    **{section: _section_field(kind) for section, kind in SECTION_KINDS.items() if kind.in_plan},
)
CellPlan.model_config["frozen"] = True
CellPlan.model_rebuild(force=True)


def plan_content(plan: BaseModel) -> dict[str, Any]:
    """The plan as plain data, in a stable order: header, components, then the other fields."""
    data = plan.model_dump(mode="json", by_alias=True, exclude_none=False)
    ordered: dict[str, Any] = {"id": data.get("id", ""), "seed": data["seed"], "coordinates": data["coordinates"]}
    for section in PLAN_SECTIONS:
        value = data.get(section)
        if value is None:
            continue
        ordered[section] = [_compact(v) for v in value] if isinstance(value, list) else _compact(value)
    for name in CellLevel.model_fields:
        ordered[name] = data.get(name)
    return ordered


def _compact(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec's data without the optional keys left at their defaults (``label: null``...)."""
    return {k: v for k, v in spec.items() if v is not None or k in ("use", "with")}


def plan_id(plan: BaseModel) -> str:
    """The cell id: a digest of everything in the plan but the id itself."""
    content = plan_content(plan)
    content.pop("id", None)
    return digest(content, 12)
