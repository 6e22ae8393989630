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


MAX_NODES = 100_000
"""Values a study may expand to (aliases counted every time they are used)."""
MAX_DEPTH = 64
"""Nesting depth of mappings and lists a study may have."""
MAX_BYTES = 2_000_000


def decode(raw: bytes, file: Path | None = None) -> str:
    """A study file's text; a file that is not UTF-8 is refused with where the first bad byte is."""
    if len(raw) > MAX_BYTES:
        raise StudyError([Problem(f"the study file is {len(raw):,} bytes; study files are at most {MAX_BYTES:,} bytes", Location(file),
                                  "Is this the right file? Studies are short YAML files.")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise StudyError([Problem(f"the study file is not UTF-8 text (byte 0x{raw[error.start]:02x} cannot be decoded)",
                                  Location(file, line, column), "Save the file as UTF-8.")]) from None


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


def load(text: str, file: Path | None = None) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain Python data and its :class:`SourceMap`.

    Syntax errors, duplicate keys, tags and inputs too large or too deep become a
    :class:`StudyError` with the location; time and memory stay bounded for any input."""
    source = SourceMap(file)
    loader = yaml.SafeLoader(text)
    problems: list[Problem] = []
    try:
        node = loader.get_single_node()
        data = _construct(loader, node, (), source, problems, _Budget()) if node is not None else None
    except _TooBig as error:
        raise StudyError([Problem(str(error), error.location, "Study files are small; remove the repeated aliases or the deep nesting.")]) from None
    except RecursionError:
        raise StudyError([Problem(f"the study is nested too deeply (more than {MAX_DEPTH} levels)", Location(file))]) from None
    except yaml.constructor.ConstructorError as error:
        raise StudyError([Problem(f"unsupported YAML: {error.problem}", _location(file, error.problem_mark),
                                  "Study files are plain YAML: mappings, lists, strings, numbers, booleans, null; no tags such as !!python/...")]) from None
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


PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap"})


def _own_key_seen(pairs: list, key: Any, loader: yaml.SafeLoader) -> bool:
    """Whether ``key`` was already written by the mapping itself (not brought in by a merge)."""
    return any(isinstance(k, yaml.ScalarNode) and loader.construct_object(k, deep=True) == key for k, _ in pairs)


class _TooBig(Exception):
    def __init__(self, message: str, location: Location):
        super().__init__(message)
        self.location = location


def _construct(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, source: SourceMap, problems: list[Problem], budget: _Budget) -> Any:
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise _TooBig(f"the study expands to more than {MAX_NODES:,} values (YAML aliases repeat what they point to)",
                      _location(source.file, node.start_mark))
    if len(path) > MAX_DEPTH:
        raise _TooBig(f"the study is nested more than {MAX_DEPTH} levels deep", _location(source.file, node.start_mark))
    source.values[path] = _location(source.file, node.start_mark)
    if not isinstance(node, yaml.ScalarNode) and node.tag not in PLAIN_TAGS:
        raise yaml.constructor.ConstructorError(None, None, f"the tag {node.tag!r} is not allowed", node.start_mark)
    if isinstance(node, yaml.MappingNode):
        own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)
        merged = len(node.value) - own  # pairs brought in by `<<: *anchor` come first; the mapping's own keys override them
        result: dict[Any, Any] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem("a key must be a plain name, not a list or mapping", _location(source.file, key_node.start_mark)))
                continue
            key = loader.construct_object(key_node, deep=True)
            child = path + (key,)
            if key in result and index >= merged and _own_key_seen(node.value[merged:index], key, loader):
                problems.append(Problem(f"key {key!r} is given twice", _location(source.file, key_node.start_mark), "Keep one of them."))
            source.keys[child] = _location(source.file, key_node.start_mark)
            result[key] = _construct(loader, value_node, child, source, problems, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path + (i,), source, problems, budget) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
