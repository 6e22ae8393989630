"""Study files: YAML → validated study → one frozen :class:`~workbench.schema.CellPlan` per cell.

Validation runs before anything is computed and reports every problem at once, each with
file:line:column, the offending key or value, and what is allowed instead (registered names,
parameter names with types and defaults). It is also the only place that turns a study into
plans: the grid is expanded as pure data (:mod:`workbench.grid`), each cell is validated, its
components' parameters are completed by their defaults, and the result is frozen. Runs,
``resolved.yaml``, ``workbench show`` and workers all use those plans.

A study file may also be a *plans file* — a run's ``resolved.yaml``, with a ``plans:`` list
instead of sections and a grid. It is validated the same way, cell by cell, and runs the same
cells with the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import compose, yaml_source
from . import grid as grid_module
from .cache import canonical_json
from .components import KIND_BY_NAME, PLURALS, Component
from .describe import describe_field, describe_params, field_names
from .errors import Location, Problem, StudyError
from .grid import REPLICATE, Axis
from .registry import Registry, UnknownComponentError, close_matches, get_registry
from .schema import (
    CELL_FIELDS,
    PLAN_SECTIONS,
    SECTION_KINDS,
    CellPlan,
    ReportSpec,
    Study,
    plan_content,
    plan_id,
)
from .specs import ComponentSpec, ExecutorSpec, nested_specs

DEFAULT_MAX_CELLS = 10_000
"""Grids larger than this are refused unless ``--max-cells`` raises the limit."""

PAIRED_SECTIONS = ("model", "representation", "curriculum", "metrics", "track_epochs")
"""Axes over these are left out of the default ``seed_axes``: cells that differ only in the
compared component share their data draws and initial seeds (paired comparisons)."""

PLANS_KEY = "plans"


class PlansFile(BaseModel):
    """A plans file (a run's ``resolved.yaml``): the study-level fields and one plan per cell."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="study", description="study name")
    description: str = Field(default="", description="what the study is for")
    axes: list[str] = Field(default_factory=list, description="grid axes (columns of the results table), replicate last")
    study_dir: str | None = Field(default=None, description="folder that relative paths in the plans start from (the original "
                                                            "study file's; default: this file's folder)")
    report: ReportSpec = Field(default_factory=ReportSpec)
    execution: ExecutorSpec | None = None
    plans: list[dict[str, Any]] = Field(min_length=1, description="one fully resolved plan per cell")


@dataclass
class LoadedStudy:
    """A validated study: its study-level settings and one plan per cell."""

    path: Path
    text: str
    name: str
    description: str
    report: ReportSpec
    execution: ExecutorSpec | None
    axes: list[str]
    """Grid axis names, replicate last (the results table's axis columns)."""
    plans: list[CellPlan]
    study: Study | None = None
    """The study as written (``None`` for a plans file)."""
    grid_axes: list[Axis] = field(default_factory=list)
    base_dir: Path | None = None
    """Where relative paths in the plans start (default: the study file's folder)."""
    overrides: list[str] = field(default_factory=list)
    """Command-line overrides and ``--grid`` axes applied to the file."""
    bases: list[Path] = field(default_factory=list)
    """Files the study ``extends``."""

    @property
    def study_dir(self) -> Path:
        return (self.base_dir or self.path.resolve().parent).resolve()

    @property
    def axis_names(self) -> list[str]:
        """Grid axis names, replicate excluded."""
        return [a for a in self.axes if a != REPLICATE]

    @property
    def group_by(self) -> list[str]:
        return self.report.group_by if self.report.group_by is not None else self.axis_names

    def axis_sizes(self) -> list[tuple[str, int]]:
        sizes: dict[str, set[str]] = {a: set() for a in self.axes}
        for plan in self.plans:
            for axis, label in plan.coordinates.items():
                sizes.setdefault(axis, set()).add(label)
        return [(a, len(sizes[a])) for a in self.axes]

    def resolved(self) -> dict[str, Any]:
        """The plans file of this study: what ``resolved.yaml`` holds, valid input for
        ``workbench validate`` and ``workbench run``."""
        out: dict[str, Any] = {"name": self.name, "description": self.description, "axes": list(self.axes),
                               "study_dir": str(self.study_dir)}
        report = self.report.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        if self.report.figures:
            report["figures"] = [spec.to_yaml_data() for spec in self.report.figures]
        if report:
            out["report"] = report
        if self.execution is not None:
            out["execution"] = self.execution.to_yaml_data()
        out[PLANS_KEY] = [plan_content(plan) for plan in self.plans]
        return out


# -- entry points -------------------------------------------------------------------------


def load_study(path: Path | str, registry: Registry | None = None, *, max_cells: int = DEFAULT_MAX_CELLS,
               overrides: Sequence[str] = (), grid: Sequence[str] = ()) -> LoadedStudy:
    """Read, compose (``extends``, command-line ``overrides`` and ``grid`` axes), validate and
    expand a study file; raise :class:`StudyError` listing every problem."""
    path = Path(path)
    registry = registry or get_registry()
    text, data, source = compose.read_study_file(path)
    return parse_study(text, path, registry, max_cells=max_cells, overrides=overrides, grid=grid, parsed=(data, source))


def parse_study(text: str, path: Path, registry: Registry, *, max_cells: int = DEFAULT_MAX_CELLS, overrides: Sequence[str] = (),
                grid: Sequence[str] = (), parsed: tuple[Any, yaml_source.SourceMap] | None = None) -> LoadedStudy:
    data, source = parsed if parsed is not None else yaml_source.load(text, path)
    if not isinstance(data, dict):
        raise StudyError([Problem("a study file is a mapping of keys (dataset:, model:, metrics:, ...)", Location(path, 1), "See README.md, 'Writing a study'.")])
    if PLANS_KEY in data:
        if overrides or grid:
            raise StudyError([Problem("overrides and --grid apply to study files, not to a plans file (resolved.yaml)", Location(path),
                                      "Apply them to the study file the plans came from.")])
        return _Validator(path, source, registry).plans_file(dict(data), text)
    data, source, bases = compose.with_bases(data, source, path)
    if overrides or grid:
        data = compose.apply_overrides(data, source, list(overrides), list(grid))
    data = dict(data)
    data.setdefault("name", path.stem)
    _refuse_shadowed_overrides(data, overrides)
    loaded = _Validator(path, source, registry).study_file(data, text, max_cells)
    loaded.overrides = [*overrides, *(f"--grid {g}" for g in grid)]
    loaded.bases = bases
    return loaded


# -- validation ---------------------------------------------------------------------------


class _Validator:
    def __init__(self, file: Path, source: yaml_source.SourceMap, registry: Registry):
        self.file = file
        self.source = source
        self.registry = registry
        self.problems: list[Problem] = []
        self._seen: set[tuple[str, str]] = set()
        self._resolved: dict[tuple[str, str, str], tuple[ComponentSpec, Component] | None] = {}
        self._checked: dict[tuple[Any, ...], str | None] = {}

    # problems -------------------------------------------------------------------------
    def add(self, message: str, location: Location | None, hint: str | None = None) -> None:
        key = (message, str(location))
        if key not in self._seen:
            self._seen.add(key)
            self.problems.append(Problem(message, location, hint))

    def raise_if_any(self) -> None:
        if self.problems:
            def order(p: Problem) -> tuple[int, int]:
                loc = p.location
                return (loc.line or 0, loc.column or 0) if loc is not None else (0, 0)

            raise StudyError(sorted(self.problems, key=order))

    def at_value(self, origin: grid_module.CellData | None, path: tuple[Any, ...]) -> Location:
        return self.source.value(origin.origin(tuple(path)) if origin is not None else tuple(path))

    def at_key(self, origin: grid_module.CellData | None, path: tuple[Any, ...]) -> Location:
        return self.source.key(origin.origin(tuple(path)) if origin is not None else tuple(path))

    def pydantic_errors(self, error: ValidationError, origin: grid_module.CellData | None, prefix: tuple[Any, ...],
                        model: type[BaseModel], what: str) -> None:
        for item in error.errors():
            loc = tuple(x for x in item["loc"] if x != "function-before")
            full = prefix + loc
            kind = item["type"]
            if kind == "extra_forbidden":
                bad = loc[-1]
                container = _model_at(model, loc[:-1])
                allowed = field_names(container) if container is not None else []
                guess = close_matches(str(bad), allowed)
                msg = f"{what}: unknown key {bad!r}" if container is not model or what == "study" else f"{what} has no parameter {bad!r}"
                if guess:
                    msg += f"; did you mean {guess[0]!r}?"
                hint = _allowed_hint(container) if container is not None else None
                self.add(msg, self.at_key(origin, full), hint)
            elif kind == "missing":
                container = _model_at(model, loc[:-1])
                self.add(f"{what}: {_dotted(loc)!s} is required but missing", self.at_value(origin, full[:-1]),
                         _allowed_hint(container) if container is not None else None)
            else:
                got = item.get("input")
                container = _model_at(model, loc[:-1])
                hint = _field_hint(container, loc[-1]) if container is not None and loc else None
                shown = repr(got)
                if len(shown) > 80:
                    shown = shown[:77] + "..."
                self.add(f"{what}: {_dotted(loc) or 'value'}: {item['msg']} (got {shown})", self.at_value(origin, full), hint)

    def model(self, model: type[BaseModel], data: dict[str, Any], origin: grid_module.CellData | None, prefix: tuple[Any, ...] = (),
              what: str = "study") -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            self.pydantic_errors(error, origin, prefix, model, what)
            return None

    # a study file ----------------------------------------------------------------------
    def study_file(self, data: dict[str, Any], text: str, max_cells: int) -> LoadedStudy:
        study = self.model(Study, data, None)
        if study is not None:
            # The study as written is checked component by component first, so a typo is
            # reported once, at its own line, even when the grid is broken too. Cross-checks
            # (targets, tasks, leakage) need a complete cell and run per cell below.
            self.cell_components(study, None)
            for i, spec in enumerate(study.report.figures):
                self.resolve("figure", spec, ("report", "figures", i), None)
            if study.execution is not None:
                self.resolve("executor", study.execution, ("execution",), None)
        axes = self.grid_axes(study)
        self.raise_if_any()
        total = grid_module.count_cells(axes)
        if total > max_cells:
            self.add(f"the grid makes {total:,} cells, more than the limit of {max_cells:,}",
                     self.source.key(("grid",)) if study.grid else self.source.value(("repeats",)),
                     "Shrink the grid or repeats, or raise the limit with --max-cells N if you mean it.")
            self.raise_if_any()
        seed_axes = study.seed_axes if study.seed_axes is not None else default_seed_axes(axes)
        base = {k: v for k, v in data.items() if k in CELL_FIELDS}
        plans: list[CellPlan] = []
        for cell, seed in grid_module.expand(base, axes, study.seed, seed_axes):
            plan = self.cell_plan(cell.data, cell, seed, cell.coordinates)
            if plan is not None:
                plans.append(plan)
        self.duplicate_plans(plans)
        self.raise_if_any()
        return LoadedStudy(self.file, text, study.name, study.description, study.report, study.execution,
                           [a.name for a in axes], plans, study, axes)

    def grid_axes(self, study: Study | None) -> list[Axis]:
        if study is None:
            return []
        component_sections = tuple(SECTION_KINDS)
        axes = grid_module.parse_axes(study.grid, study.repeats, CELL_FIELDS, component_sections,
                                      self.source.key, self.source.value, self.add)
        names = [a.name for a in axes]
        for i, name in enumerate(study.seed_axes or []):
            if name not in names:
                self.add(f"seed_axes: {name!r} is not a grid axis", self.source.value(("seed_axes", i)), f"Grid axes: {', '.join(names)}")
        self.report_axes(study.report, names)
        return axes

    def report_axes(self, report: ReportSpec, names: list[str]) -> None:
        for i, name in enumerate(report.group_by or []):
            if name not in names:
                self.add(f"report.group_by: {name!r} is not a grid axis", self.source.value(("report", "group_by", i)), f"Grid axes: {', '.join(names)}")
        if report.compare is not None and report.compare not in names:
            self.add(f"report.compare: {report.compare!r} is not a grid axis", self.source.value(("report", "compare")), f"Grid axes: {', '.join(names)}")

    # a plans file -----------------------------------------------------------------------
    def plans_file(self, data: dict[str, Any], text: str) -> LoadedStudy:
        header = self.model(PlansFile, data, None)
        if header is None:
            self.raise_if_any()
        for i, spec in enumerate(header.report.figures):
            self.resolve("figure", spec, ("report", "figures", i), None)
        if header.execution is not None:
            self.resolve("executor", header.execution, ("execution",), None)
        self.report_axes(header.report, header.axes)
        plans: list[CellPlan] = []
        for i, raw in enumerate(header.plans):
            cell = grid_module.CellData(i, {}, {}, raw, {(): (PLANS_KEY, i)})
            plan = self.model(CellPlan, raw, cell, what=f"plans[{i}]")
            if plan is None:
                continue
            data_only = {k: v for k, v in raw.items() if k in CELL_FIELDS}
            rebuilt = self.cell_plan(data_only, cell, plan.seed, plan.coordinates)
            if rebuilt is None:
                continue
            if plan.id and plan.id != rebuilt.id:
                self.add(f"plans[{i}]: id {plan.id!r} does not match the plan's content (digest {rebuilt.id!r}); "
                         "the plan was edited after it was written", self.at_value(cell, ("id",)),
                         "Delete the id line to run the edited plan as a new cell, or restore the plan.")
                continue
            unknown = sorted(set(plan.coordinates) - set(header.axes))
            if unknown:
                self.add(f"plans[{i}]: coordinates name axes {unknown} that are not listed in axes:", self.at_value(cell, ("coordinates",)))
            plans.append(rebuilt)
        self.duplicate_plans(plans)
        self.raise_if_any()
        axes = header.axes or list(dict.fromkeys(a for p in plans for a in p.coordinates))
        base = Path(header.study_dir) if header.study_dir and Path(header.study_dir).is_dir() else None
        return LoadedStudy(self.file, text, header.name, header.description, header.report, header.execution, axes, plans, base_dir=base)

    def duplicate_plans(self, plans: list[CellPlan]) -> None:
        seen: dict[str, CellPlan] = {}
        for plan in plans:
            if plan.id in seen:
                self.add(f"two cells have identical plans ({_coordinates(seen[plan.id])} and {_coordinates(plan)}); "
                         "they would compute the same numbers", Location(self.file),
                         "Remove the repeated grid value, or label it differently.")
            seen[plan.id] = plan

    # one cell ---------------------------------------------------------------------------
    def cell_plan(self, data: dict[str, Any], cell: grid_module.CellData | None, seed: int, coordinates: dict[str, str]) -> CellPlan | None:
        """Validate one cell's data and freeze it into a plan (``None`` after reporting problems)."""
        cell_study = self.model(Study, {k: v for k, v in data.items() if k in CELL_FIELDS}, cell)
        if cell_study is None:
            return None
        resolved = self.cell_components(cell_study, cell)
        if resolved is None:
            return None
        target = self.cross_check(cell_study, resolved, cell)
        if target is None:
            return None
        content: dict[str, Any] = {"seed": seed, "coordinates": coordinates}
        for section in PLAN_SECTIONS:
            value = resolved.get(section)
            if isinstance(value, list):
                content[section] = [spec.to_yaml_data() | {"with": spec.with_} for spec, _ in value]
            elif value is not None:
                content[section] = value[0].to_yaml_data() | {"with": value[0].with_}
        for name in CELL_FIELDS:
            if name not in PLAN_SECTIONS:
                content[name] = getattr(cell_study, name)
        content["target"] = target
        plan = CellPlan.model_validate(content)
        return plan.model_copy(update={"id": plan_id(plan)})

    def cell_components(self, study: Study, cell: grid_module.CellData | None) -> dict[str, Any] | None:
        """Every plan section's component resolved, or ``None`` if any is invalid."""
        resolved: dict[str, Any] = {}
        ok = True
        for section in PLAN_SECTIONS:
            kind = SECTION_KINDS[section].name
            value = getattr(study, section)
            if value is None:
                continue
            if isinstance(value, list):
                items = [self.resolve(kind, spec, (section, i), cell) for i, spec in enumerate(value)]
                ok = ok and all(item is not None for item in items)
                resolved[section] = items
            else:
                item = self.resolve(kind, value, (section,), cell)
                ok = ok and item is not None
                resolved[section] = item
        return resolved if ok else None

    def resolve(self, kind: str, spec: ComponentSpec, where: tuple[Any, ...], cell: grid_module.CellData | None) -> tuple[ComponentSpec, Component] | None:
        """``spec`` with its parameters completed (nested components too), and an instance."""
        key = (kind, canonical_json(spec.model_dump(mode="json", by_alias=True)), str(self.at_value(cell, where)))
        if key not in self._resolved:
            self._resolved[key] = self._resolve(kind, spec, where, cell)
        return self._resolved[key]

    def _resolve(self, kind: str, spec: ComponentSpec, where: tuple[Any, ...], cell: grid_module.CellData | None) -> tuple[ComponentSpec, Component] | None:
        try:
            entry = self.registry.entry(kind, spec.use)
        except UnknownComponentError as error:
            at = where + ("use",) if _has_use_key(self.source, cell.origin(where) if cell else where) else where
            self.add(str(error), self.at_value(cell, at), "Run `workbench plugins` to list what is installed.")
            return None
        cls = entry.cls
        try:
            params = cls.Params.model_validate(spec.with_)
        except ValidationError as error:
            self.pydantic_errors(error, cell, where + ("with",), cls.Params, f"{kind} {spec.use!r}")
            return None
        data = params.model_dump(mode="json", by_alias=True)
        ok = True
        for sub_path, sub_spec in nested_specs(params):
            sub = self.resolve(sub_spec.kind or kind, sub_spec, where + ("with",) + sub_path, cell)
            if sub is None:
                ok = False
                continue
            _set_nested(data, sub_path, _spec_data(sub[0]))
        if not ok:
            return None
        try:
            component = cls(params)
        except Exception as error:  # a component refusing its parameters is a user error
            self.add(f"{kind} {spec.use!r} refused its parameters: {error}", self.at_value(cell, where))
            return None
        return spec.model_copy(update={"with_": data}), component

    def cross_check(self, study: Study, resolved: dict[str, Any], cell: grid_module.CellData | None) -> str | None:
        """Check that the cell's components fit together; return its target (``None`` if not)."""
        locations = "|".join(str(self.at_value(cell, (s,))) for s in (*PLAN_SECTIONS, "target"))
        # resolve() memoises its (spec, component) pairs for the validator's lifetime, so their
        # identities name the resolved components exactly, without serialising them again.
        key = (tuple(None if resolved.get(s) is None else tuple(map(id, resolved[s])) if isinstance(resolved[s], list)
                     else id(resolved[s]) for s in PLAN_SECTIONS), study.target, locations)
        if key not in self._checked:
            self._checked[key] = self._cross_check(study, resolved, cell)
        return self._checked[key]

    def _cross_check(self, study: Study, resolved: dict[str, Any], cell: grid_module.CellData | None) -> str | None:
        built: dict[str, Component] = {s: v[1] for s, v in resolved.items() if v is not None and not isinstance(v, list)}
        dataset, model = built["dataset"], built["model"]
        ok = True
        try:
            targets = dataset.describe_targets()
        except Exception as error:
            self.add(f"dataset {study.dataset.use!r} cannot describe its targets: {error}", self.at_value(cell, ("dataset",)))
            return None
        listing = ", ".join(f"{n} ({t.task})" for n, t in targets.items()) or "(none)"
        target = study.target if study.target is not None else next(iter(targets), None)
        if target is None or target not in targets:
            guess = close_matches(str(target), targets)
            self.add(
                f"target {target!r} is not provided by dataset {study.dataset.use!r}" + (f"; did you mean {guess[0]!r}?" if guess else ""),
                self.at_value(cell, ("target",)), f"Its targets: {listing}",
            )
            return None
        task = targets[target].task
        if task not in model.tasks:
            ok = False
            self.add(f"model {study.model.use!r} cannot fit target {target!r}, a {task!r} target",
                     self.at_value(cell, ("model",)), f"It fits: {', '.join(sorted(model.tasks)) or '(nothing declared)'}")
        for needed in sorted(model.required_targets()):
            if needed not in targets:
                ok = False
                self.add(f"model {study.model.use!r} trains on target {needed!r}, which dataset {study.dataset.use!r} does not provide",
                         self.at_value(cell, ("model",)), f"Its targets: {listing}")
        curriculum = built.get("curriculum")
        if curriculum is not None and curriculum.interface not in model.curricula:
            ok = False
            understood = ", ".join(sorted(model.curricula)) or "none"
            self.add(f"model {study.model.use!r} does not understand curriculum {study.curriculum.use!r} (interface {curriculum.interface!r})",
                     self.at_value(cell, ("curriculum",)), f"Curriculum interfaces it understands: {understood}")
        for section, component in built.items():
            for needed in component.requires:
                if needed not in built:
                    ok = False
                    needed_kind = SECTION_KINDS.get(needed)
                    names = ", ".join(self.registry.names(needed_kind.name)) if needed_kind is not None else ""
                    self.add(f"{component.kind} {component.name!r} needs a {needed}: add `{needed}: {{use: NAME}}` to the study",
                             self.at_value(cell, (section,)), f"Registered {PLURALS[needed_kind.name]}: {names}" if names else None)
        scored: set[str] = {target}
        for i, (spec, metric) in enumerate(resolved.get("metrics") or []):
            metric_target = spec.target or target
            scored.add(metric_target)
            if metric_target not in targets:
                ok = False
                self.add(f"metric {spec.use!r} scores target {metric_target!r}, which dataset {study.dataset.use!r} does not provide",
                         self.at_value(cell, ("metrics", i)), f"Its targets: {listing}")
                continue
            metric_task = targets[metric_target].task
            if metric_task not in metric.tasks:
                ok = False
                self.add(f"metric {spec.use!r} does not apply to target {metric_target!r}, a {metric_task!r} target",
                         self.at_value(cell, ("metrics", i)), f"It applies to: {', '.join(sorted(metric.tasks))}")
        representation = built.get("representation")
        if representation is not None:
            leaked = sorted(representation.seen_labels() & scored)
            if leaked:
                ok = False
                self.add(
                    f"representation {study.representation.display()!r} was built from label(s) {', '.join(map(repr, leaked))}, "
                    f"so it cannot be used to predict them: the label would leak into the inputs",
                    self.at_value(cell, ("representation",)),
                    "Build the representation from another label, or predict another target.",
                )
        return target if ok else None


def _refuse_shadowed_overrides(data: dict[str, Any], overrides: Sequence[str]) -> None:
    """An override under a path a grid axis sets in every cell would change nothing: refused."""
    grid = data.get("grid") if isinstance(data.get("grid"), dict) else {}
    axes = [name for name in grid if isinstance(name, str) and name != grid_module.ZIP]
    for group in grid.get(grid_module.ZIP) or [] if isinstance(grid.get(grid_module.ZIP), list) else []:
        axes += [name for name in group if isinstance(name, str)] if isinstance(group, dict) else []
    problems = []
    for text in overrides:
        key = text.partition("=")[0].strip()
        for axis in axes:
            if key == axis or key.startswith(axis + "."):
                problems.append(Problem(f"this changes nothing: the grid axis {axis!r} sets {axis} in every cell",
                                        Location(Path(f"override {text!r}")),
                                        f"Change the axis' values instead, e.g. --grid {axis}=..., or override grid.{axis}."))
    if problems:
        raise StudyError(problems)


def default_seed_axes(axes: list[Axis]) -> list[str]:
    """Every axis but those varying only a compared component (see :data:`PAIRED_SECTIONS`)."""
    return [a.name for a in axes if not a.path or a.path[0] not in PAIRED_SECTIONS]


# -- helpers ------------------------------------------------------------------------------


def _coordinates(plan: CellPlan) -> str:
    return ", ".join(f"{k}={v}" for k, v in plan.coordinates.items()) or plan.id


def _spec_data(spec: ComponentSpec) -> dict[str, Any]:
    return spec.to_yaml_data() | {"with": spec.with_}


def _set_nested(data: Any, path: tuple[Any, ...], value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _has_use_key(source: yaml_source.SourceMap, path: tuple[Any, ...]) -> bool:
    return path + ("use",) in source.values


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class found by following ``loc`` through ``model``'s fields."""
    import typing

    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        fields = {f.alias or n: f for n, f in current.model_fields.items()}
        fields.update(current.model_fields)
        if part not in fields:
            return None
        current = _first_model(fields[part].annotation, typing)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _first_model(annotation: Any, typing: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _first_model(arg, typing)
        if found is not None:
            return found
    return None


def _allowed_hint(model: type[BaseModel] | None) -> str | None:
    if model is None:
        return None
    lines = describe_params(model)
    return "Allowed:\n  " + "\n  ".join(lines) if lines else "It takes no parameters."


def _field_hint(model: type[BaseModel], name: Any) -> str | None:
    fields = {f.alias or n: (n, f) for n, f in model.model_fields.items()}
    if name not in fields:
        return None
    return describe_field(*fields[name])


def _dotted(loc: Iterable[Any]) -> str:
    return ".".join(str(x) for x in loc)


__all__ = ["DEFAULT_MAX_CELLS", "KIND_BY_NAME", "LoadedStudy", "PlansFile", "REPLICATE", "default_seed_axes", "load_study", "parse_study"]
