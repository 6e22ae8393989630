"""Reading YAML while remembering where every key and value was written, so that an error
about ``model.with.hidden`` can point at the line and column the user typed it on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Location, Problem, StudyError

Path_ = tuple[Any, ...]


@dataclass
class SourceMap:
    """Locations of keys and values in one YAML document, by path (keys and list indices)."""

    file: Path | None
    keys: dict[Path_, Location] = field(default_factory=dict)
    values: dict[Path_, Location] = field(default_factory=dict)

    def _nearest(self, table: dict[Path_, Location], path: Path_) -> Location:
        for end in range(len(path), -1, -1):
            found = table.get(tuple(path[:end]))
            if found is not None:
                return found
        return Location(self.file)

    def value(self, path: Path_) -> Location:
        """Where the value at ``path`` (or its nearest written ancestor) is."""
        return self._nearest(self.values, tuple(path))

    def key(self, path: Path_) -> Location:
        """Where the key of ``path`` is; falls back to the nearest written ancestor's value."""
        path = tuple(path)
        if path in self.keys:
            return self.keys[path]
        return self._nearest(self.values, path)


def _location(file: Path | None, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(file)
    return Location(file, mark.line + 1, mark.column + 1)


def load(text: str, file: Path | None = None) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain Python data and its :class:`SourceMap`.

    Syntax errors and duplicate keys become a :class:`StudyError` with the location."""
    source = SourceMap(file)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        problems: list[Problem] = []
        data = _construct(loader, node, (), source, problems) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = f"YAML syntax error: {error.problem or error.context}"
        if error.context and error.problem:
            message += f" ({error.context})"
        raise StudyError([Problem(message, _location(file, mark), "Check indentation, colons and quotes on this line and the one before.")]) from None
    except yaml.YAMLError as error:
        raise StudyError([Problem(f"YAML error: {error}", Location(file))]) from None
    finally:
        loader.dispose()
    if problems:
        raise StudyError(problems)
    return data, source


def _construct(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, source: SourceMap, problems: list[Problem]) -> Any:
    source.values[path] = _location(source.file, node.start_mark)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, list):
                key = tuple(key)
            child = path + (key,)
            if key in result:
                problems.append(Problem(f"key {key!r} is given twice", _location(source.file, key_node.start_mark), "Keep one of them."))
            source.keys[child] = _location(source.file, key_node.start_mark)
            result[key] = _construct(loader, value_node, child, source, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path + (i,), source, problems) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
