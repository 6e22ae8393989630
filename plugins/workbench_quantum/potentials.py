"""Potential landscapes V(x) on the solver's grid, selectable by name from a study.

Every barrier is centred at ``center`` (default: the middle of the box) with height ``height``
and full width ``width`` (atomic units). ``values`` gives an arbitrary user potential, one
value per grid point.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

import workbench
from workbench import ComponentError

PotentialKind = Literal["none", "rectangular", "triangular", "circular", "array"]


class Potential(workbench.Params):
    """One potential landscape."""

    kind: PotentialKind = Field(default="none", description="none | rectangular | triangular (pyramid) | circular (semicircle) | array")
    height: float = Field(default=0.0, ge=0.0, description="barrier height Hb (a.u.); the peak for triangular/circular")
    width: float = Field(default=7.0, gt=0.0, description="barrier full width Wb (a.u.); the base for triangular/circular")
    center: float | None = Field(default=None, description="barrier centre (a.u.); default: the middle of the box")
    values: list[float] | None = Field(default=None, description="kind=array: V at every grid point (length Nx)")


def potential_on_grid(potential: Potential, x: np.ndarray, lx: float) -> np.ndarray:
    """V(x) at the grid points ``x`` (float64, shape ``x.shape``)."""
    centre = lx / 2 if potential.center is None else potential.center
    offset = x - centre
    half = potential.width / 2
    if potential.kind == "none":
        return np.zeros_like(x)
    if potential.kind == "rectangular":
        return np.where(np.abs(offset) <= half, potential.height, 0.0)
    if potential.kind == "triangular":
        return potential.height * np.clip(1.0 - np.abs(offset) / half, 0.0, None)
    if potential.kind == "circular":
        return potential.height * np.sqrt(np.clip(1.0 - (offset / half) ** 2, 0.0, None))
    if potential.kind == "array":
        if potential.values is None or len(potential.values) != len(x):
            got = 0 if potential.values is None else len(potential.values)
            raise ComponentError(f"potential kind 'array' needs `values` with one number per grid point ({len(x)}); got {got}")
        return np.asarray(potential.values, dtype=np.float64)
    raise ComponentError(f"unknown potential kind {potential.kind!r}")  # pragma: no cover (Literal guards it)
