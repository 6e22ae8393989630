"""Train/validation/test splits of molecules that keep near-duplicates on one side.

- ``random``: a seeded random split of *structures*: molecules with the same canonical SMILES
  (stereoisomers written alike, the same compound listed twice) form one unit.
- ``scaffold``: MoleculeNet's Bemis–Murcko scaffold split (Wu et al. 2018): molecules are
  grouped by scaffold, the groups are sorted from largest to smallest (ties: the group whose
  first molecule comes later first, as DeepChem), and filled into train, then validation, then test; a group that no longer fits
  into train goes to validation while it fits there, else to test. Deterministic: no seed.
  Test molecules therefore have scaffolds never seen in training, rarer ones in particular.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench_common.datasets import split_indices


def random_split(groups: Sequence[str], seed: int, test_fraction: float, validation_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded split in which every group (canonical SMILES) lands on one side."""
    return split_indices(len(groups), np.random.default_rng(seed), test_fraction, validation_fraction, groups=np.asarray(groups))


def scaffold_split(scaffolds: Sequence[str], test_fraction: float, validation_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MoleculeNet's deterministic scaffold split: the largest scaffold groups go to train first."""
    scaffolds = np.asarray(scaffolds)
    n = len(scaffolds)
    names, first, unit_of, sizes = np.unique(scaffolds, return_index=True, return_inverse=True, return_counts=True)
    # Largest first; ties as DeepChem's ScaffoldSplitter (a reverse sort on (size, first index)).
    order = np.lexsort((-first, -sizes))
    validation_cap = int(round(validation_fraction * n))
    train_cap = n - int(round(test_fraction * n)) - validation_cap  # whole molecules: no float round-off at the edges
    side = np.empty(len(names), dtype=np.int8)  # 0 train, 1 validation, 2 test
    n_train = n_validation = 0
    for group in order:  # a greedy fill over a few hundred groups
        if n_train + sizes[group] <= train_cap:
            side[group], n_train = 0, n_train + sizes[group]
        elif n_validation + sizes[group] <= validation_cap:
            side[group], n_validation = 1, n_validation + sizes[group]
        else:
            side[group] = 2
    sample_side = side[unit_of.ravel()]
    return tuple(np.flatnonzero(sample_side == k) for k in range(3))  # type: ignore[return-value]
