"""Study files: YAML → validated :class:`Study` → grid of :class:`Cell`\\ s.

Validation runs before anything is computed and reports every problem at once, each with
file:line:column, the offending key or value, and what is allowed instead (registered names,
parameter names with types and defaults).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import yaml_source
from .cache import canonical_json, digest
from .components import PLURALS, Component
from .context import derive_seed
from .describe import describe_params, field_names
from .errors import Location, Problem, StudyError
from .registry import Registry, UnknownComponentError, close_matches, get_registry
from .specs import (
    ComponentSpec,
    CurriculumSpec,
    DatasetSpec,
    FigureSpec,
    MetricSpec,
    ModelSpec,
    RepresentationSpec,
    SimulatorSpec,
    nested_specs,
)

REPLICATE = "replicate"
ZIP = "zip"


class ReportSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_by: list[str] | None = Field(default=None, description="grid axes the summary table groups by (default: all but replicate)")
    figures: list[FigureSpec] = Field(default_factory=list, description="figures to draw after the run")


class Study(BaseModel):
    """One study file, as written (before the grid is applied)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="study", description="study name; runs go to runs/<name>/ (default: the file name)")
    description: str = Field(default="", description="what the study is for")
    seed: int = Field(default=0, description="study seed; each cell's seed is derived from it and the cell's grid coordinates")
    repeats: int = Field(default=1, ge=1, description="independent replicates of every cell (grid axis 'replicate')")
    dataset: DatasetSpec
    target: str | None = Field(default=None, description="target to predict (default: the dataset's first target)")
    train_size: int | None = Field(default=None, ge=1, description="draw this many training samples with the cell's seed; validation and test shrink in proportion")
    representation: RepresentationSpec | None = None
    model: ModelSpec
    curriculum: CurriculumSpec | None = None
    simulator: SimulatorSpec | None = None
    metrics: list[MetricSpec] = Field(min_length=1, description="metrics scored on every evaluation set")
    track_epochs: bool = Field(default=False, description="also score the metrics after every training epoch")
    grid: dict[str, Any] = Field(default_factory=dict, description="dotted paths to lists of values; cells are their product")
    seed_axes: list[str] | None = Field(default=None, description="grid axes that determine each cell's seed (default: all)")
    report: ReportSpec = Field(default_factory=ReportSpec)


SECTION_SPECS: dict[str, str] = {
    "dataset": "dataset",
    "representation": "representation",
    "model": "model",
    "curriculum": "curriculum",
    "simulator": "simulator",
}
"""Study sections that hold one component, and the kind of that component."""

COMPUTED_KEYS = ("dataset", "target", "train_size", "representation", "model", "curriculum", "simulator", "metrics", "track_epochs")
"""Resolved study keys that determine a cell's numbers (with its seed)."""


@dataclass
class Axis:
    name: str
    path: tuple[str, ...]
    values: list[Any]
    value_paths: list[tuple[Any, ...]]
    group: int
    labels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Cell:
    """One point of the grid: a complete study with every axis set, and its seed."""

    index: int
    id: str
    coordinates: dict[str, str]
    seed: int
    study: Study
    components: dict[str, Component] = field(compare=False, repr=False, hash=False)

    @property
    def replicate(self) -> int:
        return int(self.coordinates.get(REPLICATE, 0))

    @property
    def config_hash(self) -> str:
        return self.id.rsplit("-", 1)[-1]


@dataclass
class LoadedStudy:
    path: Path
    text: str
    study: Study
    axes: list[Axis]
    cells: list[Cell]

    @property
    def name(self) -> str:
        return self.study.name

    @property
    def axis_names(self) -> list[str]:
        """Grid axis names, replicate excluded."""
        return [a.name for a in self.axes if a.name != REPLICATE]

    @property
    def group_by(self) -> list[str]:
        return self.study.report.group_by if self.study.report.group_by is not None else self.axis_names

    def resolved(self) -> dict[str, Any]:
        """The study as run: every component's parameters with their defaults filled in."""
        return resolved_dict(self.study, self.cells[0].components if self.cells else {})


# -- entry points -------------------------------------------------------------------------


