"""The `ssm` simulator component: Gaussian wave packets in a closed box, batched over scenarios.

Default numerics (see docs/quantum.md for the measured error): Lx = 100 a.u. cut into Nx = 1024
meshes (Δx ≈ 0.098), Δt = 0.00625 a.u., 4 steps per frame (frame interval 0.025 a.u.), 404 frames
(4 given to the emulator + 400 rolled out). The fastest training packet (E0 = 9, k0 ≈ 4.24)
moves ≈ 1.1 grid points per frame; its wavelength spans ≈ 15 grid points. Δt is set by the sharp
rectangular barrier: the splitting error grows abruptly once ½k_max²Δt (k_max = π/Δx) passes ≈ π.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
from pydantic import Field

import workbench
from workbench import ComponentError, Simulator

from .potentials import Potential, potential_on_grid
from .solver import SplitOperator, gaussian_packets, grid


class Scenario(workbench.Params):
    """One wave packet and the potential it moves in."""

    x0: float = Field(default=40.0, description="packet centre X0 (a.u.)")
    s0: float = Field(default=2.0, gt=0.0, description="packet spread S0: standard deviation of |ψ|² (a.u.)")
    e0: float = Field(default=4.0, ge=0.0, description="packet energy E0 (a.u.); mean wave number k0 = √(2 E0)")
    potential: Potential = Field(default_factory=Potential, description="the potential landscape")


class SplitOperatorSimulator(Simulator):
    name = "ssm"
    summary = "Split-operator (Strang) solver of the 1D Schrödinger equation in a hard-walled box, batched over scenarios."
    Scenario = Scenario

    class Params(workbench.Params):
        lx: float = Field(default=100.0, gt=0.0, description="box length Lx (a.u.); hard walls at 0 and Lx")
        nx: int = Field(default=1024, ge=32, description="number of meshes Nx (frame points; a power of two is fastest)")
        dt: float = Field(default=0.00625, gt=0.0, description="internal time step Δt (a.u.)")
        steps_per_frame: int = Field(default=4, ge=1, description="internal steps between stored frames")
        frames: int = Field(default=404, ge=2, description="stored frames, the initial state included")
        precision: Literal["complex64", "complex128"] = Field(default="complex64", description="dtype of the wave function")
        batch_size: int = Field(default=512, ge=1, description="scenarios advanced together as one array (results do not depend on it; "
                                "512 keeps a batch in the CPU caches, measured fastest — benchmarks/quantum_generation.py)")

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"nx": 128, "frames": 6, "lx": 40.0, "dt": 0.01}]

    @classmethod
    def contract_scenarios(cls) -> list[dict]:
        return [{"x0": 10.0, "s0": 1.5, "e0": 2.0},
                {"x0": 15.0, "s0": 2.0, "e0": 4.0, "potential": {"kind": "rectangular", "height": 3.0, "width": 3.0}}]

    @property
    def frame_interval(self) -> float:
        return self.params.dt * self.params.steps_per_frame

    def numerics(self) -> dict:
        """The parameters its results depend on (cache keys): all but the batch size — every
        scenario's frames are bit-identical whatever batch it is advanced in (tested)."""
        return self.params.model_dump(exclude={"batch_size"})

    @property
    def dx(self) -> float:
        return self.params.lx / self.params.nx

    def x(self) -> np.ndarray:
        return grid(self.params.lx, self.params.nx)

    def potentials(self, scenarios: Sequence[Scenario]) -> np.ndarray:
        """V(x) of every scenario, shape (B, Nx), float64."""
        x = self.x()
        return np.stack([potential_on_grid(self._scenario(s).potential, x, self.params.lx) for s in scenarios])

    def initial_states(self, scenarios: Sequence[Scenario]) -> np.ndarray:
        scenarios = [self._scenario(s) for s in scenarios]
        for s in scenarios:
            if not 0.0 < s.x0 < self.params.lx:
                raise ComponentError(f"packet centre x0={s.x0} lies outside the box (0, {self.params.lx}); choose 0 < x0 < lx")
        return gaussian_packets(self.x(), np.array([s.x0 for s in scenarios]), np.array([s.s0 for s in scenarios]),
                                np.array([s.e0 for s in scenarios]))

    def _scenario(self, s: Scenario | dict) -> Scenario:
        return s if isinstance(s, Scenario) else Scenario.model_validate(s)

    def frames(self, scenarios: Sequence[Scenario], threads: int = 1) -> Iterator[np.ndarray]:
        """Frames 0..frames-1 of all ``scenarios`` at once, one (B, Nx) array at a time (for
        callers that must not hold whole trajectories)."""
        p = self.params
        solver = SplitOperator(p.lx, p.nx, p.dt, self.potentials(scenarios), dtype=np.dtype(p.precision), workers=threads)
        yield from solver.frames(self.initial_states(scenarios), p.frames, p.steps_per_frame)

    def simulate(self, scenarios: Sequence[Scenario], context: workbench.CellContext | None = None) -> dict[str, np.ndarray]:
        """``psi`` (B, frames, Nx) and ``potential`` (B, Nx) for every scenario."""
        p = self.params
        scenarios = [self._scenario(s) for s in scenarios]
        threads = context.threads if context is not None else 1
        psi = np.empty((len(scenarios), p.frames, p.nx), dtype=np.dtype(p.precision))
        for start in range(0, len(scenarios), p.batch_size):
            batch = scenarios[start:start + p.batch_size]
            for i, frame in enumerate(self.frames(batch, threads)):
                psi[start:start + len(batch), i] = frame
        return {"psi": psi, "potential": self.potentials(scenarios)}
