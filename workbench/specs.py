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

from .components import KIND_TABLE, Component, Kind


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


class _ScoringSpec(ComponentSpec):
    """A metric, optionally scoring another target of a multi-head model (``target``) or only
    some evaluation sets (``on``)."""

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


_SPEC_BASES: dict[str, type[ComponentSpec]] = {"metric": _ScoringSpec}
"""Kinds whose specs carry more than ``use``/``with``/``label``."""


def _make_spec_class(kind: Kind) -> type[ComponentSpec]:
    base = _SPEC_BASES.get(kind.name, ComponentSpec)
    name = "".join(part.capitalize() for part in kind.name.split("-")) + "Spec"
    doc = base.__doc__ if base is not ComponentSpec else f"A {kind.name}: ``{{use: NAME, with: {{...}}, label: ...}}``."
    return type(name, (base,), {"kind": kind.name, "__module__": __name__, "__doc__": doc})


SPEC_CLASSES: dict[str, type[ComponentSpec]] = {kind.name: _make_spec_class(kind) for kind in KIND_TABLE}
"""The spec class of every kind, derived from :data:`workbench.components.KIND_TABLE`."""


def spec_class(kind: str) -> type[ComponentSpec]:
    return SPEC_CLASSES[kind]


# Names for typing parameters that hold other components, e.g. ``parts: list[RepresentationSpec]``.
DatasetSpec = spec_class("dataset")
RepresentationSpec = spec_class("representation")
ModelSpec = spec_class("model")
CurriculumSpec = spec_class("curriculum")
SimulatorSpec = spec_class("simulator")
MetricSpec = spec_class("metric")
FigureSpec = spec_class("figure")
ExecutorSpec = spec_class("executor")


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
