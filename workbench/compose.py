"""Composing a study from files and the command line, Hydra's way.

* ``extends: base.yaml`` (or a list of files, applied in order) starts a study from other
  study files: mappings merge key by key, the study's own values win; a component section that
  names another component (``use``) replaces the base's instead of merging parameters into it.
* ``workbench run study.yaml model.with.n_estimators=200 repeats=3``: dotted paths set values
  (YAML-typed: ``3`` is a number, ``[a, b]`` a list, ``null`` nothing); ``metrics.0.with.k=5``
  indexes lists.
* ``--grid model.with.max_depth=2,4,8`` adds (or replaces) a grid axis for an ad-hoc sweep.

Every value keeps where it was written — its file and line, or the override that set it — so
validation errors point at the right place. YAML merge keys (``<<: *defaults``) work within a
file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import yaml_source
from .errors import Location, Problem, StudyError

EXTENDS = "extends"
MAX_EXTENDS_DEPTH = 8


def read_study_file(path: Path) -> tuple[str, Any, yaml_source.SourceMap]:
    """A study file's text, data and source map (clear errors for unreadable files)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StudyError([Problem(f"study file {path} does not exist", None, "Check the path; studies live in studies/.")]) from None
    except IsADirectoryError:
        raise StudyError([Problem(f"{path} is a directory, not a study file", None, "Give the path of a .yaml file.")]) from None
    except OSError as error:
        raise StudyError([Problem(f"cannot read study file {path}: {error.strerror or error}")]) from None
    text = yaml_source.decode(raw, path)
    data, source = yaml_source.load(text, path)
    return text, data, source


def with_bases(data: Any, source: yaml_source.SourceMap, path: Path, chain: tuple[Path, ...] = ()) -> tuple[Any, yaml_source.SourceMap, list[Path]]:
    """``data`` merged over the files it ``extends`` (recursively); also the files read."""
    if not isinstance(data, dict) or EXTENDS not in data:
        return data, source, []
    chain = chain + (path.resolve(),)
    if len(chain) > MAX_EXTENDS_DEPTH:
        raise StudyError([Problem(f"extends: more than {MAX_EXTENDS_DEPTH} files deep", source.value((EXTENDS,)))])
    bases = data[EXTENDS]
    entries = bases if isinstance(bases, list) else [bases]
    merged: dict[str, Any] = {}
    merged_source = yaml_source.SourceMap(path)
    read: list[Path] = []
    for index, entry in enumerate(entries):
        where = (EXTENDS, index) if isinstance(bases, list) else (EXTENDS,)
        if not isinstance(entry, str) or not entry.strip():
            raise StudyError([Problem("extends: give the path of a study file (or a list of paths)", source.value(where))])
        base_path = (path.parent / entry).resolve()
        if base_path in chain:
            raise StudyError([Problem(f"extends: {entry} is already being extended (a cycle: "
                                      f"{' → '.join(p.name for p in chain)} → {base_path.name})", source.value(where))])
        try:
            _, base_data, base_source = read_study_file(base_path)
        except StudyError as error:
            raise StudyError([Problem(f"extends: {entry}: {p.render()}", source.value(where)) for p in error.problems]) from None
        if not isinstance(base_data, dict):
            raise StudyError([Problem(f"extends: {entry} is not a study (a mapping of keys)", source.value(where))])
        base_data, base_source, base_read = with_bases(base_data, base_source, base_path, chain)
        read += [base_path, *base_read]
        merged = merge(merged, base_data, merged_source, base_source)
    merged.pop("name", None)  # a study is named by its own file (or its own name:), not its base's
    own = {k: v for k, v in data.items() if k != EXTENDS}
    merged = merge(merged, own, merged_source, source)
    return merged, merged_source, read


def merge(base: dict[str, Any], top: dict[str, Any], base_source: yaml_source.SourceMap, top_source: yaml_source.SourceMap,
          path: tuple[Any, ...] = ()) -> dict[str, Any]:
    """``top`` over ``base``: mappings merge, anything else is replaced. A mapping that names
    another component (``use``) than the base's replaces it. ``base_source`` becomes the merged
    source map (locations of ``top``'s values win)."""
    out = dict(base)
    if not path:
        _copy_locations(top_source, base_source, ())
    for key, value in top.items():
        here = path + (key,)
        current = out.get(key)
        if isinstance(current, str) and isinstance(value, dict) and "use" not in value:
            current = {"use": current}  # a bare component name extended with parameters
        if isinstance(current, dict) and isinstance(value, dict) and value.get("use", current.get("use")) == current.get("use"):
            out[key] = merge(current, value, base_source, top_source, here)
        else:
            out[key] = value
            _drop_locations(base_source, here)
            _copy_locations(top_source, base_source, here)
    return out


