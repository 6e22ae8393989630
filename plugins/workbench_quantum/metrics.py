"""Normalized correlation of predicted and true wave functions (thesis eq. 4.4).

C = |∑ ψ̂*_i ψ_i| / (|ψ̂| |ψ|) per frame: the cosine of the angle between the two complex
vectors, 1 for a perfect prediction up to amplitude. (MAE, eq. 4.3, is the common plugin's
``mae``, which averages |ψ̂ - ψ| over points and scenarios per step.)
"""

from __future__ import annotations

import numpy as np

from workbench import ComponentError, Metric, MetricValue, TargetInfo


def correlation(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """C for every (scenario, frame): arrays (S, F, Nx) → (S, F)."""
    truth = np.asarray(truth)
    prediction = np.asarray(prediction)
    if truth.shape != prediction.shape or truth.ndim != 3:
        raise ComponentError(f"normalized correlation needs truth and prediction of the same shape (scenarios, frames, points); "
                             f"got {truth.shape} and {prediction.shape}")
    t = truth.astype(np.complex128)
    p = prediction.astype(np.complex128)
    inner = np.abs(np.sum(np.conj(p) * t, axis=-1))
    norms = np.linalg.norm(p, axis=-1) * np.linalg.norm(t, axis=-1)
    # A frame where either function vanishes has no direction; it scores 0 (no agreement).
    return np.where(norms > 0, inner / np.where(norms > 0, norms, 1.0), 0.0)


class NormalizedCorrelation(Metric):
    name = "normalized-correlation"
    summary = "Thesis eq. 4.4 per frame (mean over scenarios); value ⟨C⟩ = mean over frames."
    tasks = frozenset({"trajectory"})
    higher_is_better = True
    step_name = "frame"

    def score(self, truth: np.ndarray, prediction: np.ndarray, info: TargetInfo) -> MetricValue:
        per_frame = correlation(truth, prediction).mean(axis=0)
        return MetricValue(float(per_frame.mean()), per_frame)


class ScenarioCorrelation(Metric):
    name = "scenario-correlation"
    summary = "⟨C⟩ (eq. 4.4 averaged over frames) of each scenario of a table, in table order; value = their mean."
    tasks = frozenset({"trajectory"})
    higher_is_better = True
    step_name = "scenario"

    def score(self, truth: np.ndarray, prediction: np.ndarray, info: TargetInfo) -> MetricValue:
        per_scenario = correlation(truth, prediction).mean(axis=1)
        return MetricValue(float(per_scenario.mean()), per_scenario)
