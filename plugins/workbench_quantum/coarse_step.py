"""A cheap, local propagation step over one frame interval, for the emulator to correct.

The step is one Strang split-operator step of the whole frame interval δ on a window of the
grid: a half step of the potential (the exact phase exp(-iVδ/2), pointwise), a full step of
the kinetic energy, another half step of the potential. The kinetic step is exp(-iδT) with T
the 3-point finite-difference -½∂² on the window alone (ψ = 0 just outside it), computed from
the eigenvectors of that real symmetric matrix. It is unitary, local and costs one small
matrix product; its errors — finite-difference dispersion (about k⁴Δx²/24 in the energy of
wave number k), the splitting error of one long step at a sharp barrier, and the window's
edges — are what a network trained on top of it has to learn.

Applied to every window of a frame and combined with the rollout's Gaussian weights, the
windowed step folds into one translation-invariant kernel of 2·window−1 points between the two
potential half-phases (:func:`folded_kernel`, :func:`rollout_kernel`), so a rollout pays for it
one short convolution per frame, and a point's coarse value depends on the 22 points either
side of it only. That is the coarse step the emulator uses (:func:`apply`): the rollout applies
it to the whole frame, and training computes it at each window's points from the window and
22 further points on each side (the dataset's ``margin``), so both see the same step.
"""

from __future__ import annotations

import numpy as np

from .windows import WINDOW, combine_weights


def fd_kinetic(n: int, dx: float) -> np.ndarray:
    """-½∂² on ``n`` points by the 3-point finite difference, ψ = 0 beyond both ends: (n, n)."""
    return (np.eye(n) - 0.5 * np.eye(n, k=1) - 0.5 * np.eye(n, k=-1)) / dx**2


def window_propagator(n: int, dx: float, interval: float) -> np.ndarray:
    """exp(-i·interval·T) for the window's kinetic operator T (:func:`fd_kinetic`): (n, n) complex128."""
    energies, vectors = np.linalg.eigh(fd_kinetic(n, dx))
    return (vectors * np.exp(-1j * interval * energies)) @ vectors.T


def coarse_step(psi: np.ndarray, potential: np.ndarray, propagator: np.ndarray, interval: float) -> np.ndarray:
    """One Strang step of ``interval`` on windows: ``psi`` (..., n) complex, ``potential`` (..., n)."""
    half = np.exp(-0.5j * interval * np.asarray(potential, dtype=np.float64))
    return half * ((half * psi) @ propagator.T)


def folded_kernel(per_offset, weights):
    """A per-window linear map averaged over the windows containing a point with ``weights``
    (one per window offset o, summing to 1), as one translation-invariant kernel.

    ``per_offset[o, ..., o']`` maps the window's point o' to its point o (for the windowed
    kinetic step, the (n, n) propagator); the result has shape (..., 2n-1) with
    kernel[..., d + n - 1] = ∑_o w_o per_offset[o, ..., o + d], so that point p receives
    ∑_d kernel[d]·φ[p + d]. Works on numpy arrays and torch tensors alike."""
    n = per_offset.shape[0]
    shape = tuple(per_offset.shape[1:-1]) + (2 * n - 1,)
    kernel = np.zeros(shape, dtype=per_offset.dtype) if isinstance(per_offset, np.ndarray) else per_offset.new_zeros(shape)
    for o in range(n):  # window offsets, not grid points
        kernel[..., n - 1 - o:2 * n - 1 - o] += weights[o] * per_offset[o]
    return kernel


def rollout_kernel(dx: float, interval: float, sigma: float) -> np.ndarray:
    """The kinetic kernel of the emulator's coarse step: the windowed finite-difference step on
    23-point windows averaged with the rollout's Gaussian weights (std ``sigma`` points), (45,)."""
    weights = combine_weights(WINDOW, sigma)
    return folded_kernel(window_propagator(WINDOW, dx, interval), weights / weights.sum())


def apply(psi: np.ndarray, potential: np.ndarray, kernel: np.ndarray, interval: float) -> np.ndarray:
    """The coarse step at the points of ``psi`` (..., n) whose whole reach lies inside it:
    exp(-iVδ/2)·(kernel ⋆ exp(-iVδ/2)ψ), shape (..., n - len(kernel) + 1) (points reach..n-reach-1)."""
    half = np.exp(-0.5j * interval * np.asarray(potential, dtype=np.float64))
    reach = len(kernel) // 2
    n = psi.shape[-1]
    moved = np.lib.stride_tricks.sliding_window_view(half * psi, len(kernel), axis=-1) @ kernel
    return half[..., reach:n - reach] * moved
