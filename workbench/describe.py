"""Human-readable descriptions of parameter models, for errors, ``show`` and ``plugins``."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined


def type_name(annotation: Any) -> str:
    """A short readable name for a type annotation (``int``, ``one of 'a', 'b'``, ``list[str]``)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        parts = [type_name(a) for a in args if a is not type(None)]
        text = " or ".join(parts)
        return f"{text} or null" if type(None) in args else text
    if origin is not None:
        inner = ", ".join(type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]" if inner else getattr(origin, "__name__", str(origin))
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel) and hasattr(annotation, "kind") and getattr(annotation, "kind", None):
            return f"{annotation.kind} spec"
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def default_text(field: FieldInfo) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json", by_alias=True)
        return repr(value)
    if field.default_factory is not None:
        try:
            return repr(field.default_factory())  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    return "required"


def describe_field(name: str, field: FieldInfo) -> str:
    """``name: type = default — description``."""
    shown = field.alias or name
    text = f"{shown}: {type_name(field.annotation)}"
    default = default_text(field)
    text += " (required)" if default == "required" else f" = {default}"
    if field.description:
        text += f" — {field.description}"
    return text


def describe_params(model: type[BaseModel]) -> list[str]:
    return [describe_field(name, field) for name, field in model.model_fields.items()]


def field_names(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]
