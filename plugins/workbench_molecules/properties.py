"""The ~16 PubChem-style property columns of the ``esol`` dataset and the PubChem field each
stands in for. No RDKit here, so the dataset can describe itself without importing it; the
RDKit functions that compute the columns offline are in ``descriptors``."""

from __future__ import annotations

PROPERTY_FIELDS: dict[str, str] = {
    # column: PubChem PUG REST property it stands in for
    "molecular_weight": "MolecularWeight",
    "exact_mass": "ExactMass",
    "logp": "XLogP",
    "tpsa": "TPSA",
    "h_bond_donors": "HBondDonorCount",
    "h_bond_acceptors": "HBondAcceptorCount",
    "rotatable_bonds": "RotatableBondCount",
    "heavy_atoms": "HeavyAtomCount",
    "formal_charge": "Charge",
    "complexity": "Complexity",
    "rings": "(RingCount, not a PUG REST property; from the 2-D record)",
    "aromatic_rings": "(aromatic ring count, not a PUG REST property)",
    "fraction_sp3": "(Fsp3, not a PUG REST property)",
    "stereocenters": "AtomStereoCount",
    "molar_refractivity": "(Crippen molar refractivity; PubChem has none, stands in for Volume3D)",
    "heteroatoms": "(heteroatom count; PubChem lists it under Compound Summary, not PUG REST)",
}
"""Column → the PubChem field it stands in for."""

PROPERTY_NAMES: tuple[str, ...] = tuple(PROPERTY_FIELDS)
