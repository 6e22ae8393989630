"""The data a dataset hands to the rest of a cell: tables of samples and what their targets mean.

A :class:`Bundle` holds a training :class:`Table`, an optional validation table, and one or
more named evaluation tables (``"test"`` by convention; a simulation study may hold many, one
per test scenario family). Each target is described once, by a :class:`TargetInfo`, whose
``task`` string is what models and metrics declare they can handle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ComponentError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass(frozen=True)
class TargetInfo:
    """What one target means.

    ``task`` is a free string matched against the ``tasks`` that models and metrics declare
    ("classification", "regression", "trajectory", ...). For classification, labels are
    integers ``0..n_classes-1`` and ``classes`` names them. ``parent`` names a coarser target
    that this one refines (a label hierarchy). Missing labels are stored as NaN and the
    samples carrying them are dropped before a model sees this target.
    """

    task: str
    classes: tuple[str, ...] | None = None
    description: str = ""
    parent: str | None = None

    @property
    def n_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)


def _take(values: Any, indices: np.ndarray) -> Any:
    if hasattr(values, "iloc") and hasattr(values, "reset_index"):  # a pandas DataFrame or Series
        return values.iloc[indices].reset_index(drop=True)
    if isinstance(values, np.ndarray):
        return values[indices]
    if hasattr(values, "take_samples"):
        return values.take_samples(indices)
    if isinstance(values, (list, tuple)):
        return type(values)(values[i] for i in indices)
    raise ComponentError(
        f"cannot select samples from inputs of type {type(values).__name__}; give it a "
        "take_samples(indices) method or use a numpy array, list or DataFrame"
    )


@dataclass
class Table:
    """A set of samples: model inputs, target values, and per-sample metadata.

    ``inputs`` is usually an array of shape ``(n, ...)``; a streaming dataset may put a sampler
    object there instead (it then defines ``__len__`` and, if it can be subsampled,
    ``take_samples``). ``targets`` maps target names to arrays whose first axis is the sample.
    ``samples`` is an optional DataFrame of identifiers and raw descriptions (SMILES, formulas,
    scenario parameters) that representations and figures may read.
    """

    inputs: Any
    targets: Mapping[str, np.ndarray] = field(default_factory=dict)
    samples: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        n = len(self.inputs)
        for name, values in self.targets.items():
            if len(values) != n:
                raise ComponentError(f"target {name!r} has {len(values)} values for {n} samples")
        if self.samples is not None and len(self.samples) != n:
            raise ComponentError(f"samples table has {len(self.samples)} rows for {n} samples")

    def __len__(self) -> int:
        return len(self.inputs)

    def take(self, indices: np.ndarray | list[int]) -> Table:
        """The table restricted to ``indices`` (in that order)."""
        idx = np.asarray(indices, dtype=np.int64)
        return Table(
            inputs=_take(self.inputs, idx),
            targets={k: np.asarray(v)[idx] for k, v in self.targets.items()},
            samples=None if self.samples is None else _take(self.samples, idx),
        )

    def with_inputs(self, inputs: Any) -> Table:
        return replace(self, inputs=inputs)

    def labelled(self, target: str) -> np.ndarray:
        """Indices of samples whose ``target`` value is present (not NaN)."""
        values = np.asarray(self.targets[target])
        if values.dtype.kind != "f":
            return np.arange(len(self))
        missing = np.isnan(values).reshape(len(values), -1).any(axis=1)
        return np.flatnonzero(~missing)


@dataclass
class Bundle:
    """Everything a dataset provides for one cell."""

    train: Table
    evaluations: dict[str, Table]
    targets: dict[str, TargetInfo]
    validation: Table | None = None
    feature_names: tuple[str, ...] | None = None
    description: str = ""

    def tables(self) -> Iterator[tuple[str, Table]]:
        """Every table with its role: ``train``, ``validation`` (if any), then evaluations."""
        yield "train", self.train
        if self.validation is not None:
            yield "validation", self.validation
        yield from self.evaluations.items()

    def map_tables(self, fn: Callable[[str, Table], Table]) -> Bundle:
        """A bundle whose every table is ``fn(role, table)``."""
        return replace(
            self,
            train=fn("train", self.train),
            validation=None if self.validation is None else fn("validation", self.validation),
            evaluations={name: fn(name, t) for name, t in self.evaluations.items()},
        )

    def drop_missing(self, target: str) -> Bundle:
        """Drop samples whose ``target`` is missing, in every table, and give classification
        labels their integer type. Missing is never turned into a negative label."""
        info = self.targets[target]

        def clean(_: str, table: Table) -> Table:
            if target not in table.targets:
                return table
            kept = table.take(table.labelled(target)) if len(table) else table
            if info.task == "classification":
                labels = np.asarray(kept.targets[target])
                kept.targets = {**kept.targets, target: labels.astype(np.int64)}
            return kept

        return self.map_tables(clean)

    def subsample_train(self, size: int, rng: np.random.Generator) -> Bundle:
        """Draw ``size`` training samples with ``rng``. Validation and evaluation tables stay
        whole, so cells that differ in training-set size are scored on the same samples (the
        thesis shrank them in proportion, §3.2.2.1; a fixed test set makes learning curves
        comparable)."""
        n = len(self.train)
        if size > n:
            raise ComponentError(f"train_size {size} exceeds the {n} training samples available")
        return replace(self, train=self.train.take(np.sort(rng.choice(n, size=size, replace=False))))
