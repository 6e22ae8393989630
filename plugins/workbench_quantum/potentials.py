"""Potential landscapes V(x) on the solver's grid, as a study or scenario file writes them.

One shape: ``{kind, height, width, center}`` — ``rectangular``, ``triangular`` (a pyramid of base
``width``), ``circular`` (a semicircle of diameter ``width`` scaled to ``height``) or ``gaussian``
(full width at half maximum ``width``), centred at ``center`` (default: the middle of the box).
``height`` may be negative: an attractive well. Beyond shapes:

* ``{kind: array, values: [...]}`` — V at every grid point;
* ``{kind: expression, expression: "8*exp(-(x-50)**2/4) - 2*heaviside(x-70, 1)"}`` — a formula in
  x (a.u.), evaluated safely (:mod:`.expressions`: a whitelist, never ``eval``);
* ``{kind: sum, terms: [...]}`` — the sum of several potentials of any of these forms; a bare
  list of potentials means the same.

``kind`` may be left out when ``terms``, ``expression`` or ``values`` says which one is meant.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

import workbench
from workbench import ComponentError

from .expressions import ExpressionError, evaluate, parse

PotentialKind = Literal["none", "rectangular", "triangular", "circular", "gaussian", "array", "expression", "sum"]
SHAPES = ("rectangular", "triangular", "circular", "gaussian")
# The field that defines each non-shape kind, so that `kind` can be left out.
DEFINING_FIELD = {"sum": "terms", "expression": "expression", "array": "values"}
MAX_TERMS = 64


class Potential(workbench.Params):
    """One potential landscape."""

    kind: PotentialKind = Field(default="none", description="none | rectangular | triangular (pyramid) | circular (semicircle) | "
                                "gaussian | array (values) | expression (a formula in x) | sum (terms)")
    height: float = Field(default=0.0, description="shape height Hb (a.u.): the peak of triangular/circular/gaussian; negative for a well")
    width: float = Field(default=7.0, gt=0.0, description="shape width Wb (a.u.): full width of rectangular, base of triangular/circular, "
                         "full width at half maximum of gaussian")
    center: float | None = Field(default=None, description="shape centre (a.u.); default: the middle of the box")
    values: list[float] | None = Field(default=None, description="kind=array: V at every grid point (length Nx)")
    expression: str | None = Field(default=None, description="kind=expression: V as a formula in x (a.u.) with numbers, pi, + - * / **, "
                                   "comparisons and exp log sqrt abs sin cos tan sinh cosh tanh heaviside where minimum maximum")
    terms: list[Potential] | None = Field(default=None, max_length=MAX_TERMS, description="kind=sum: the potentials to add up")

    @model_validator(mode="before")
    @classmethod
    def _infer_kind(cls, data: Any) -> Any:
        if isinstance(data, list):  # a bare list of potentials is their sum
            return {"kind": "sum", "terms": data}
        if isinstance(data, dict) and "kind" not in data:
            given = [kind for kind, name in DEFINING_FIELD.items() if data.get(name) is not None]
            if len(given) == 1:
                return {**data, "kind": given[0]}
        return data

    @model_validator(mode="after")
    def _check_fields(self) -> Potential:
        for kind, name in DEFINING_FIELD.items():
            if self.kind == kind and getattr(self, name) is None:
                raise ValueError(f"potential kind {kind!r} needs `{name}`")
            if self.kind != kind and getattr(self, name) is not None:
                raise ValueError(f"`{name}` is only used with kind {kind!r} (this potential has kind {self.kind!r})")
        if self.kind == "expression":
            try:
                parse(self.expression)
            except ExpressionError as error:
                raise ValueError(str(error)) from None
        return self


def potential_on_grid(potential: Potential, x: np.ndarray, lx: float) -> np.ndarray:
    """V(x) at the grid points ``x`` (float64, shape ``x.shape``)."""
    centre = lx / 2 if potential.center is None else potential.center
    offset = x - centre
    half = potential.width / 2
    kind = potential.kind
    if kind == "none":
        return np.zeros_like(x)
    if kind == "rectangular":
        return np.where(np.abs(offset) <= half, potential.height, 0.0)
    if kind == "triangular":
        return potential.height * np.clip(1.0 - np.abs(offset) / half, 0.0, None)
    if kind == "circular":
        return potential.height * np.sqrt(np.clip(1.0 - (offset / half) ** 2, 0.0, None))
    if kind == "gaussian":
        return potential.height * np.exp(-4.0 * np.log(2.0) * (offset / potential.width) ** 2)
    if kind == "array":
        if len(potential.values) != len(x):
            raise ComponentError(f"potential kind 'array' needs `values` with one number per grid point ({len(x)}); got {len(potential.values)}")
        return np.asarray(potential.values, dtype=np.float64)
    if kind == "expression":
        try:
            return evaluate(potential.expression, x)
        except ExpressionError as error:
            raise ComponentError(str(error)) from None
    if kind == "sum":
        return sum((potential_on_grid(term, x, lx) for term in potential.terms), np.zeros_like(x))
    raise ComponentError(f"unknown potential kind {kind!r}")  # pragma: no cover (Literal guards it)

