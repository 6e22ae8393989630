"""Generic representations: the raw numeric inputs (optionally with other labels as extra
columns) and the concatenation of several representations."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

import workbench
from workbench import CellContext, ComponentError, Representation, Table
from workbench.specs import RepresentationSpec


def numeric_matrix(inputs: object) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """The numeric part of ``inputs`` as a float matrix, with column names when known."""
    if isinstance(inputs, pd.DataFrame):
        numeric = inputs.select_dtypes(include="number")
        return numeric.to_numpy(dtype=np.float64), tuple(map(str, numeric.columns))
    try:
        matrix = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError):
        raise ComponentError(
            f"representation 'raw' needs numeric inputs, got {type(inputs).__name__}; use a representation "
            "made for this kind of data"
        ) from None
    return matrix.reshape(len(matrix), -1), None


class Raw(Representation):
    name = "raw"
    summary = "The dataset's numeric inputs as they are, optionally with other targets appended as feature columns."

    class Params(workbench.Params):
        add_targets: list[str] = Field(
            default_factory=list,
            description="targets appended as extra feature columns (they count as labels this representation has seen)",
        )

    def seen_labels(self) -> frozenset[str]:
        return frozenset(self.params.add_targets)

    def fit(self, train: Table, context: CellContext) -> None:
        _, self.names_ = numeric_matrix(train.inputs)
        if self.names_ is None and context.feature_names is not None:
            self.names_ = tuple(context.feature_names)
        # Missing label values in an added column are filled with the training mean, so a
        # sample is never dropped or given a made-up class because a *feature* label is absent.
        self.fill_ = {}
        for name in self.params.add_targets:
            if name not in train.targets:
                raise ComponentError(f"representation 'raw': target {name!r} to add is not in the dataset; targets: {sorted(train.targets)}")
            values = np.asarray(train.targets[name], dtype=np.float64)
            self.fill_[name] = float(np.nanmean(values)) if np.isfinite(values).any() else 0.0

    def transform(self, table: Table, context: CellContext) -> np.ndarray:
        matrix, _ = numeric_matrix(table.inputs)
        extra = []
        for name in self.params.add_targets:
            column = np.asarray(table.targets[name], dtype=np.float64).reshape(len(table), -1)
            extra.append(np.where(np.isfinite(column), column, self.fill_[name]))
        return np.hstack([matrix, *extra]) if extra else matrix

    def feature_names(self) -> tuple[str, ...] | None:
        if getattr(self, "names_", None) is None:
            return None
        return self.names_ + tuple(self.params.add_targets)


class Concat(Representation):
    name = "concat"
    summary = "Concatenation of several representations' columns (e.g. raw + fragment VAE)."

    class Params(workbench.Params):
        parts: list[RepresentationSpec] = Field(min_length=2, description="representations whose outputs are placed side by side")

    def __init__(self, params=None):
        super().__init__(params)
        self.parts = [spec.build() for spec in self.params.parts]

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"parts": ["raw", "raw"]}]

    def seen_labels(self) -> frozenset[str]:
        return frozenset().union(*(part.seen_labels() for part in self.parts))

    def fit(self, train: Table, context: CellContext) -> None:
        for part in self.parts:
            part.fit(train, context)

    def transform(self, table: Table, context: CellContext) -> np.ndarray:
        return np.hstack([np.asarray(part.transform(table, context), dtype=np.float64) for part in self.parts])

    def feature_names(self) -> tuple[str, ...] | None:
        names: list[str] = []
        for spec, part in zip(self.params.parts, self.parts):
            part_names = part.feature_names()
            if part_names is None:
                return None
            names.extend(f"{spec.display()}:{n}" for n in part_names)
        return tuple(names)
