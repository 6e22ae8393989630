"""The offline stand-in for PubChem's computed properties: ~15 descriptors from RDKit.

Each column names the PubChem PUG REST property it stands in for (``PUBCHEM_FIELD``), so the
online and offline paths of the ``esol`` dataset give tables with the same columns. Where
RDKit has no identical algorithm the closest one is used and the docstring says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import Crippen, Descriptors, GraphDescriptors, Lipinski, rdMolDescriptors

RDLogger.DisableLog("rdApp.*")  # unparseable SMILES are reported by the dataset, not by RDKit's log


def _aromatic_rings(mol: Chem.Mol) -> float:
    return float(rdMolDescriptors.CalcNumAromaticRings(mol))


PROPERTIES: dict[str, tuple[str, Callable[[Chem.Mol], float]]] = {
    # column: (PubChem property it stands in for, RDKit function)
    "molecular_weight": ("MolecularWeight", Descriptors.MolWt),
    "exact_mass": ("ExactMass", Descriptors.ExactMolWt),
    # PubChem's XLogP3 is not in RDKit; Crippen's atom-contribution logP is the usual stand-in.
    "logp": ("XLogP", Crippen.MolLogP),
    "tpsa": ("TPSA", rdMolDescriptors.CalcTPSA),
    "h_bond_donors": ("HBondDonorCount", Lipinski.NumHDonors),
    "h_bond_acceptors": ("HBondAcceptorCount", Lipinski.NumHAcceptors),
    "rotatable_bonds": ("RotatableBondCount", Lipinski.NumRotatableBonds),
    "heavy_atoms": ("HeavyAtomCount", lambda m: float(m.GetNumHeavyAtoms())),
    "formal_charge": ("Charge", lambda m: float(Chem.GetFormalCharge(m))),
    # PubChem's "Complexity" is the Bertz/Hendrickson index computed by Cactvs; BertzCT is
    # RDKit's implementation of Bertz's index, the same idea with a different normalisation.
    "complexity": ("Complexity", GraphDescriptors.BertzCT),
    "rings": ("(RingCount, not a PUG REST property; from the 2-D record)", lambda m: float(rdMolDescriptors.CalcNumRings(m))),
    "aromatic_rings": ("(aromatic ring count, not a PUG REST property)", _aromatic_rings),
    "fraction_sp3": ("(Fsp3, not a PUG REST property)", rdMolDescriptors.CalcFractionCSP3),
    "stereocenters": ("AtomStereoCount", lambda m: float(len(Chem.FindMolChiralCenters(m, includeUnassigned=True, useLegacyImplementation=False)))),
    "molar_refractivity": ("(Crippen molar refractivity; PubChem has none, stands in for Volume3D)", Crippen.MolMR),
    "heteroatoms": ("(heteroatom count; PubChem lists it under Compound Summary, not PUG REST)", lambda m: float(rdMolDescriptors.CalcNumHeteroatoms(m))),
}
"""Column → (PubChem field it stands in for, RDKit function)."""

PROPERTY_NAMES: tuple[str, ...] = tuple(PROPERTIES)


def parse_smiles(smiles: Sequence[str]) -> list[Chem.Mol | None]:
    """RDKit molecules for ``smiles`` (stripped); ``None`` where RDKit cannot parse one."""
    return [Chem.MolFromSmiles(s.strip()) if isinstance(s, str) and s.strip() else None for s in smiles]


def compute_properties(mols: Sequence[Chem.Mol]) -> np.ndarray:
    """The ``PROPERTY_NAMES`` columns for each molecule, shape ``(n, len(PROPERTY_NAMES))``."""
    table = np.empty((len(mols), len(PROPERTIES)), dtype=np.float64)
    for j, (_, function) in enumerate(PROPERTIES.values()):
        table[:, j] = [float(function(mol)) for mol in mols]
    return table
