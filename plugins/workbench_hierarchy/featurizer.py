"""Hamidieh's 81 SuperCon features, computed from element counts (Hamidieh 2018, Table 2).

For a material with elements i = 1..m, property values t_i and atom fractions p_i:

    mean       (1/m) Σ t_i                 wtd_mean     Σ p_i t_i
    gmean      (Π t_i)^(1/m)               wtd_gmean    Π t_i^p_i
    entropy    −Σ w_i ln w_i,  w_i = t_i/Σt    wtd_entropy  −Σ A_i ln A_i,  A_i = p_i t_i / Σ p_j t_j
    range      max t − min t               wtd_range    max(p t) − min(p t)
    std        √((1/m) Σ (t_i − mean)²)    wtd_std      √(Σ p_i (t_i − wtd_mean)²)

for each of 8 properties, plus ``number_of_elements``: 1 + 8 × 10 = 81 columns, named and
ordered as in UCI's train.csv. The weighted range and both standard deviations were checked
against the published first row of train.csv (tests/plugins/test_hierarchy.py).

All statistics are matrix operations over the (materials × elements) count matrix — no loop
over materials — so featurizing 21,263 materials takes well under a second.
"""

from __future__ import annotations


import numpy as np
from pydantic import Field

import workbench
from workbench import Bundle, CellContext, ComponentError, Representation, Table, TargetInfo

from .elements import PROPERTIES, SYMBOLS, counts_from_formulas, filled_properties

STATISTICS: tuple[str, ...] = (
    "mean", "wtd_mean", "gmean", "wtd_gmean", "entropy", "wtd_entropy", "range", "wtd_range", "std", "wtd_std",
)
FEATURE_NAMES: tuple[str, ...] = ("number_of_elements",) + tuple(f"{s}_{p}" for p in PROPERTIES for s in STATISTICS)


def _entropy(shares: np.ndarray) -> np.ndarray:
    """−Σ s ln s over each row, with 0 ln 0 = 0."""
    safe = np.where(shares > 0, shares, 1.0)
    return 0.0 - (shares * np.log(safe)).sum(axis=1)  # 0.0 - …: no negative zeros


def _normalise_rows(weights: np.ndarray) -> np.ndarray:
    total = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)


def hamidieh_features(counts: np.ndarray, properties: np.ndarray) -> np.ndarray:
    """``(n, 81)`` features from ``counts`` ``(n, E)`` (atoms per formula unit) and
    ``properties`` ``(E, 8)`` (property values of the E elements, no gaps, ≥ 0)."""
    counts = np.asarray(counts, dtype=np.float64)
    properties = np.asarray(properties, dtype=np.float64)
    if counts.ndim != 2 or properties.shape != (counts.shape[1], len(PROPERTIES)):
        raise ComponentError(f"counts {counts.shape} and properties {properties.shape} do not match (need (n, E) and (E, {len(PROPERTIES)}))")
    if np.any(counts < 0) or np.any(counts.sum(axis=1) <= 0):
        raise ComponentError("every material needs at least one element with a positive count (negative counts are invalid)")
    # A material has at most a handful of elements: gather them into (n, slots) arrays (slot j
    # of row i holds its j-th element, padded slots are absent) so every statistic below works
    # on a few columns instead of all E elements.
    nonzero = counts > 0
    slots = int(nonzero.sum(axis=1).max())
    element = np.argsort(~nonzero, axis=1, kind="stable")[:, :slots]  # present elements first
    present = np.take_along_axis(nonzero, element, axis=1)
    gathered = np.take_along_axis(counts, element, axis=1)
    m = present.sum(axis=1).astype(np.float64)[:, None]  # (n, 1)
    p = gathered / gathered.sum(axis=1, keepdims=True)  # atom fractions, 0 in padded slots
    columns = [m]
    for k in range(properties.shape[1]):
        t = properties[element, k]  # (n, slots)
        t_present = np.where(present, t, 0.0)
        mean = t_present.sum(axis=1, keepdims=True) / m
        wtd_mean = (p * t).sum(axis=1, keepdims=True)
        # Geometric means in log space; any zero property value among the elements makes them 0.
        has_zero = (present & (t <= 0)).any(axis=1, keepdims=True)
        log_t = np.log(np.where(present & (t > 0), t, 1.0))
        gmean = np.where(has_zero, 0.0, np.exp(log_t.sum(axis=1, keepdims=True) / m))
        wtd_gmean = np.where(has_zero, 0.0, np.exp((p * log_t).sum(axis=1, keepdims=True)))
        entropy = _entropy(_normalise_rows(t_present))[:, None]
        wtd_entropy = _entropy(_normalise_rows(p * t))[:, None]
        value_range = np.where(present, t, -np.inf).max(axis=1, keepdims=True) - np.where(present, t, np.inf).min(axis=1, keepdims=True)
        pt = p * t
        wtd_range = np.where(present, pt, -np.inf).max(axis=1, keepdims=True) - np.where(present, pt, np.inf).min(axis=1, keepdims=True)
        std = np.sqrt((np.where(present, (t - mean) ** 2, 0.0)).sum(axis=1, keepdims=True) / m)
        wtd_std = np.sqrt((p * (t - wtd_mean) ** 2).sum(axis=1, keepdims=True))
        columns += [mean, wtd_mean, gmean, wtd_gmean, entropy, wtd_entropy, value_range, wtd_range, std, wtd_std]
    return np.hstack(columns)


