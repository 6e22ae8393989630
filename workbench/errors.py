"""Errors that reach the user as a message, never as a traceback.

Everything a researcher can fix (a study file, a missing data file, a bad flag) raises a
subclass of :class:`WorkbenchError`. The CLI prints ``str(error)`` and exits non-zero; any
other exception is a bug and is logged with its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class WorkbenchError(Exception):
    """A problem the user can fix; its message names the problem and the fix."""


@dataclass(frozen=True)
class Location:
    """Where in a study file a problem sits (1-based line and column)."""

    file: Path | None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        name = str(self.file) if self.file is not None else "<study>"
        if self.line is None:
            return name
        if self.column is None:
            return f"{name}:{self.line}"
        return f"{name}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a study, with where it is and what is allowed instead."""

    message: str
    location: Location | None = None
    hint: str | None = None

    def render(self) -> str:
        where = f"{self.location}: " if self.location is not None else ""
        text = f"{where}{self.message}"
        if self.hint:
            text += "\n    " + self.hint.replace("\n", "\n    ")
        return text


class StudyError(WorkbenchError):
    """A study file that cannot run; carries every problem found, each with its location."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(p.render() for p in self.problems))


class DataNotFoundError(WorkbenchError):
    """A dataset file is missing; the message says which file, where it was looked for, and
    where to put it."""


class DataCorruptError(WorkbenchError):
    """A dataset file exists but fails its checksum or cannot be parsed."""


class ComponentError(WorkbenchError):
    """A component was used in a way its contract does not allow (for example a model asked
    to fit a task it does not support)."""
