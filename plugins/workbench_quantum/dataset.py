"""The `wavepacket-windows` dataset: a pool of training windows cut from simulated trajectories,
and full simulated trajectories of the test scenarios as evaluation tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

import workbench
from workbench import Bundle, ComponentError, Dataset, Table, TargetInfo

from .scenarios import TRAIN_E0, TRAIN_HB, TRAIN_S0, TRAIN_WB, TRAIN_X0, Family, evaluation_families, training_scenarios
from .potentials import Potential
from .simulator import Scenario, SplitOperatorSimulator
from .windows import HISTORY, WindowPool, build_pool

TARGET = "psi"
POOL_VERSION = 2


@dataclass
class RolloutInputs:
    """What a rollout starts from: the first ``HISTORY`` frames (S, 4, Nx) complex64 and the
    potential (S, Nx) float32 of every test scenario, how many frames to predict, and the grid
    spacing and frame interval of the simulation."""

    initial: np.ndarray
    potential: np.ndarray
    steps: int
    dx: float | None = None
    interval: float | None = None

    def __len__(self) -> int:
        return len(self.initial)

    def take_samples(self, indices: np.ndarray) -> RolloutInputs:
        return RolloutInputs(self.initial[indices], self.potential[indices], self.steps, self.dx, self.interval)


def ssm_simulator(context: workbench.CellContext) -> SplitOperatorSimulator:
    """The cell's `ssm` simulator; outside a study (contract checks, notebooks) the default solver."""
    sim = context.components.get("simulator")
    if sim is None:
        return SplitOperatorSimulator()
    if not isinstance(sim, SplitOperatorSimulator):
        raise ComponentError(f"wavepacket-windows needs the 'ssm' simulator, got {sim.name!r}")
    return sim


def scenario_rows(scenarios, family: Family | None = None) -> pd.DataFrame:
    rows = []
    for i, s in enumerate(scenarios):
        row = {"x0": s.x0, "s0": s.s0, "e0": s.e0, "kind": s.potential.kind, "hb": s.potential.height,
               "wb": s.potential.width if s.potential.kind != "none" else 0.0}
        if family is not None:
            row["family"] = family.name
            if family.swept is not None:
                row["swept"] = family.swept
                row["value"] = family.values[i]
                row["trained"] = family.values[i] in family.trained
        rows.append(row)
    return pd.DataFrame(rows)


