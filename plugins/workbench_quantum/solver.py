"""Split-operator (Strang) solver of the 1D time-dependent Schrödinger equation, batched.

    i ∂ψ/∂t = [-½ ∂²/∂x² + V(x)] ψ        (atomic units, ħ = m = 1)

on a closed box 0 ≤ x < Lx with hard walls (ψ = 0 at x = 0 and x = Lx). As in the thesis
(eq. 4.1, "1024 meshes"), the box is cut into Nx meshes of Δx = Lx/Nx and a frame holds the Nx
points x_j = j·Δx, j = 0..Nx-1; x_0 is the left wall (ψ = 0 there) and the right wall x_Nx = Lx
is not stored. The walls are built into the kinetic step: the Nx-1 interior points are exactly
the grid of the type-I discrete sine transform (of length Nx-1, i.e. an FFT of length 2·Nx,
fast for Nx a power of two), whose basis functions sin(π m x/Lx) are the eigenfunctions of
-½∂² with those walls. So the kinetic propagator exp(-i T Δt) is a
diagonal phase in the sine basis and is applied exactly; only the splitting of T and V is
approximate (second order in Δt, Strang: ½V · T · ½V).

Every scenario of a batch is one row of a (B, Nx) array and all rows advance together: a step
is two batched sine transforms (scipy.fft.dst along the last axis) and two elementwise phase
multiplications, with no Python loop over scenarios or grid points.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

def grid(lx: float, nx: int) -> np.ndarray:
    """The frame's points x_j = j·Lx/Nx, j = 0..Nx-1 (x_0 is the left wall, where ψ = 0)."""
    return np.arange(nx, dtype=np.float64) * (lx / nx)


def gaussian_packets(x: np.ndarray, x0: np.ndarray, s0: np.ndarray, e0: np.ndarray) -> np.ndarray:
    """Normalised Gaussian packets, one row per scenario: centre X0, spread S0 (the standard
    deviation of |ψ|²) and mean wave number k0 = √(2 E0)."""
    x0, s0, e0 = (np.asarray(v, dtype=np.float64)[:, None] for v in (x0, s0, e0))
    k0 = np.sqrt(2.0 * e0)
    psi = np.exp(-((x[None, :] - x0) ** 2) / (4.0 * s0**2) + 1j * k0 * x[None, :])
    psi[:, x <= 0.0] = 0.0  # the wall
    dx = x[1] - x[0]
    # Normalise on the grid (∑|ψ|²Δx = 1), so the discrete norm is exactly what is conserved.
    return psi / np.sqrt(np.sum(np.abs(psi) ** 2, axis=1, keepdims=True) * dx)


def free_gaussian(x: np.ndarray, t: float, x0: float, s0: float, e0: float) -> np.ndarray:
    """Closed-form free evolution of the packet of :func:`gaussian_packets` on the infinite line
    (valid in the box while the packet stays clear of the walls)."""
    k0 = np.sqrt(2.0 * e0)
    alpha = 1.0 + 1j * t / (2.0 * s0**2)
    amplitude = (2.0 * np.pi * s0**2) ** -0.25 / np.sqrt(alpha)
    return amplitude * np.exp(-((x - x0 - k0 * t) ** 2) / (4.0 * s0**2 * alpha) + 1j * k0 * (x - k0 * t / 2.0))


class SplitOperator:
    """Strang split-operator propagator for a batch of potentials on one grid.

    Arrays handed in and out are whole frames (B, Nx) with the wall point x_0 = 0 first;
    internally only the Nx-1 interior points are stepped.
    """

    def __init__(self, lx: float, nx: int, dt: float, potentials: np.ndarray, dtype: type = np.complex128, workers: int = 1):
        from scipy import fft  # imported here: registering the plugin must not import scipy

        self._dst = fft.dst
        self.lx, self.nx, self.dt = float(lx), int(nx), float(dt)
        self.dtype = np.dtype(dtype)
        self.workers = max(1, int(workers))
        self.x = grid(lx, nx)
        self.dx = self.x[1] - self.x[0]
        potentials = np.atleast_2d(np.asarray(potentials, dtype=np.float64))[:, 1:]
        # Sine-basis wave numbers k_m = π m / Lx, m = 1..Nx-1; kinetic energy k²/2.
        k = np.pi * np.arange(1, nx) / lx
        self.kinetic_phase = np.exp(-0.5j * k**2 * dt).astype(self.dtype)
        self.half_potential_phase = np.exp(-0.5j * potentials * dt).astype(self.dtype)
        self.potential_phase = (self.half_potential_phase**2).astype(self.dtype)

    def _kinetic(self, psi: np.ndarray) -> np.ndarray:
        # The orthonormal type-I sine transform is its own inverse.
        coefficients = self._dst(psi, type=1, norm="ortho", axis=-1, workers=self.workers)
        coefficients *= self.kinetic_phase
        return self._dst(coefficients, type=1, norm="ortho", axis=-1, workers=self.workers)

    def advance(self, psi: np.ndarray, steps: int) -> np.ndarray:
        """ψ after ``steps`` Strang steps of Δt (negative Δt runs time backwards). The inner
        half potential steps of consecutive steps are merged into one full step."""
        inner = np.asarray(psi, dtype=self.dtype)[:, 1:] * self.half_potential_phase
        for step in range(steps):
            inner = self._kinetic(inner)
            inner *= self.potential_phase if step < steps - 1 else self.half_potential_phase
        out = np.zeros((inner.shape[0], self.nx), dtype=self.dtype)
        out[:, 1:] = inner
        return out

    def frames(self, psi0: np.ndarray, n_frames: int, steps_per_frame: int) -> Iterator[np.ndarray]:
        """Yield ψ at frames 0, 1, ..., n_frames-1 (each ``steps_per_frame`` steps apart), one
        (B, Nx) array at a time, so a caller never needs the whole trajectory in memory."""
        psi = np.asarray(psi0, dtype=self.dtype)
        yield psi
        for _ in range(n_frames - 1):
            psi = self.advance(psi, steps_per_frame)
            yield psi

    def trajectory(self, psi0: np.ndarray, n_frames: int, steps_per_frame: int) -> np.ndarray:
        """All frames stacked: shape (B, n_frames, Nx)."""
        out = np.empty((psi0.shape[0], n_frames, self.nx), dtype=self.dtype)
        for i, frame in enumerate(self.frames(psi0, n_frames, steps_per_frame)):
            out[:, i] = frame
        return out


def norms(psi: np.ndarray, dx: float) -> np.ndarray:
    """∑|ψ|²Δx along the last axis."""
    return np.sum(np.abs(psi) ** 2, axis=-1) * dx
