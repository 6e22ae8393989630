"""A study's grid as pure data: axes parsed from ``grid:``, counted, then expanded cell by cell.

Nothing here touches the registry or builds a component. Counting needs only the axes, so a
grid that would make too many cells is refused before a single cell is materialised.

``grid`` maps dotted paths (``model.with.max_depth``) to lists of values; the cells are the
product of the axes. ``grid: {zip: [{a: [...], b: [...]}]}`` makes axes vary together. The
``replicate`` axis (``repeats: N``) is always last.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .cache import canonical_json
from .context import derive_seed
from .errors import Location

REPLICATE = "replicate"
ZIP = "zip"

AddProblem = Callable[[str, Location, "str | None"], None]
Locate = Callable[[tuple[Any, ...]], Location]


@dataclass
class Axis:
    """One grid axis: the dotted ``path`` it sets and its values, with where each was written."""

    name: str
    path: tuple[str, ...]
    values: list[Any]
    value_paths: list[tuple[Any, ...]]
    group: int
    labels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CellData:
    """One expanded cell before validation: the study data with every axis set."""

    index: int
    coordinates: dict[str, str]
    values: dict[str, Any]
    data: dict[str, Any]
    substituted: dict[tuple[Any, ...], tuple[Any, ...]]
    """For each path an axis set, where its value was written in the study file."""

    def origin(self, path: tuple[Any, ...]) -> tuple[Any, ...]:
        """The place in the study file that ``path`` of this cell's data came from."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.substituted:
                return self.substituted[path[:end]] + path[end:]
        return path


def parse_axes(
    grid: dict[str, Any],
    repeats: int,
    variable: tuple[str, ...],
    component_sections: tuple[str, ...],
    locate_key: Locate,
    locate_value: Locate,
    add: AddProblem,
) -> list[Axis]:
    """The grid's axes (replicate last). ``variable`` lists the study keys an axis may start
    with; problems are reported through ``add(message, location, hint)``."""
    axes: list[Axis] = []
    group = 0
    for key, values in grid.items():
        if key == ZIP:
            groups = values if isinstance(values, list) else [values]
            for g_index, zipped in enumerate(groups):
                base = ("grid", ZIP, g_index) if isinstance(values, list) else ("grid", ZIP)
                if not isinstance(zipped, dict) or not zipped:
                    add("grid.zip: each entry is a mapping of axes to equal-length lists", locate_value(base), None)
                    continue
                lengths = set()
                for name, vals in zipped.items():
                    axis = _axis(name, vals, base + (name,), group, variable, component_sections, locate_key, locate_value, add)
                    if axis is not None:
                        axes.append(axis)
                        lengths.add(len(axis.values))
                if len(lengths) > 1:
                    add(f"grid.zip: zipped axes must have equal lengths, got {sorted(lengths)}", locate_value(base), None)
                group += 1
            continue
        axis = _axis(key, values, ("grid", key), group, variable, component_sections, locate_key, locate_value, add)
        if axis is not None:
            axes.append(axis)
            group += 1
    names = [a.name for a in axes]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        add(f"grid axis {dup!r} is given twice", locate_key(("grid", dup)), None)
    axes.append(Axis(REPLICATE, (), list(range(repeats)), [("repeats",)] * repeats, group))
    _label(axes)
    return axes


