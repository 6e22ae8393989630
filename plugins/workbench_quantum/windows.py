"""Training windows: 23 grid points × 4 consecutive frames × (Re ψ, Im ψ, V), target the next
frame's 23 × (Re ψ, Im ψ).

The full training set (2,835 trajectories × 404 frames × 1024 points, ≈ 11 GB in complex64) is
never held: :func:`build_pool` advances every scenario batch frame by frame, keeps only the last
five frames, and cuts each window out as soon as its five frames exist. The result is a *pool of
candidate windows* (a few per trajectory, drawn at random times and places); curricula later
decide which candidates a model trains on, under a sample budget.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

WINDOW = 23
HISTORY = 4


@dataclass
class WindowPool:
    """Candidate windows with what curricula need to weigh them.

    ``psi``: (M, 5, 23 + 2·margin) complex64, frames t..t+4 of the window (the last is the
    target) with ``margin`` further points on each side (0 by default; a model that looks
    around its windows, like the emulator's coarse step, asks the dataset for them);
    ``potential``: (M, 23 + 2·margin) float32; ``scenario``, ``frame``: where each window came
    from; ``start``: its centre's grid point; ``barrier``: whether the window touches a non-zero
    potential; ``dx``, ``interval``: the grid spacing and frame interval of the simulation.
    """

    psi: np.ndarray
    potential: np.ndarray
    scenario: np.ndarray
    frame: np.ndarray
    start: np.ndarray
    dx: float | None = None
    interval: float | None = None

    def __len__(self) -> int:
        return len(self.psi)

    @property
    def margin(self) -> int:
        return (self.psi.shape[-1] - WINDOW) // 2

    @property
    def window(self) -> slice:
        """The window's own points within the stored (margin-widened) ones."""
        return slice(self.margin, self.margin + WINDOW)

    @property
    def barrier(self) -> np.ndarray:
        return (self.potential[:, self.window] != 0).any(axis=1)

    def take_samples(self, indices: np.ndarray) -> WindowPool:
        idx = np.asarray(indices, dtype=np.int64)
        return WindowPool(self.psi[idx], self.potential[idx], self.scenario[idx], self.frame[idx], self.start[idx], self.dx, self.interval)

    def inputs(self, indices: np.ndarray | None = None) -> np.ndarray:
        """Model inputs (n, 4, 23, 3) float32: Re ψ, Im ψ, V for the 4 history frames."""
        psi = self.psi if indices is None else self.psi[indices]
        potential = self.potential if indices is None else self.potential[indices]
        history, potential = psi[:, :HISTORY, self.window], potential[:, self.window]
        v = np.broadcast_to(potential[:, None, :], history.shape)
        return np.stack([history.real, history.imag, v], axis=-1).astype(np.float32)

    def targets(self, indices: np.ndarray | None = None) -> np.ndarray:
        """Next-frame targets (n, 23, 2) float32: Re ψ, Im ψ."""
        nxt = self.psi[:, HISTORY, self.window] if indices is None else self.psi[indices, HISTORY, self.window]
        return np.stack([nxt.real, nxt.imag], axis=-1).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"psi": self.psi, "potential": self.potential, "scenario": self.scenario, "frame": self.frame, "start": self.start}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], dx: float | None = None, interval: float | None = None) -> WindowPool:
        return cls(arrays["psi"], arrays["potential"], arrays["scenario"], arrays["frame"], arrays["start"], dx, interval)


def combine_weights(window: int, sigma: float) -> np.ndarray:
    """Gaussian weight of each window offset when a point's predictions (from the windows
    containing it) are combined in a rollout."""
    offsets = np.arange(window) - window // 2
    return np.exp(-0.5 * (offsets / sigma) ** 2)


