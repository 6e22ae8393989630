"""The representations a chemist tries first: all of RDKit's 2-D descriptors, and Morgan
(ECFP-like) fingerprints. Both read the SMILES in the table's samples; RDKit is imported only
when they compute something.

Non-finite descriptor values (a descriptor RDKit cannot compute for a molecule, such as the
Gasteiger-charge based ones for tellurium or xenon, or one that overflows) are replaced by the
column's median over the training molecules, and a note in the run says which columns and how
many values; a column with no finite training value is set to 0. ``Ipc`` (Bonchev's information
content) reaches 10^12 on ESOL molecules and overflows on larger ones, so it enters as
log(1 + Ipc) unless ``log_ipc`` is off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

import workbench
from workbench import Bundle, CellContext, ComponentError, Representation, Table, TargetInfo

if TYPE_CHECKING:  # pragma: no cover
    from rdkit import Chem


def table_molecules(table: Table, who: str) -> tuple[list[str], list[Chem.Mol]]:
    """The table's SMILES and their RDKit molecules; a clear error when either is missing."""
    from .descriptors import parse_smiles

    if table.samples is None or "smiles" not in table.samples:
        raise ComponentError(f"{who} needs SMILES: the dataset must put a 'smiles' column in the table's samples")
    smiles = [str(s).strip() for s in table.samples["smiles"]]
    mols = parse_smiles(smiles)
    bad = [s for s, m in zip(smiles, mols) if m is None]
    if bad:
        raise ComponentError(f"{who}: RDKit cannot parse {len(bad)} SMILES, e.g. {bad[:3]}; drop them in the dataset")
    return smiles, mols


def esol_contract_bundle(rng: np.random.Generator, n: int = 40) -> Bundle:
    """A few real ESOL molecules (SMILES in the samples) for the contract checks."""
    from .datasets import read_esol

    frame, _, _ = read_esol()
    rows = rng.choice(len(frame), n, replace=False)
    samples = frame.iloc[rows][["smiles"]].reset_index(drop=True)
    y = frame["measured log solubility in mols per litre"].to_numpy()[rows]
    table = Table(np.zeros((n, 1)), {"y": y}, samples)
    split = int(0.75 * n)
    return Bundle(train=table.take(np.arange(split)), evaluations={"test": table.take(np.arange(split, n))},
                  targets={"y": TargetInfo("regression")})


class RdkitDescriptors(Representation):
    name = "rdkit-descriptors"
    summary = "All of RDKit's 2-D descriptors (~217, Descriptors.descList) of each molecule's SMILES; non-finite values → training median."

    class Params(workbench.Params):
        log_ipc: bool = Field(default=True, description="use log(1 + Ipc) for Bonchev's information content, which spans 12 orders of magnitude")

    @classmethod
    def contract_bundle(cls, rng: np.random.Generator) -> Bundle:
        return esol_contract_bundle(rng)

    def _descriptors(self, table: Table, context: CellContext) -> np.ndarray:
        import rdkit

        from .descriptors import rdkit_descriptor_names, rdkit_descriptors

        smiles, mols = table_molecules(table, "rdkit-descriptors")
        self.names_ = rdkit_descriptor_names()
        # ~5 ms per molecule; cached per table, so the replicates of a split compute it once.
        key = {"smiles": smiles, "descriptors": list(self.names_), "rdkit": rdkit.__version__}
        values = context.cache.arrays("rdkit-descriptors", key, lambda: {"values": rdkit_descriptors(mols)})["values"]
        if self.params.log_ipc and "Ipc" in self.names_:
            values = values.copy()
            j = self.names_.index("Ipc")
            values[:, j] = np.log1p(np.clip(values[:, j], 0.0, None))
        return values

    def fit(self, train: Table, context: CellContext) -> None:
        values = self._descriptors(train, context)
        finite = np.isfinite(values)
        with np.errstate(all="ignore"):
            medians = np.nanmedian(np.where(finite, values, np.nan), axis=0) if finite.any() else np.zeros(values.shape[1])
        self.fill_ = np.where(np.isfinite(medians), medians, 0.0)

    def transform(self, table: Table, context: CellContext) -> np.ndarray:
        values = self._descriptors(table, context)
        missing = ~np.isfinite(values)
        if missing.any():
            columns = [self.names_[j] for j in np.flatnonzero(missing.any(axis=0))]
            context.note(f"rdkit-descriptors: {int(missing.sum())} value(s) RDKit could not compute (NaN or infinite) in "
                         f"{int(missing.any(axis=1).sum())} of {len(values)} molecules, columns {columns}; replaced by the training median")
        return np.where(missing, self.fill_[None, :], values)

    def feature_names(self) -> tuple[str, ...] | None:
        return getattr(self, "names_", None)


class MorganFingerprint(Representation):
    name = "morgan-fingerprint"
    summary = "Morgan (ECFP-like) fingerprint of each molecule's SMILES, folded to n_bits: counts or bits."

    class Params(workbench.Params):
        radius: int = Field(default=2, ge=0, le=6, description="largest atom-environment radius (2 ≈ ECFP4)")
        n_bits: int = Field(default=2048, ge=8, description="length the hashed environments are folded to")
        counts: bool = Field(default=True, description="how often each environment occurs (true) or only whether it does (false)")

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"n_bits": 64}, {"n_bits": 32, "radius": 1, "counts": False}]

    @classmethod
    def contract_bundle(cls, rng: np.random.Generator) -> Bundle:
        return esol_contract_bundle(rng)

    def fit(self, train: Table, context: CellContext) -> None:
        """Nothing is learned: the fingerprint is a fixed function of the molecule."""

    def transform(self, table: Table, context: CellContext) -> np.ndarray:
        from .descriptors import morgan_fingerprints

        p = self.params
        _, mols = table_molecules(table, "morgan-fingerprint")
        return morgan_fingerprints(mols, p.radius, p.n_bits, p.counts)

    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"morgan{'-count' if self.params.counts else ''}-{i}" for i in range(self.params.n_bits))
