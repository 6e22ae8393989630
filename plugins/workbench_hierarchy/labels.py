"""Reusable label constructors for a coarse/fine label hierarchy (thesis §3.2–3.3).

Three ways to get class labels:

- :class:`QuantileBins` — equal-count classes from a continuous value (SuperCon's 12 coarse
  classes of Tc). The edges are fitted on one set of values (the training split) and then
  applied to any other, so test labels never shape the bins.
- :class:`FixedWidthBins` — classes of fixed width from ``lower`` to ``upper`` plus an overflow
  class for values at or above ``upper`` (SuperCon's 2 K fine bins up to 110 K), and optionally
  an underflow class for values below ``lower``.
- :class:`DatasetHierarchy` — a dataset's own fine → coarse map (CIFAR-100's 100 fine classes in
  20 superclasses), checked to be a function and usable to lift fine labels to coarse ones.

Missing values (NaN) stay NaN in every constructor: the kernel drops them, they never become a
class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workbench import ComponentError


def _as_float(values: np.ndarray | Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _codes(bins: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Bin index per value as floats, NaN where the value is missing."""
    out = np.full(values.shape, np.nan)
    present = ~np.isnan(values)
    out[present] = bins[present]
    return out


@dataclass(frozen=True)
class QuantileBins:
    """Equal-count bins: ``n_bins`` classes whose edges are quantiles of the fitted values.

    Class ``i`` holds values in ``[edges[i-1], edges[i])`` (class 0 everything below
    ``edges[0]``, the last class everything from ``edges[-1]`` up), so unseen values outside
    the fitted range still get the lowest or highest class.
    """

    edges: tuple[float, ...]

    @classmethod
    def fit(cls, values: np.ndarray | Sequence[float], n_bins: int) -> QuantileBins:
        v = _as_float(values)
        v = v[~np.isnan(v)]
        if n_bins < 2:
            raise ComponentError(f"quantile bins need at least 2 classes, got {n_bins}")
        if len(v) < n_bins:
            raise ComponentError(f"cannot make {n_bins} equal-count classes from {len(v)} values")
        edges = np.quantile(v, np.arange(1, n_bins) / n_bins)
        if np.any(np.diff(edges) <= 0):
            # Ties at a quantile (many equal values) would make an empty class; say so rather
            # than silently returning fewer classes than asked.
            raise ComponentError(
                f"{n_bins} equal-count classes are impossible: the values repeat so much that two "
                f"quantile edges coincide ({np.round(edges, 6).tolist()}); ask for fewer classes"
            )
        return cls(tuple(float(e) for e in edges))

    @property
    def n_classes(self) -> int:
        return len(self.edges) + 1

    def assign(self, values: np.ndarray | Sequence[float]) -> np.ndarray:
        """Class index per value (float array, NaN for missing values)."""
        v = _as_float(values)
        return _codes(np.searchsorted(np.asarray(self.edges), v, side="right").astype(np.float64), v)

    def class_names(self, unit: str = "") -> tuple[str, ...]:
        suffix = f" {unit}" if unit else ""
        bounds = ["-inf", *(f"{e:.4g}" for e in self.edges), "inf"]
        return tuple(f"[{lo}, {hi}){suffix}" for lo, hi in zip(bounds[:-1], bounds[1:]))