class WavepacketWindows(Dataset):
    name = "wavepacket-windows"
    summary = "Thesis §4.2: 23-point × 4-frame windows of simulated wave packets (train) and full test trajectories (evaluations)."
    requires = ("simulator",)

    class Params(workbench.Params):
        x0s: list[float] = Field(default=list(TRAIN_X0), min_length=1, description="training packet centres X0")
        s0s: list[float] = Field(default=list(TRAIN_S0), min_length=1, description="training packet spreads S0")
        e0s: list[float] = Field(default=list(TRAIN_E0), min_length=1, description="training packet energies E0")
        heights: list[float] = Field(default=list(TRAIN_HB), description="training rectangular barrier heights Hb (each with every packet)")
        width: float = Field(default=TRAIN_WB, gt=0, description="training barrier width Wb")
        per_trajectory: int = Field(default=48, ge=1, description="candidate windows cut from each training trajectory")
        active_fraction: float = Field(default=0.9, ge=0.0, le=1.0,
                                       description="share of candidate positions drawn where the packet is (|ψ|²); the rest uniform")
        pool_seed: int = Field(default=0, description="seed of the candidate pool (fixed, so every cell shares one cached pool)")
        margin: int = Field(default=0, ge=0, le=64, description="further grid points kept on each side of every window, for models "
                            "that look around their windows (gru-emulator with a coarse step needs 22); the windows themselves do not change")
        potentials: list[Potential] = Field(default_factory=list, description="further training potentials of any form "
                                            "(wells, sums, expressions in x), each with every packet, after the rectangular barriers")
        tests: Literal["full", "quick"] = Field(default="full", description="test families: full, or one or two scenarios each")
        test_scenarios: dict[str, list[Scenario]] = Field(
            default_factory=dict, description="further test families written in the study: family name → list of scenarios "
            "({x0, s0, e0, potential}); the potential may be any form (negative, several shapes, a sum of terms, an expression in x)")
        families: list[str] | None = Field(default=None, description="evaluate only these test families (default: all)")

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"x0s": [10.0], "s0s": [2.0], "e0s": [2.0], "heights": [3.0], "per_trajectory": 4,
                 "tests": "quick", "families": ["triangular"]}]

    def describe_targets(self) -> dict[str, TargetInfo]:
        return {TARGET: TargetInfo("trajectory", description="ψ(x, t): train rows are next-frame windows (23,) complex; "
                                   "evaluation rows are whole trajectories (frames, Nx) complex")}

    def families(self) -> list[Family]:
        families = evaluation_families(self.params.tests)
        built_in = {f.name for f in families}
        clashes = sorted(built_in & set(self.params.test_scenarios))
        if clashes:
            raise ComponentError(f"test_scenarios names {clashes} are built-in test families; give your families other names")
        families += [Family(name, list(scenarios)) for name, scenarios in self.params.test_scenarios.items()]
        if self.params.families is not None:
            known = {f.name for f in families}
            unknown = sorted(set(self.params.families) - known)
            if unknown:
                raise ComponentError(f"unknown test families {unknown}; choose from {sorted(known)}")
            families = [f for f in families if f.name in self.params.families]
        # Mark the values this dataset actually trains on (Fig. 4.4's red lines).
        trained = {"s0": self.params.s0s, "e0": self.params.e0s, "hb": self.params.heights, "wb": [self.params.width]}
        for family in families:
            if family.swept is not None:
                family.trained = [float(v) for v in trained[family.swept]]
        return families

    def pool(self, context: workbench.CellContext) -> WindowPool:
        """The candidate windows, simulated once per parameter set and cached."""
        p = self.params
        sim = ssm_simulator(context)
        scenarios = training_scenarios(p.x0s, p.s0s, p.e0s, p.heights, p.width, p.potentials)
        key = {"version": POOL_VERSION, "simulator": sim.numerics(), "scenarios": scenarios, "per_trajectory": p.per_trajectory,
               "active_fraction": p.active_fraction, "pool_seed": p.pool_seed, **({"margin": p.margin} if p.margin else {})}

        def compute() -> dict[str, np.ndarray]:
            total = len(scenarios) * sim.params.frames
            with context.progress(f"simulating {len(scenarios)} training trajectories", total) as bar:
                pool = build_pool(lambda batch: sim.frames(batch, context.threads), scenarios, sim.potentials(scenarios),
                                  sim.params.frames, p.per_trajectory, p.active_fraction, p.pool_seed,
                                  sim.params.batch_size, advance=bar.advance, margin=p.margin)
            return pool.arrays()

        return WindowPool.from_arrays(context.cache.arrays("quantum-window-pool", key, compute), sim.dx, sim.frame_interval)

    def trajectories(self, family: Family, context: workbench.CellContext) -> dict[str, np.ndarray]:
        sim = ssm_simulator(context)
        key = {"version": POOL_VERSION, "simulator": sim.numerics(), "scenarios": family.scenarios}
        return context.cache.arrays("quantum-trajectories", key, lambda: sim.simulate(family.scenarios, context))

    def load(self, context: workbench.CellContext) -> Bundle:
        sim = ssm_simulator(context)
        if sim.params.frames <= HISTORY:
            raise ComponentError(f"the simulator stores {sim.params.frames} frames; a rollout needs more than {HISTORY}")
        pool = self.pool(context)
        next_frame = pool.psi[:, HISTORY, pool.window]
        train = Table(inputs=pool, targets={TARGET: next_frame})
        evaluations = {}
        for family in self.families():
            run = self.trajectories(family, context)
            psi = run["psi"]
            inputs = RolloutInputs(psi[:, :HISTORY], run["potential"].astype(np.float32), psi.shape[1] - HISTORY, sim.dx, sim.frame_interval)
            evaluations[family.name] = Table(inputs, {TARGET: psi[:, HISTORY:]}, scenario_rows(family.scenarios, family))
        return Bundle(train=train, evaluations=evaluations, targets=self.describe_targets(),
                      description=f"{len(pool)} candidate windows from {len(np.unique(pool.scenario))} trajectories")