class HamidiehFeatures(Representation):
    name = "hamidieh-features"
    summary = "Hamidieh's 81 SuperCon features (8 element properties × 10 statistics + element count) from element counts or formulas."

    class Params(workbench.Params):
        formula_column: str | None = Field(
            default=None,
            description="read chemical formulas from this column of the table's samples (null: the inputs are element counts "
            "whose columns are named by element symbol in the dataset's feature names)",
        )

    def fit(self, train: Table, context: CellContext) -> None:
        # Nothing is learned from the data: the features are fixed functions of the formula.
        # The element columns are remembered so that transform reads them in the same order.
        self.symbols_ = self._symbols(context)

    def _symbols(self, context: CellContext) -> tuple[str, ...]:
        if self.params.formula_column is not None:
            return SYMBOLS
        names = context.feature_names
        if names is None:  # unnamed columns: UCI unique_m.csv's 86 element columns, H … Rn
            return SYMBOLS
        if any(n not in SYMBOLS for n in names):
            raise ComponentError(
                "hamidieh-features needs element-count inputs whose columns are named by element symbol (H, He, …), "
                f"got feature names {None if names is None else list(names)[:6]}; or set formula_column to read formulas"
            )
        return tuple(names)

    def counts(self, table: Table) -> np.ndarray:
        if self.params.formula_column is None:
            return np.asarray(table.inputs, dtype=np.float64)
        column = self.params.formula_column
        if table.samples is None or column not in table.samples.columns:
            raise ComponentError(f"hamidieh-features: the table has no samples column {column!r} holding formulas")
        return counts_from_formulas(table.samples[column].tolist())

    def transform(self, table: Table, context: CellContext) -> np.ndarray:
        symbols = getattr(self, "symbols_", None) or self._symbols(context)
        counts = self.counts(table)
        if counts.shape[1] != len(symbols):
            raise ComponentError(
                f"hamidieh-features: {counts.shape[1]} input columns for {len(symbols)} elements; unnamed inputs must be "
                "the 86 element columns of UCI unique_m.csv (H … Rn)"
            )
        return hamidieh_features(counts, filled_properties(symbols))

    def feature_names(self) -> tuple[str, ...]:
        return FEATURE_NAMES

    @classmethod
    def contract_bundle(cls, rng: np.random.Generator) -> Bundle:
        formulas = ["Ba0.2La1.8Cu1O4", "Nb3Sn1", "Mg1B2", "Y1Ba2Cu3O7", "Fe1Se0.2Te0.8", "Pb1", "H2S1", "Nb1Ti1"]
        counts = counts_from_formulas(formulas)
        tc = np.array([29.0, 18.0, 39.0, 92.0, 12.8, 7.2, 185.0, 9.5])
        table = Table(counts, {"critical_temp": tc})
        return Bundle(train=table.take(np.arange(5)), evaluations={"test": table.take(np.arange(5, 8))},
                      targets={"critical_temp": TargetInfo("regression")}, feature_names=SYMBOLS)


class ElementFractions(HamidiehFeatures):
    name = "element-fractions"
    summary = "Atom fractions of the 86 elements (H … Rn) of each material, optionally with its atoms per formula unit."

    class Params(HamidiehFeatures.Params):
        atoms_per_formula: bool = Field(
            default=True, description="append the number of atoms per formula unit as written (it tells Y1Ba2Cu3O7 from a 1:2:3:7 alloy unit)"
        )

    def transform(self, table: Table, context: CellContext) -> np.ndarray:
        symbols = getattr(self, "symbols_", None) or self._symbols(context)
        counts = self.counts(table)
        if counts.shape[1] != len(symbols):
            raise ComponentError(f"element-fractions: {counts.shape[1]} input columns for {len(symbols)} elements")
        totals = counts.sum(axis=1, keepdims=True)
        if np.any(counts < 0) or np.any(totals <= 0):
            raise ComponentError("element-fractions: every material needs at least one element with a positive count")
        # Columns always follow SYMBOLS (H … Rn), whatever the order of the input columns.
        fractions = np.zeros((len(counts), len(SYMBOLS)))
        fractions[:, [SYMBOLS.index(s) for s in symbols]] = counts / totals
        return np.hstack([fractions, totals]) if self.params.atoms_per_formula else fractions

    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"x_{s}" for s in SYMBOLS) + (("atoms_per_formula",) if self.params.atoms_per_formula else ())