@dataclass(frozen=True)
class FixedWidthBins:
    """Bins of width ``width`` from ``lower`` up to ``upper`` and an overflow class for values
    ``>= upper``; with ``underflow`` a first class takes values ``< lower``.

    Without underflow, values below ``lower`` fall in the first bin. The thesis numbers
    SuperCon's fine classes as ``np.digitize`` does: class 0 below 0 K (empty, since Tc > 0),
    classes 1–55 the 2 K bins of [0, 110) K, class 56 for Tc ≥ 110 K — 57 classes; that is
    ``FixedWidthBins(2, 0, 110, underflow=True)``.
    """

    width: float
    lower: float
    upper: float
    underflow: bool = False

    def __post_init__(self) -> None:
        if self.width <= 0 or self.upper <= self.lower:
            raise ComponentError(f"fixed-width bins need width > 0 and upper > lower; got width={self.width}, [{self.lower}, {self.upper})")
        span = (self.upper - self.lower) / self.width
        if abs(span - round(span)) > 1e-9:
            raise ComponentError(f"the range [{self.lower}, {self.upper}) is not a whole number of {self.width}-wide bins")

    @property
    def n_bins(self) -> int:
        return int(round((self.upper - self.lower) / self.width))

    @property
    def n_classes(self) -> int:
        return self.n_bins + 1 + int(self.underflow)

    def assign(self, values: np.ndarray | Sequence[float]) -> np.ndarray:
        v = _as_float(values)
        with np.errstate(invalid="ignore"):
            index = np.floor((v - self.lower) / self.width)
            index = np.where(v >= self.upper, self.n_bins, index)  # overflow class
            if self.underflow:
                index = np.where(v < self.lower, -1, index) + 1
            else:
                index = np.maximum(index, 0)
        return _codes(np.nan_to_num(index, nan=0.0), v)

    def class_names(self, unit: str = "") -> tuple[str, ...]:
        suffix = f" {unit}" if unit else ""
        lows = self.lower + self.width * np.arange(self.n_bins)
        names = [f"[{lo:.4g}, {lo + self.width:.4g}){suffix}" for lo in lows]
        names.append(f">= {self.upper:.4g}{suffix}")
        if self.underflow:
            names.insert(0, f"< {self.lower:.4g}{suffix}")
        return tuple(names)


@dataclass(frozen=True)
class DatasetHierarchy:
    """A dataset's own hierarchy: ``coarse_of[f]`` is the coarse class of fine class ``f``."""

    coarse_of: tuple[int, ...]

    @classmethod
    def from_pairs(cls, fine: np.ndarray | Sequence[int], coarse: np.ndarray | Sequence[int]) -> DatasetHierarchy:
        """The fine → coarse map observed in paired labels; refused if a fine class has two
        coarse classes (then the labels are not a hierarchy)."""
        f = np.asarray(fine, dtype=np.int64)
        c = np.asarray(coarse, dtype=np.int64)
        if f.shape != c.shape or f.ndim != 1:
            raise ComponentError(f"fine and coarse labels must be 1-D and of equal length, got {f.shape} and {c.shape}")
        pairs = np.unique(np.stack([f, c], axis=1), axis=0)
        fine_ids, counts = np.unique(pairs[:, 0], return_counts=True)
        if np.any(counts > 1):
            bad = fine_ids[counts > 1][:5].tolist()
            raise ComponentError(f"fine classes {bad} appear under more than one coarse class; the labels are not a hierarchy")
        n_fine = int(f.max()) + 1
        if len(fine_ids) != n_fine:
            missing = sorted(set(range(n_fine)) - set(fine_ids.tolist()))[:5]
            raise ComponentError(f"fine classes {missing} never appear, so their coarse class is unknown")
        mapping = np.empty(n_fine, dtype=np.int64)
        mapping[pairs[:, 0]] = pairs[:, 1]
        return cls(tuple(int(x) for x in mapping))

    @property
    def n_fine(self) -> int:
        return len(self.coarse_of)

    @property
    def n_coarse(self) -> int:
        return max(self.coarse_of) + 1

    def coarse(self, fine: np.ndarray | Sequence[int]) -> np.ndarray:
        """Coarse label of each fine label."""
        return np.asarray(self.coarse_of, dtype=np.int64)[np.asarray(fine, dtype=np.int64)]

    def children(self, coarse_class: int) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(self.coarse_of) if c == coarse_class)

    def coarse_probabilities(self, fine_probabilities: np.ndarray) -> np.ndarray:
        """Coarse class probabilities by summing the fine probabilities of each superclass."""
        p = np.asarray(fine_probabilities, dtype=np.float64)
        membership = np.eye(self.n_coarse)[np.asarray(self.coarse_of)]  # (n_fine, n_coarse)
        return p @ membership
