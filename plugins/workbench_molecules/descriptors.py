"""Everything the molecules plugin asks of RDKit: parsing, the offline stand-in for PubChem's
computed properties (~16 descriptors), all of RDKit's 2-D descriptors, Morgan fingerprints,
canonical SMILES and Bemis–Murcko scaffolds.

An implementation module: the component modules import it inside their methods, so listing
or validating components does not import RDKit. The property columns are those of
``properties.PROPERTY_FIELDS`` (which PubChem field each stands in for), so the online and
offline paths of the ``esol`` dataset give tables with the same columns; where RDKit has no
identical algorithm the closest one is used and a comment says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import Crippen, Descriptors, GraphDescriptors, Lipinski, rdMolDescriptors

from .properties import PROPERTY_NAMES

RDLogger.DisableLog("rdApp.*")  # unparseable SMILES are reported by the dataset, not by RDKit's log


def _aromatic_rings(mol: Chem.Mol) -> float:
    return float(rdMolDescriptors.CalcNumAromaticRings(mol))


PROPERTY_FUNCTIONS: dict[str, Callable[[Chem.Mol], float]] = {
    # column (see properties.PROPERTY_FIELDS for the PubChem field): RDKit function
    "molecular_weight": Descriptors.MolWt,
    "exact_mass": Descriptors.ExactMolWt,
    # PubChem's XLogP3 is not in RDKit; Crippen's atom-contribution logP is the usual stand-in.
    "logp": Crippen.MolLogP,
    "tpsa": rdMolDescriptors.CalcTPSA,
    "h_bond_donors": Lipinski.NumHDonors,
    "h_bond_acceptors": Lipinski.NumHAcceptors,
    "rotatable_bonds": Lipinski.NumRotatableBonds,
    "heavy_atoms": lambda m: float(m.GetNumHeavyAtoms()),
    "formal_charge": lambda m: float(Chem.GetFormalCharge(m)),
    # PubChem's "Complexity" is the Bertz/Hendrickson index computed by Cactvs; BertzCT is
    # RDKit's implementation of Bertz's index, the same idea with a different normalisation.
    "complexity": GraphDescriptors.BertzCT,
    "rings": lambda m: float(rdMolDescriptors.CalcNumRings(m)),
    "aromatic_rings": _aromatic_rings,
    "fraction_sp3": rdMolDescriptors.CalcFractionCSP3,
    "stereocenters": lambda m: float(len(Chem.FindMolChiralCenters(m, includeUnassigned=True, useLegacyImplementation=False))),
    "molar_refractivity": Crippen.MolMR,
    "heteroatoms": lambda m: float(rdMolDescriptors.CalcNumHeteroatoms(m)),
}
"""Column → RDKit function, for every column of :data:`PROPERTY_NAMES`."""
if tuple(PROPERTY_FUNCTIONS) != PROPERTY_NAMES:  # pragma: no cover - a programming error, caught by every test run
    raise ImportError("descriptors.PROPERTY_FUNCTIONS and properties.PROPERTY_FIELDS list different columns")


def parse_smiles(smiles: Sequence[str]) -> list[Chem.Mol | None]:
    """RDKit molecules for ``smiles`` (stripped); ``None`` where RDKit cannot parse one."""
    return [Chem.MolFromSmiles(s.strip()) if isinstance(s, str) and s.strip() else None for s in smiles]


def compute_properties(mols: Sequence[Chem.Mol]) -> np.ndarray:
    """The ``PROPERTY_NAMES`` columns for each molecule, shape ``(n, len(PROPERTY_NAMES))``."""
    table = np.empty((len(mols), len(PROPERTY_FUNCTIONS)), dtype=np.float64)
    for j, function in enumerate(PROPERTY_FUNCTIONS.values()):
        table[:, j] = [float(function(mol)) for mol in mols]
    return table


def rdkit_descriptor_names() -> tuple[str, ...]:
    """Names of RDKit's 2-D descriptors (``Descriptors.descList``; ~217 in RDKit 2026.09)."""
    return tuple(name for name, _ in Descriptors.descList)


def rdkit_descriptors(mols: Sequence[Chem.Mol]) -> np.ndarray:
    """Every descriptor of :func:`rdkit_descriptor_names` for each molecule, ``(n, d)``.

    A descriptor that RDKit cannot compute for a molecule (it raises, or returns NaN or an
    infinity, as the Gasteiger-charge based ones can for unusual elements and ``Ipc`` does by
    overflowing on large molecules) is NaN here; the caller decides what to do with it."""
    functions = [function for _, function in Descriptors.descList]
    table = np.full((len(mols), len(functions)), np.nan)
    for i, mol in enumerate(mols):  # RDKit computes descriptors one molecule at a time
        for j, function in enumerate(functions):
            try:
                table[i, j] = float(function(mol))
            except (ValueError, RuntimeError, ZeroDivisionError, OverflowError):
                pass
    table[~np.isfinite(table)] = np.nan
    return table


def morgan_fingerprints(mols: Sequence[Chem.Mol], radius: int, n_bits: int, counts: bool) -> np.ndarray:
    """Morgan (ECFP-like) fingerprints folded to ``n_bits``: how often each hashed environment
    of radius ≤ ``radius`` occurs (``counts``), or whether it occurs; ``(n, n_bits)`` floats."""
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    fingerprint = generator.GetCountFingerprintAsNumPy if counts else generator.GetFingerprintAsNumPy
    table = np.zeros((len(mols), n_bits), dtype=np.float64)
    for i, mol in enumerate(mols):
        table[i] = fingerprint(mol)
    return table


def canonical_smiles(mols: Sequence[Chem.Mol]) -> list[str]:
    """RDKit's canonical SMILES (with stereochemistry): one string per distinct structure."""
    return [Chem.MolToSmiles(mol) for mol in mols]


def murcko_scaffolds(mols: Sequence[Chem.Mol]) -> list[str]:
    """Bemis–Murcko scaffold of each molecule as canonical SMILES, without stereochemistry (as
    MoleculeNet's scaffold split); acyclic molecules have the empty scaffold ``""``."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    return [MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False) for mol in mols]