def _axis(name: Any, values: Any, where: tuple[Any, ...], group: int, variable: tuple[str, ...],
          component_sections: tuple[str, ...], locate_key: Locate, locate_value: Locate, add: AddProblem) -> Axis | None:
    from .registry import close_matches

    if not isinstance(name, str) or not name:
        add(f"grid axis {name!r} must be a dotted path such as model.with.hidden", locate_key(where), None)
        return None
    if name == REPLICATE:
        add("grid axis 'replicate' is reserved; set `repeats: N` instead", locate_key(where), None)
        return None
    path = tuple(name.split("."))
    head = path[0]
    if head not in variable:
        guess = close_matches(head, variable)
        message = f"grid axis {name!r}: {head!r} is not a study key that can vary"
        if guess:
            message += f"; did you mean {guess[0]!r}?"
        add(message, locate_key(where), f"Axes start with one of: {', '.join(variable)}")
        return None
    if head in component_sections and len(path) > 1 and path[1] not in ("with", "use", "label"):
        add(f"grid axis {name!r}: a component's parameters live under 'with' (e.g. {head}.with.{path[1]})", locate_key(where), None)
        return None
    if not isinstance(values, list) or not values:
        add(f"grid axis {name!r} needs a non-empty list of values", locate_value(where), None)
        return None
    return Axis(name, path, values, [where + (i,) for i in range(len(values))], group)


def _label(axes: list[Axis]) -> None:
    by_group: dict[int, list[Axis]] = {}
    for axis in axes:
        axis.labels = [value_label(v) for v in axis.values]
        by_group.setdefault(axis.group, []).append(axis)
    for members in by_group.values():
        # A value may repeat along a zipped axis as long as the zipped combination does not.
        combinations = list(zip(*(a.labels for a in members)))
        if len(set(combinations)) < len(combinations):
            for axis in members:
                axis.labels = _disambiguated(axis.labels)


def _groups(axes: list[Axis]) -> list[list[Axis]]:
    groups: dict[int, list[Axis]] = {}
    for axis in axes:
        groups.setdefault(axis.group, []).append(axis)
    return list(groups.values())


def count_cells(axes: list[Axis]) -> int:
    """How many cells the axes make (zipped axes count once), without making any."""
    return math.prod(len(group[0].values) for group in _groups(axes)) if axes else 1


def expand(base: dict[str, Any], axes: list[Axis], study_seed: int, seed_axes: list[str]) -> Iterator[tuple[CellData, int]]:
    """Every cell's data and seed, lazily, in grid order (the last axis varies fastest)."""
    groups = _groups(axes)
    for index, combo in enumerate(itertools.product(*(range(len(g[0].values)) for g in groups))):
        data = copy.deepcopy(base)
        substituted: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        coordinates: dict[str, str] = {}
        values: dict[str, Any] = {}
        for group, choice in zip(groups, combo):
            for axis in group:
                value = axis.values[choice]
                coordinates[axis.name] = axis.labels[choice]
                values[axis.name] = value
                if axis.path:
                    set_path(data, axis.path, copy.deepcopy(value))
                    substituted[axis.path] = axis.value_paths[choice]
        seed = derive_seed(study_seed, *[f"{a}={canonical_json(values[a])}" for a in sorted(seed_axes)])
        yield CellData(index, coordinates, values, data, substituted), seed


def set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set ``data[path[0]][path[1]]... = value``, making mappings on the way; a bare component
    name on the way becomes ``{use: NAME}`` so that it can take parameters."""
    node: Any = data
    for i, key in enumerate(path[:-1]):
        child = node.get(key) if isinstance(node, dict) else None
        if isinstance(child, str) and path[i + 1] in ("with", "use", "label"):
            child = {"use": child}
        if not isinstance(child, dict):
            child = {}
        child = dict(child)
        node[key] = child
        node = child
    node[path[-1]] = value


def value_label(value: Any) -> str:
    """How a grid value appears in tables and figures: a component by its label or name, a list
    by its items' labels joined with '+', anything else as written."""
    if isinstance(value, dict) and "use" in value:
        if value.get("label"):
            return str(value["label"])
        from .specs import ComponentSpec

        try:
            return ComponentSpec.model_validate(value).display()
        except Exception:
            return str(value.get("use"))
    if isinstance(value, list):
        return "+".join(value_label(item) for item in value)
    return str(value)


def _disambiguated(labels: list[str]) -> list[str]:
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return [f"{label}#{i}" if counts[label] > 1 else label for i, label in enumerate(labels)]