def _drop_locations(source: yaml_source.SourceMap, prefix: tuple[Any, ...]) -> None:
    for table in (source.keys, source.values):
        for path in [p for p in table if p[: len(prefix)] == prefix]:
            del table[path]


def _copy_locations(source: yaml_source.SourceMap, target: yaml_source.SourceMap, prefix: tuple[Any, ...]) -> None:
    for name in ("keys", "values"):
        for path, location in getattr(source, name).items():
            if path[: len(prefix)] == prefix:
                getattr(target, name)[path] = location


def apply_overrides(data: dict[str, Any], source: yaml_source.SourceMap, overrides: list[str], grid: list[str]) -> dict[str, Any]:
    """``data`` with ``key.path=value`` overrides and ``--grid`` axes applied (values YAML-typed)."""
    data = _deep_copy(data)
    for text in overrides:
        path, value = _parse(text, "override")
        location = Location(Path(f"override {text!r}"))
        _set(data, path, value, location, text)
        _drop_locations(source, path)
        _locate(source, path, value, location)
    for text in grid:
        path, value = _parse(text, "--grid")
        location = Location(Path(f"--grid {text!r}"))
        values = value if isinstance(value, list) else [value]
        grid_data = data.get("grid")
        if not isinstance(grid_data, dict):
            grid_data = {}
        grid_data = dict(grid_data)
        name = ".".join(str(p) for p in path)
        grid_data[name] = values
        data["grid"] = grid_data
        _locate(source, ("grid", name), values, location)
        source.keys[("grid", name)] = location
    return data


def _parse(text: str, what: str) -> tuple[tuple[Any, ...], Any]:
    key, sep, value_text = text.partition("=")
    location = Location(Path(f"{what} {text!r}"))
    if not sep or not key.strip():
        raise StudyError([Problem(f"{what} {text!r} is not KEY=VALUE", location, "Write e.g. model.with.n_estimators=200.")])
    parts = tuple(int(p) if p.isdigit() else p for p in key.strip().split("."))
    if any(p == "" for p in parts):
        raise StudyError([Problem(f"{what} {text!r}: the key has an empty part", location)])
    if what == "--grid" and not value_text.strip().startswith("["):
        value_text = f"[{value_text}]"  # 2,4,8 is a list of three values
    try:
        value, _ = yaml_source.load(value_text or "null", Path(f"{what} {text!r}"))
    except StudyError as error:
        raise StudyError([Problem(f"{what} {text!r}: the value is not valid YAML ({p.message})", location) for p in error.problems]) from None
    return parts, value


def _set(data: Any, path: tuple[Any, ...], value: Any, location: Location, text: str) -> None:
    node = data
    for i, part in enumerate(path[:-1]):
        following = path[i + 1]
        if isinstance(node, list):
            if not isinstance(part, int) or not 0 <= part < len(node):
                raise StudyError([Problem(f"override {text!r}: {'.'.join(map(str, path[:i]))} has no item {part}", location)])
            child = node[part]
        else:
            child = node.get(part) if isinstance(node, dict) else None
        if isinstance(child, str) and following in ("with", "use", "label"):
            child = {"use": child}  # a bare component name given parameters
        if not isinstance(child, (dict, list)):
            child = {}
        node[part] = child
        node = child
    last = path[-1]
    if isinstance(node, list) and not (isinstance(last, int) and 0 <= last < len(node)):
        raise StudyError([Problem(f"override {text!r}: the list has no item {last}", location)])
    node[last] = value


def _locate(source: yaml_source.SourceMap, path: tuple[Any, ...], value: Any, location: Location) -> None:
    source.values[path] = location
    source.keys[path] = location
    if isinstance(value, dict):
        for key, item in value.items():
            _locate(source, path + (key,), item, location)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _locate(source, path + (index,), item, location)


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