def load_study(path: Path | str, registry: Registry | None = None) -> LoadedStudy:
    """Read, validate and expand a study file; raise :class:`StudyError` listing every problem."""
    path = Path(path)
    registry = registry or get_registry()
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StudyError([Problem(f"study file {path} does not exist", None, "Check the path; studies live in studies/.")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise StudyError([Problem(f"cannot read study file {path}: {error}")]) from None
    return parse_study(text, path, registry)


def parse_study(text: str, path: Path, registry: Registry) -> LoadedStudy:
    data, source = yaml_source.load(text, path)
    if not isinstance(data, dict):
        raise StudyError([Problem("a study file is a mapping of keys (dataset:, model:, metrics:, ...)", Location(path, 1), "See README.md, 'Writing a study'.")])
    data = dict(data)
    data.setdefault("name", path.stem)
    validator = _Validator(path, source, registry)
    study = validator.study_model(data, identity_origin)
    if study is not None:
        # The study as written is checked component by component first, so a typo is reported
        # once, at its own line, even when the grid is broken too. Cross-checks (targets,
        # tasks, leakage) need a complete cell and run per cell below.
        validator.components(study.model_copy(update={"grid": {}}), identity_origin, cross_check=False)
    axes = validator.grid_axes(data, study)
    validator.raise_if_any()
    cells = validator.cells(data, study, axes)
    validator.raise_if_any()
    return LoadedStudy(path, text, study, axes, cells)


# -- validation ---------------------------------------------------------------------------

Origin = Callable[[tuple[Any, ...]], tuple[Any, ...]]


def identity_origin(path: tuple[Any, ...]) -> tuple[Any, ...]:
    return path


class _Validator:
    def __init__(self, file: Path, source: yaml_source.SourceMap, registry: Registry):
        self.file = file
        self.source = source
        self.registry = registry
        self.problems: list[Problem] = []
        self._seen: set[tuple[str, str]] = set()

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

    def at_value(self, origin: Origin, path: tuple[Any, ...]) -> Location:
        return self.source.value(origin(tuple(path)))

    def at_key(self, origin: Origin, path: tuple[Any, ...]) -> Location:
        return self.source.key(origin(tuple(path)))

    def pydantic_errors(self, error: ValidationError, origin: Origin, prefix: tuple[Any, ...], model: type[BaseModel], what: str) -> None:
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
                self.add(f"{what}: {_dotted(loc)!s} is required but missing", self.at_value(origin, full[:-1]), _allowed_hint(container) if container is not None else None)
            else:
                got = item.get("input")
                container = _model_at(model, loc[:-1])
                hint = _field_hint(container, loc[-1]) if container is not None and loc else None
                self.add(f"{what}: {_dotted(loc) or 'value'}: {item['msg']} (got {got!r})", self.at_value(origin, full), hint)

    # the study model ---------------------------------------------------------------------
    def study_model(self, data: dict[str, Any], origin: Origin) -> Study | None:
        try:
            return Study.model_validate(data)
        except ValidationError as error:
            self.pydantic_errors(error, origin, (), Study, "study")
            return None

    # grid ------------------------------------------------------------------------------
    def grid_axes(self, data: dict[str, Any], study: Study | None) -> list[Axis]:
        if study is None:
            return []
        axes: list[Axis] = []
        group = 0
        for key, values in study.grid.items():
            if key == ZIP:
                groups = values if isinstance(values, list) else [values]
                for g_index, zipped in enumerate(groups):
                    base = ("grid", ZIP, g_index) if isinstance(values, list) else ("grid", ZIP)
                    if not isinstance(zipped, dict) or not zipped:
                        self.add("grid.zip: each entry is a mapping of axes to equal-length lists", self.source.value(base))
                        continue
                    lengths = set()
                    for name, vals in zipped.items():
                        axis = self._axis(name, vals, base + (name,), group)
                        if axis is not None:
                            axes.append(axis)
                            lengths.add(len(axis.values))
                    if len(lengths) > 1:
                        self.add(f"grid.zip: zipped axes must have equal lengths, got {sorted(lengths)}", self.source.value(base))
                    group += 1
                continue
            axis = self._axis(key, values, ("grid", key), group)
            if axis is not None:
                axes.append(axis)
                group += 1
        names = [a.name for a in axes]
        for dup in {n for n in names if names.count(n) > 1}:
            self.add(f"grid axis {dup!r} is given twice", self.source.key(("grid", dup)))
        axes.append(Axis(REPLICATE, (), list(range(study.repeats)), [("repeats",)] * study.repeats, group))
        by_group: dict[int, list[Axis]] = {}
        for axis in axes:
            axis.labels = [_value_label(v) for v in axis.values]
            by_group.setdefault(axis.group, []).append(axis)
        for members in by_group.values():
            # A value may repeat along a zipped axis as long as the zipped combination does not.
            combinations = list(zip(*(a.labels for a in members)))
            if len(set(combinations)) < len(combinations):
                for axis in members:
                    axis.labels = _disambiguated(axis.labels)
        all_names = [a.name for a in axes]
        for i, name in enumerate(study.seed_axes or []):
            if name not in all_names:
                self.add(f"seed_axes: {name!r} is not a grid axis", self.source.value(("seed_axes", i)), f"Grid axes: {', '.join(all_names)}")
        for i, name in enumerate(study.report.group_by or []):
            if name not in all_names:
                self.add(f"report.group_by: {name!r} is not a grid axis", self.source.value(("report", "group_by", i)), f"Grid axes: {', '.join(all_names)}")
        return axes

    def _axis(self, name: Any, values: Any, where: tuple[Any, ...], group: int) -> Axis | None:
        if not isinstance(name, str) or not name:
            self.add(f"grid axis {name!r} must be a dotted path such as model.with.hidden", self.source.key(where))
            return None
        if name == REPLICATE:
            self.add("grid axis 'replicate' is reserved; set `repeats: N` instead", self.source.key(where))
            return None
        path = tuple(name.split("."))
        head = path[0]
        if head not in Study.model_fields or head in ("grid", "name", "description", "seed_axes", "repeats", "report"):
            allowed = [f for f in Study.model_fields if f not in ("grid", "name", "description", "seed_axes", "repeats", "report")]
            guess = close_matches(head, allowed)
            msg = f"grid axis {name!r}: {head!r} is not a study key that can vary"
            if guess:
                msg += f"; did you mean {guess[0]!r}?"
            self.add(msg, self.source.key(where), f"Axes start with one of: {', '.join(allowed)}")
            return None
        if head in SECTION_SPECS and len(path) > 1 and path[1] not in ("with", "use", "label"):
            self.add(
                f"grid axis {name!r}: a component's parameters live under 'with' (e.g. {head}.with.{path[1]})",
                self.source.key(where),
            )
            return None
        if not isinstance(values, list) or not values:
            self.add(f"grid axis {name!r} needs a non-empty list of values", self.source.value(where))
            return None
        return Axis(name, path, values, [where + (i,) for i in range(len(values))], group)

    # cells -----------------------------------------------------------------------------
    def cells(self, data: dict[str, Any], study: Study | None, axes: list[Axis]) -> list[Cell]:
        if study is None:
            return []
        base = {k: v for k, v in data.items() if k != "grid"}
        groups: dict[int, list[Axis]] = {}
        for axis in axes:
            groups.setdefault(axis.group, []).append(axis)
        ranges = [range(len(g[0].values)) for g in groups.values()]
        seed_axes = study.seed_axes if study.seed_axes is not None else [a.name for a in axes]
        cells: list[Cell] = []
        for index, combo in enumerate(itertools.product(*ranges)):
            cell_data = copy.deepcopy(base)
            substituted: dict[tuple[Any, ...], tuple[Any, ...]] = {}
            coordinates: dict[str, str] = {}
            raw_values: dict[str, Any] = {}
            for axis_group, choice in zip(groups.values(), combo):
                for axis in axis_group:
                    value = axis.values[choice]
                    coordinates[axis.name] = axis.labels[choice]
                    raw_values[axis.name] = value
                    if axis.path:
                        _set_path(cell_data, axis.path, copy.deepcopy(value))
                        substituted[axis.path] = axis.value_paths[choice]

            def origin(path: tuple[Any, ...], _subs: dict = substituted) -> tuple[Any, ...]:
                for end in range(len(path), 0, -1):
                    if path[:end] in _subs:
                        return _subs[path[:end]] + path[end:]
                return path

            cell_study = self.study_model(cell_data, origin)
            if cell_study is None:
                continue
            components = self.components(cell_study, origin)
            if components is None:
                continue
            seed = derive_seed(study.seed, *[f"{a}={canonical_json(raw_values[a])}" for a in sorted(seed_axes)])
            resolved = resolved_dict(cell_study, components)
            # Only what changes a cell's numbers goes into its id, so a resumed run keeps finished
            # cells when the study gains axes values, repeats, figures or a new name.
            computed = {k: resolved.get(k) for k in COMPUTED_KEYS}
            cell_id = f"c{index:04d}-{digest({'cell': computed, 'seed': seed}, 10)}"
            cells.append(Cell(index, cell_id, coordinates, seed, cell_study, components))
        return cells

    def components(self, study: Study, origin: Origin, cross_check: bool = True) -> dict[str, Component] | None:
        before = len(self.problems)
        built: dict[str, Component] = {}
        for section, kind in SECTION_SPECS.items():
            spec = getattr(study, section)
            if spec is not None:
                component = self.component(kind, spec, (section,), origin)
                if component is not None:
                    built[section] = component
        for i, spec in enumerate(study.metrics):
            component = self.component("metric", spec, ("metrics", i), origin)
            if component is not None:
                built[f"metric:{i}"] = component
        for i, spec in enumerate(study.report.figures):
            component = self.component("figure", spec, ("report", "figures", i), origin)
            if component is not None:
                built[f"figure:{i}"] = component
        if len(self.problems) > before:
            return None
        if cross_check:
            self.cross_check(study, built, origin)
        return None if len(self.problems) > before else built

    def component(self, kind: str, spec: ComponentSpec, where: tuple[Any, ...], origin: Origin) -> Component | None:
        try:
            entry = self.registry.entry(kind, spec.use)
        except UnknownComponentError as error:
            self.add(str(error), self.at_value(origin, where + ("use",)) if _has_use_key(self.source, origin(where)) else self.at_value(origin, where),
                     "Run `workbench plugins` to list what is installed.")
            return None
        cls = entry.cls
        try:
            params = cls.Params.model_validate(spec.with_)
        except ValidationError as error:
            self.pydantic_errors(error, origin, where + ("with",), cls.Params, f"{kind} {spec.use!r}")
            return None
        ok = True
        for sub_path, sub_spec in nested_specs(params):
            sub_kind = sub_spec.kind or kind
            if self.component(sub_kind, sub_spec, where + ("with",) + sub_path, origin) is None:
                ok = False
        if not ok:
            return None
        try:
            return cls(params)
        except Exception as error:  # a component refusing its parameters is a user error
            self.add(f"{kind} {spec.use!r} refused its parameters: {error}", self.at_value(origin, where))
            return None

    def cross_check(self, study: Study, built: dict[str, Component], origin: Origin) -> None:
        dataset = built["dataset"]
        model = built["model"]
        try:
            targets = dataset.describe_targets()
        except Exception as error:
            self.add(f"dataset {study.dataset.use!r} cannot describe its targets: {error}", self.at_value(origin, ("dataset",)))
            return
        listing = ", ".join(f"{n} ({t.task})" for n, t in targets.items()) or "(none)"
        target = study.target if study.target is not None else next(iter(targets), None)
        if target is None or target not in targets:
            guess = close_matches(str(target), targets)
            self.add(
                f"target {target!r} is not provided by dataset {study.dataset.use!r}" + (f"; did you mean {guess[0]!r}?" if guess else ""),
                self.at_value(origin, ("target",)), f"Its targets: {listing}",
            )
            return
        task = targets[target].task
        if task not in model.tasks:
            self.add(
                f"model {study.model.use!r} cannot fit target {target!r}, a {task!r} target",
                self.at_value(origin, ("model",)), f"It fits: {', '.join(sorted(model.tasks)) or '(nothing declared)'}",
            )
        for needed in sorted(model.required_targets()):
            if needed not in targets:
                self.add(f"model {study.model.use!r} trains on target {needed!r}, which dataset {study.dataset.use!r} does not provide",
                         self.at_value(origin, ("model",)), f"Its targets: {listing}")
        curriculum = built.get("curriculum")
        if curriculum is not None and curriculum.interface not in model.curricula:
            understood = ", ".join(sorted(model.curricula)) or "none"
            self.add(
                f"model {study.model.use!r} does not understand curriculum {study.curriculum.use!r} (interface {curriculum.interface!r})",
                self.at_value(origin, ("curriculum",)), f"Curriculum interfaces it understands: {understood}",
            )
        for section, component in built.items():
            for needed in component.requires:
                if needed not in built:
                    names = ", ".join(self.registry.names(SECTION_SPECS.get(needed, needed))) if needed in SECTION_SPECS else ""
                    self.add(
                        f"{component.kind} {component.name!r} needs a {needed}: add `{needed}: {{use: NAME}}` to the study",
                        self.at_value(origin, (section.split(':')[0],)),
                        f"Registered {PLURALS[needed]}: {names}" if names else None,
                    )
        scored: set[str] = {target}
        for i, spec in enumerate(study.metrics):
            metric = built[f"metric:{i}"]
            metric_target = spec.target or target
            scored.add(metric_target)
            if metric_target not in targets:
                self.add(f"metric {spec.use!r} scores target {metric_target!r}, which dataset {study.dataset.use!r} does not provide",
                         self.at_value(origin, ("metrics", i)), f"Its targets: {listing}")
                continue
            metric_task = targets[metric_target].task
            if metric_task not in metric.tasks:
                self.add(f"metric {spec.use!r} does not apply to target {metric_target!r}, a {metric_task!r} target",
                         self.at_value(origin, ("metrics", i)), f"It applies to: {', '.join(sorted(metric.tasks))}")
        representation = built.get("representation")
        if representation is not None:
            leaked = sorted(representation.seen_labels() & scored)
            if leaked:
                self.add(
                    f"representation {study.representation.display()!r} was built from label(s) {', '.join(map(repr, leaked))}, "
                    f"so it cannot be used to predict them: the label would leak into the inputs",
                    self.at_value(origin, ("representation",)),
                    "Build the representation from another label, or predict another target.",
                )


# -- helpers ------------------------------------------------------------------------------


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
        annotation = fields[part].annotation
        current = _first_model(annotation, typing)
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
    from .describe import describe_field

    return describe_field(*fields[name])


def _dotted(loc: Iterable[Any]) -> str:
    return ".".join(str(x) for x in loc)


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = data
    for i, key in enumerate(path[:-1]):
        child = node.get(key) if isinstance(node, dict) else None
        if isinstance(child, str) and path[i + 1] in ("with", "use", "label"):
            child = {"use": child}  # a bare component name becomes a spec so it can take parameters
        if not isinstance(child, dict):
            child = {}
        child = dict(child)
        node[key] = child
        node = child
    node[path[-1]] = value


def _value_label(value: Any) -> str:
    """How a grid value appears in tables and figures: a component by its label or name, a list
    by its items' labels joined with '+', anything else as written."""
    if isinstance(value, dict) and "use" in value:
        try:
            return ComponentSpec.model_validate(value).display()
        except ValidationError:
            return str(value.get("label") or value.get("use"))
    if isinstance(value, list):
        return "+".join(_value_label(item) for item in value)
    return str(value)


def _disambiguated(labels: list[str]) -> list[str]:
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return [f"{label}#{i}" if counts[label] > 1 else label for i, label in enumerate(labels)]


def resolved_dict(study: Study, components: dict[str, Component]) -> dict[str, Any]:
    """``study`` as plain data with every component's parameters completed by their defaults."""

    def spec_data(spec: ComponentSpec, component: Component | None) -> dict[str, Any]:
        data = spec.to_yaml_data()
        if component is not None:
            data["with"] = component.params.model_dump(mode="json", by_alias=True)
        return data

    out: dict[str, Any] = {
        "name": study.name,
        "description": study.description,
        "seed": study.seed,
        "repeats": study.repeats,
    }
    for section in SECTION_SPECS:
        spec = getattr(study, section)
        if spec is not None:
            out[section] = spec_data(spec, components.get(section))
    out["target"] = study.target
    out["train_size"] = study.train_size
    out["metrics"] = [spec_data(s, components.get(f"metric:{i}")) for i, s in enumerate(study.metrics)]
    out["track_epochs"] = study.track_epochs
    if study.grid:
        out["grid"] = study.grid
    if study.seed_axes is not None:
        out["seed_axes"] = study.seed_axes
    out["report"] = {
        "group_by": study.report.group_by,
        "figures": [spec_data(s, components.get(f"figure:{i}")) for i, s in enumerate(study.report.figures)],
    }
    return out