def image_indices(nx: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices into a frame with one zero column appended (index ``nx``, the right wall) and
    signs that extend it by ``pad`` points beyond each wall with its mirror images:
    ψ(-x) = -ψ(x) about the wall x_0 = 0 and ψ(Lx + x) = -ψ(Lx - x) about the right wall.
    This is exactly the hard-wall solution continued outside the box (the method of images),
    so windows centred anywhere in the box, walls included, see what the physics implies."""
    left = np.arange(pad, 0, -1)
    right = nx - np.arange(pad)
    idx = np.concatenate([left, np.arange(nx), right])
    sign = np.concatenate([-np.ones(pad), np.ones(nx), -np.ones(pad)])
    return idx, sign


def extend_psi(psi: np.ndarray, pad: int) -> np.ndarray:
    """(..., Nx) → (..., Nx + 2·pad): ψ continued antisymmetrically beyond both walls."""
    nx = psi.shape[-1]
    idx, sign = image_indices(nx, pad)
    padded = np.concatenate([psi, np.zeros(psi.shape[:-1] + (1,), dtype=psi.dtype)], axis=-1)
    return padded[..., idx] * sign.astype(padded.real.dtype)


def extend_potential(v: np.ndarray, pad: int) -> np.ndarray:
    """(..., Nx) → (..., Nx + 2·pad): V continued symmetrically beyond both walls."""
    nx = v.shape[-1]
    idx, _ = image_indices(nx, pad)
    padded = np.concatenate([v, v[..., -1:]], axis=-1)
    return padded[..., idx]


def window_density(frame: np.ndarray, active_fraction: float) -> np.ndarray:
    """Probability of a window centred at each grid point (rows of ``frame``: (n, Nx)
    complex) — a mixture of uniform over the box and |ψ|² at the centre, so most candidates
    see the packet but some see empty space (which a rollout must keep empty)."""
    density = np.abs(frame) ** 2
    density /= density.sum(axis=1, keepdims=True) + 1e-30
    return active_fraction * density + (1.0 - active_fraction) / frame.shape[1]


def build_pool(
    frames: Callable[[Sequence], Iterator[np.ndarray]],
    scenarios: Sequence,
    potentials: np.ndarray,
    n_frames: int,
    per_trajectory: int,
    active_fraction: float,
    seed: int,
    batch_size: int,
    advance: Callable[[int], None] | None = None,
    margin: int = 0,
) -> WindowPool:
    """Simulate ``scenarios`` in batches and cut ``per_trajectory`` random windows from each.

    ``frames(batch)`` yields a batch's frames one (b, Nx) array at a time; ``potentials`` is
    (B, Nx). Start frames are drawn uniformly among those with four successors; positions from
    :func:`window_density` at the window's first frame; a window near a wall reaches into the
    mirror images beyond it (:func:`extend_psi`), as in the rollout. ``margin`` more points are
    kept on each side of every window; the windows themselves do not depend on it.
    """
    rng = np.random.default_rng(seed)
    n_scen = len(scenarios)
    span = HISTORY + 1
    first = rng.integers(0, n_frames - HISTORY, size=(n_scen, per_trajectory))
    u = rng.random((n_scen, per_trajectory))
    m = n_scen * per_trajectory
    width = WINDOW + 2 * margin
    psi_out = np.empty((m, span, width), dtype=np.complex64)
    v_out = np.empty((m, width), dtype=np.float32)
    start_out = np.empty(m, dtype=np.int32)
    offsets = np.arange(width)
    half = WINDOW // 2 + margin
    potentials = extend_potential(np.asarray(potentials), half)
    for lo in range(0, n_scen, batch_size):
        hi = min(n_scen, lo + batch_size)
        recent: deque[np.ndarray] = deque(maxlen=span)
        for f, frame in enumerate(frames(scenarios[lo:hi])):
            recent.append(frame)
            if advance is not None:
                advance(hi - lo)
            if f < HISTORY:
                continue
            rows, ks = np.nonzero(first[lo:hi] == f - HISTORY)
            if len(rows) == 0:
                continue
            stack = np.stack([r[rows] for r in recent], axis=1)  # (n, 5, Nx)
            cdf = np.cumsum(window_density(stack[:, 0], active_fraction), axis=1)
            # The window centred at grid point c (with its margin) starts at c in the image-extended frame.
            starts = np.minimum((cdf < u[lo + rows, ks][:, None]).sum(axis=1), cdf.shape[1] - 1)
            stack = extend_psi(stack, half)
            cols = starts[:, None] + offsets[None, :]
            out = (lo + rows) * per_trajectory + ks
            psi_out[out] = np.take_along_axis(stack, cols[:, None, :], axis=2)
            v_out[out] = np.take_along_axis(potentials[lo + rows], cols, axis=1)
            start_out[out] = starts
    scenario = np.repeat(np.arange(n_scen, dtype=np.int32), per_trajectory)
    return WindowPool(psi_out, v_out, scenario, first.reshape(-1).astype(np.int32), start_out)
