"""How a study (or a component's parameters) names a component: ``{use: NAME, with: {...}}``.

A parameter model may hold specs of other components (a representation that concatenates
representations); type such a field with the kind's spec class, e.g.
``parts: list[RepresentationSpec]``, and the kernel validates the nested specs, with file and
line, exactly like the study's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .components import Component


class ComponentSpec(BaseModel):
    """``use`` names a registered component; ``with`` holds its parameters; ``label`` is the
    name shown in tables and figures (default: ``use``, plus parameters where needed)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    kind: ClassVar[str | None] = None

    use: str = Field(description="registered name of the component")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with", description="the component's parameters")
    label: str | None = Field(default=None, description="name shown in tables and figures")

    @model_validator(mode="before")
    @classmethod
    def _accept_bare_name(cls, value: Any) -> Any:
        return {"use": value} if isinstance(value, str) else value

    def display(self) -> str:
        if self.label:
            return self.label
        if not self.with_:
            return self.use
        inner = ",".join(f"{k}={_short(v)}" for k, v in sorted(self.with_.items()))
        return f"{self.use}[{inner}]"

    def build(self) -> Component:
        """An instance of the named component (validated against the process registry)."""
        from .registry import get_registry

        if self.kind is None:
            raise TypeError("a plain ComponentSpec has no kind; use the kind's spec class")
        return get_registry().build(self.kind, self.use, self.with_)

    def to_yaml_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"use": self.use}
        if self.with_:
            data["with"] = dict(self.with_)
        if self.label:
            data["label"] = self.label
        return data


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return value.get("label") or value.get("use") or "{…}"
    if isinstance(value, list):
        return "[" + ",".join(_short(v) for v in value) + "]"
    return str(value)


class DatasetSpec(ComponentSpec):
    kind = "dataset"


class RepresentationSpec(ComponentSpec):
    kind = "representation"


class ModelSpec(ComponentSpec):
    kind = "model"


class CurriculumSpec(ComponentSpec):
    kind = "curriculum"


class SimulatorSpec(ComponentSpec):
    kind = "simulator"


class FigureSpec(ComponentSpec):
    kind = "figure"


class MetricSpec(ComponentSpec):
    """A metric, optionally scoring another target of a multi-head model (``target``) or only
    some evaluation sets (``on``)."""

    kind = "metric"
    target: str | None = Field(default=None, description="target whose predictions are scored (default: the study's)")
    on: list[str] | None = Field(default=None, description="evaluation sets to score (default: all)")

    def display(self) -> str:
        base = super().display()
        return base if self.label or self.target is None else f"{self.target}:{base}"

    def to_yaml_data(self) -> dict[str, Any]:
        data = super().to_yaml_data()
        if self.target is not None:
            data["target"] = self.target
        if self.on is not None:
            data["on"] = list(self.on)
        return data


def nested_specs(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], ComponentSpec]]:
    """Every component spec inside a parameter model (or list/dict), with its path."""
    if isinstance(value, ComponentSpec):
        yield path, value
        return
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from nested_specs(getattr(value, name), path + (name,))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from nested_specs(item, path + (i,))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from nested_specs(item, path + (key,))
