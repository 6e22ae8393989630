"""Dense-data curricula for window training: which candidate windows a model trains on, and
when, under a fixed sample budget.

Interface ``window-sampler`` (understood by ``gru-emulator``): the model draws the budget in
``rounds``; before each round it asks :meth:`WindowCurriculum.weights` for a sampling weight per
candidate window of the pool (given the windows drawn so far and the current model's one-step
error on each), draws that round's share without replacement in proportion to the weights, and
trains on everything drawn so far. Every curriculum thus spends the same budget and the same
training compute; only the choice of windows differs.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np
from pydantic import Field

import workbench
from workbench import ComponentError, Curriculum

from .windows import WindowPool

INTERFACE = "window-sampler"


class BudgetParams(workbench.Params):
    budget: int = Field(default=40_000, ge=1, description="windows drawn for training in total (the generated-sample budget)")
    rounds: int = Field(default=4, ge=1, description="draw rounds; the model trains between rounds")


class WindowCurriculum(Curriculum):
    interface: ClassVar[str] = INTERFACE
    Params = BudgetParams

    def schedule(self, available: int) -> list[int]:
        """Windows drawn in each round (they add up to the budget)."""
        budget = self.params.budget
        if budget > available:
            raise ComponentError(f"curriculum budget {budget} exceeds the {available} candidate windows of the pool; "
                                 "lower the budget or raise the dataset's per_trajectory")
        share = np.full(self.params.rounds, budget // self.params.rounds)
        share[: budget % self.params.rounds] += 1
        return [int(s) for s in share]

    @abstractmethod
    def weights(self, pool: WindowPool, drawn: np.ndarray, errors: np.ndarray | None) -> np.ndarray:
        """A non-negative weight per candidate window (``drawn``: indices drawn so far;
        ``errors``: the current model's one-step error on each of them, or ``None`` before
        training)."""

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"budget": 100, "rounds": 2}]


class UniformWindows(WindowCurriculum):
    name = "uniform-windows"
    summary = "Every candidate window equally likely (the baseline)."

    def weights(self, pool, drawn, errors):
        return np.ones(len(pool))


class BarrierWeightedWindows(WindowCurriculum):
    name = "barrier-weighted-windows"
    summary = "Thesis §4.2.2.2: windows touching the potential barrier are favoured by a fixed factor."

    class Params(BudgetParams):
        barrier_weight: float = Field(default=5.0, gt=0.0, description="weight of a window touching the barrier (others weigh 1)")

    def weights(self, pool, drawn, errors):
        return np.where(pool.barrier, self.params.barrier_weight, 1.0)


class ErrorDrivenWindows(WindowCurriculum):
    name = "error-driven-windows"
    summary = "Adaptive: groups (scenario × barrier/free region) are re-weighted by the current model's one-step error."

    class Params(BudgetParams):
        floor: float = Field(default=0.2, ge=0.0, le=1.0, description="share of each weight kept uniform, so no group is starved")
        power: float = Field(default=1.0, gt=0.0, description="exponent on the relative error (higher = greedier)")

    @staticmethod
    def groups(pool: WindowPool) -> np.ndarray:
        """Group of each candidate: its trajectory, split into windows touching the barrier or not."""
        return pool.scenario.astype(np.int64) * 2 + pool.barrier.astype(np.int64)

    def weights(self, pool, drawn, errors):
        if errors is None or len(drawn) == 0:
            return np.ones(len(pool))
        groups = self.groups(pool)
        n_groups = int(groups.max()) + 1
        drawn_groups = groups[drawn]
        total = np.bincount(drawn_groups, weights=errors, minlength=n_groups)
        count = np.bincount(drawn_groups, minlength=n_groups)
        mean = float(np.mean(errors))
        # A group with no drawn window yet is given the mean error: neither favoured nor starved.
        group_error = np.where(count > 0, total / np.maximum(count, 1), mean)
        relative = (group_error / max(mean, 1e-30)) ** self.params.power
        return self.params.floor + (1.0 - self.params.floor) * relative[groups]


def draw(weights: np.ndarray, available: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` indices among ``available`` (bool mask), without replacement, with probability
    proportional to ``weights`` (Efraimidis–Spirakis: the largest log w + Gumbel keys)."""
    idx = np.flatnonzero(available & (weights > 0))
    if count > len(idx):
        raise ComponentError(f"cannot draw {count} windows: only {len(idx)} candidates with positive weight remain")
    keys = np.log(weights[idx]) + rng.gumbel(size=len(idx))
    chosen = np.argpartition(-keys, count - 1)[:count] if count < len(idx) else np.arange(len(idx))
    return np.sort(idx[chosen])
