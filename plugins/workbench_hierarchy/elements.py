"""Element properties for the Hamidieh (2018) SuperCon features and chemical-formula parsing.

The table ``data/element_properties.csv`` ships with the plugin; ``tools/make_element_table.py``
regenerates it from the ``mendeleev`` package (gaps in thermal conductivity and atomic radius
from ``pymatgen-core``). Hamidieh took his values from Mathematica's ElementData, which is not
published as data, so features computed here differ slightly from UCI's ``train.csv`` for the
seven properties other than atomic mass (see docs/hierarchy.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from workbench import ComponentError

TABLE = Path(__file__).parent / "data" / "element_properties.csv"

# Hamidieh's property names, in the order of the UCI train.csv columns.
PROPERTIES: tuple[str, ...] = (
    "atomic_mass", "fie", "atomic_radius", "Density", "ElectronAffinity", "FusionHeat", "ThermalConductivity", "Valence",
)

# The 86 element columns of UCI unique_m.csv (H … Rn), in its order.
SYMBOLS: tuple[str, ...] = tuple(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb "
    "Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn".split()
)

_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*\.?\d*)")


@lru_cache(maxsize=1)
def property_table() -> pd.DataFrame:
    """The element table as shipped (index: symbol), gaps left as NaN."""
    return pd.read_csv(TABLE, comment="#").set_index("symbol")


def filled_properties(symbols: Sequence[str] = SYMBOLS) -> np.ndarray:
    """``(len(symbols), 8)`` property values with every gap filled, in :data:`PROPERTIES` order.

    Electron affinity: a missing or negative value means the anion is not bound, so no energy
    is released on attaching an electron: 0 kJ/mol. Every other gap takes the property's mean
    over the elements of the table that have it, so it shifts a material's statistics as
    little as a neutral guess can. Geometric means and entropies need values ≥ 0, which holds
    after this.
    """
    table = property_table()
    unknown = [s for s in symbols if s not in table.index]
    if unknown:
        raise ComponentError(f"no element properties for {unknown}; the table covers {', '.join(table.index)}")
    values = table[list(PROPERTIES)].astype(float)
    affinity = values["ElectronAffinity"]
    values["ElectronAffinity"] = affinity.where(affinity > 0, 0.0).fillna(0.0)
    values = values.fillna(values.mean())
    return values.loc[list(symbols)].to_numpy(dtype=np.float64)


def counts_from_formulas(formulas: Sequence[str], symbols: Sequence[str] = SYMBOLS) -> np.ndarray:
    """Atoms per formula unit, ``(n, len(symbols))``, as UCI's unique_m.csv counts them: an
    element symbol and an optional number (a bare symbol counts 1; repeats are summed)."""
    column = {s: i for i, s in enumerate(symbols)}
    counts = np.zeros((len(formulas), len(symbols)))
    for row, formula in enumerate(formulas):  # string parsing is inherently per formula
        text = str(formula).strip()
        tokens = _TOKEN.findall(text)
        if not tokens or "".join(sym + num for sym, num in tokens) != text:
            raise ComponentError(f"cannot read the chemical formula {formula!r}: write it as element symbols with optional counts, e.g. Ba0.2La1.8Cu1O4")
        for symbol, number in tokens:
            if symbol not in column:
                raise ComponentError(f"formula {formula!r}: unknown element {symbol!r} (known: H … Rn)")
            counts[row, column[symbol]] += float(number) if number else 1.0
    return counts


def composition_keys(counts: np.ndarray, symbols: Sequence[str] = SYMBOLS, decimals: int = 4) -> np.ndarray:
    """One canonical composition string per row of ``counts`` (atoms per formula unit): the
    elements present, in alphabetical order, each with its atom fraction rounded to
    ``decimals`` places, e.g. ``Ir0.3La0.7``. Formulas that differ only in element order or in
    scale (``Ir3La7``, ``La7Ir3``, ``La0.7Ir0.3``) get the same key."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise ComponentError("every material needs at least one element with a positive count")
    fractions = np.round(counts / totals, decimals)
    order = np.argsort(np.asarray(symbols))  # alphabetical columns, so the key does not depend on the table's order
    names = np.asarray(symbols)[order]
    fractions = fractions[:, order]
    present = counts[:, order] > 0
    # Building a string is per material; the numbers are formatted once per distinct value.
    formatted = {value: f"{value:.{decimals}f}".rstrip("0").rstrip(".") for value in np.unique(fractions[present])}
    return np.array(["".join(f"{names[j]}{formatted[fractions[i, j]]}" for j in np.flatnonzero(present[i])) for i in range(len(counts))])
