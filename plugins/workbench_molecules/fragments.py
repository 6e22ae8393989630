"""Molecules as a bag of atom-centred fragments and their connectivity (the inputs and
reconstruction targets of the fragment VAE).

As in FraGVAE (Armitage et al. 2019, thesis §2.2.2), a fragment is one heavy atom with its
bonds and neighbouring atoms (element, aromaticity, charge, hydrogens). The bag of fragments
does not fix the molecule; how the fragments join does. Connectivity is described by:

- fragment pairs: for each bond, the (unordered) pair of fragment ids at its two ends and the
  bond type, hashed into ``pair_bins`` bins;
- ring structure: counts of rings of size 3–8 and larger, and of atoms shared by fused rings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem

OTHER = "<other>"
BOND_CODES = {Chem.BondType.SINGLE: 1, Chem.BondType.DOUBLE: 2, Chem.BondType.TRIPLE: 3, Chem.BondType.AROMATIC: 4}
RING_SIZES = (3, 4, 5, 6, 7, 8)
RING_FEATURES = len(RING_SIZES) + 2  # sizes 3..8, larger rings, fused-ring atoms


def atom_label(atom: Chem.Atom) -> str:
    charge = atom.GetFormalCharge()
    return f"{atom.GetSymbol()}{'a' if atom.GetIsAromatic() else ''}{'+' * charge if charge > 0 else '-' * -charge}H{atom.GetTotalNumHs()}"


def atom_fragments(mol: Chem.Mol) -> list[tuple[str, str]]:
    """One ``(fragment key, centre-atom label)`` per heavy atom; the key is the atom and its
    sorted (bond, neighbour) list."""
    labels = [atom_label(atom) for atom in mol.GetAtoms()]
    neighbours: list[list[str]] = [[] for _ in labels]
    for bond in mol.GetBonds():
        a, b = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        code = str(BOND_CODES.get(bond.GetBondType(), 0))
        neighbours[a].append(code + labels[b])
        neighbours[b].append(code + labels[a])
    return [(label + "(" + ",".join(sorted(nb)) + ")", label) for label, nb in zip(labels, neighbours)]


def build_vocabulary(fragment_lists: Iterable[Sequence[tuple[str, str]]], size: int, min_count: int = 2) -> tuple[str, ...]:
    """``OTHER`` at index 0, the ``size`` most frequent fragments, then a ``centre:<atom>``
    entry per frequent centre atom, which catches fragments outside the vocabulary by their
    centre atom alone (ties broken alphabetically, so the vocabulary is deterministic)."""
    counts: Counter = Counter()
    centres: Counter = Counter()
    for keys in fragment_lists:
        counts.update(key for key, _ in keys)
        centres.update(label for _, label in keys)
    ranked = sorted((k for k, c in counts.items() if c >= min_count), key=lambda k: (-counts[k], k))
    centre_keys = sorted(f"centre:{k}" for k, c in centres.items() if c >= min_count)
    return (OTHER, *ranked[:size], *centre_keys)


@dataclass(frozen=True)
class Featurizer:
    """Turns molecules into fragment-count and connectivity-count vectors."""

    vocabulary: tuple[str, ...]
    pair_bins: int = 512

    @property
    def n_fragments(self) -> int:
        return len(self.vocabulary)

    @property
    def n_connectivity(self) -> int:
        return self.pair_bins + RING_FEATURES

    def __call__(self, mols: Sequence[Chem.Mol], fragments: Sequence[Sequence[tuple[str, str]]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(F, C)``: fragment counts ``(n, n_fragments)`` and connectivity counts
        ``(n, n_connectivity)``; ``fragments`` may pass :func:`atom_fragments` already computed."""
        index = {key: i for i, key in enumerate(self.vocabulary)}
        F = np.zeros((len(mols), self.n_fragments), dtype=np.float32)
        C = np.zeros((len(mols), self.n_connectivity), dtype=np.float32)
        for row, mol in enumerate(mols):
            keys = fragments[row] if fragments is not None else atom_fragments(mol)
            ids = [index.get(key, index.get(f"centre:{label}", 0)) for key, label in keys]
            np.add.at(F[row], ids, 1.0)
            for bond in mol.GetBonds():
                a, b = sorted((ids[bond.GetBeginAtomIdx()], ids[bond.GetEndAtomIdx()]))
                code = BOND_CODES.get(bond.GetBondType(), 0)
                # A fixed integer hash, so bins are the same in every process and run.
                C[row, ((a * 1_000_003 + b) * 7 + code) % self.pair_bins] += 1.0
            rings = mol.GetRingInfo()
            for ring in rings.AtomRings():
                size = len(ring)
                C[row, self.pair_bins + (RING_SIZES.index(size) if size in RING_SIZES else len(RING_SIZES))] += 1.0
            C[row, -1] = sum(1 for atom in range(mol.GetNumAtoms()) if rings.NumAtomRings(atom) > 1)
        return F, C
