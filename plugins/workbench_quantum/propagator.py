"""The `coarse-propagator` model: the emulator's coarse physics step alone, iterated, no network.

It is the peer of `gru-emulator` with ``coarse_step: split-operator``: what that emulator's
rollout would be if its network predicted no correction at all. It learns nothing (``fit``
only checks its input), so it shows how much of a hybrid emulator's accuracy is the physics
step's and how much the trained correction's.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

import workbench
from workbench import ComponentError, Model, Table

from .coarse_step import apply, rollout_kernel
from .curricula import INTERFACE
from .dataset import RolloutInputs
from .windows import WINDOW, WindowPool, extend_potential, extend_psi


def coarse_rollout(last: np.ndarray, potential: np.ndarray, steps: int, dx: float, interval: float, sigma: float,
                   conserve_norm: bool = True) -> np.ndarray:
    """Iterate the coarse step from the frames ``last`` (S, Nx): (S, steps, Nx) complex64."""
    kernel = rollout_kernel(dx, interval, sigma)
    reach = WINDOW - 1
    v_ext = extend_potential(np.asarray(potential, dtype=np.float64), reach)
    psi = np.asarray(last, dtype=np.complex128)
    norm0 = np.linalg.norm(psi, axis=1, keepdims=True)
    out = np.empty((psi.shape[0], steps, psi.shape[1]), dtype=np.complex64)
    for step in range(steps):
        psi = apply(extend_psi(psi, reach), v_ext, kernel, interval)
        psi[:, 0] = 0.0  # the hard wall
        if conserve_norm:  # as the emulator's rollout does
            psi *= norm0 / np.maximum(np.linalg.norm(psi, axis=1, keepdims=True), 1e-30)
        out[:, step] = psi
    return out


class CoarsePropagator(Model):
    name = "coarse-propagator"
    summary = "Peer of the hybrid emulator: its coarse split-operator step alone (FD kinetic, exact potential phase), iterated; learns nothing."
    tasks = frozenset({"trajectory"})
    curricula = frozenset({INTERFACE})  # accepted, so that it runs in the same study as the emulators; it draws nothing

    class Params(workbench.Params):
        sigma: float = Field(default=4.0, gt=0, description="std (grid points) of the Gaussian weights averaging the windowed step "
                             "(as the gru-emulator parameter of the same name)")
        conserve_norm: bool = Field(default=True, description="rescale each frame to the initial ∑|ψ|² (as the gru-emulator)")

    frameworks: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def contract_bundle(cls, task, rng):
        from .model import GruEmulator

        return GruEmulator.contract_bundle(task, rng)

    def fit(self, train: Table, context: workbench.CellContext) -> None:
        if not isinstance(train.inputs, WindowPool):
            raise ComponentError("coarse-propagator runs in a study of dataset 'wavepacket-windows'; "
                                 f"got inputs of type {type(train.inputs).__name__}")

    def predict(self, table: Table) -> np.ndarray:
        inputs = table.inputs
        if not isinstance(inputs, RolloutInputs) or inputs.dx is None or inputs.interval is None:
            raise ComponentError("coarse-propagator rolls out RolloutInputs with their grid spacing and frame interval "
                                 "(dataset 'wavepacket-windows' evaluation tables)")
        return coarse_rollout(inputs.initial[:, -1], inputs.potential, inputs.steps, inputs.dx, inputs.interval,
                              self.params.sigma, self.params.conserve_norm)
