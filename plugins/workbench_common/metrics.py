"""Standard metrics. Classification predictions are class probabilities ``(n, n_classes)``
(or integer labels for accuracy); regression predictions ``(n,)``; trajectory predictions
``(n, steps, ...)``, possibly complex, scored per step."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np
from pydantic import Field

import workbench
from workbench import ComponentError, Metric, MetricValue, TargetInfo

CLASSIFICATION = frozenset({"classification"})
REGRESSION = frozenset({"regression"})
TRAJECTORY_STEP = "step"


def _labels(truth: np.ndarray) -> np.ndarray:
    return np.asarray(truth).astype(np.int64).ravel()


def _scores(prediction: np.ndarray, n: int) -> np.ndarray:
    scores = np.asarray(prediction, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] != n:
        raise ComponentError(f"classification predictions must be class scores of shape (n, n_classes); got {scores.shape}")
    return scores


def ranked(scores: np.ndarray) -> np.ndarray:
    """Class indices of each row from most to least probable; ties go to the lower class index,
    the order ``argmax`` uses, so top-1 accuracy always equals accuracy."""
    return np.argsort(-scores, axis=1, kind="stable")


class Accuracy(Metric):
    name = "accuracy"
    summary = "Fraction of samples whose most probable class is the true class (ties: the lowest class index)."
    tasks = CLASSIFICATION
    higher_is_better = True

    def score(self, truth: np.ndarray, prediction: np.ndarray, info: TargetInfo) -> float:
        y = _labels(truth)
        pred = np.asarray(prediction)
        predicted = pred.argmax(axis=1) if pred.ndim == 2 else pred.astype(np.int64)
        return float(np.mean(predicted == y))


class TopKAccuracy(Metric):
    name = "top-k-accuracy"
    summary = "Fraction of samples whose true class is among the k most probable classes (ties: lower class index first)."
    tasks = CLASSIFICATION
    higher_is_better = True

    class Params(workbench.Params):
        k: int = Field(default=3, ge=1, description="how many top-ranked classes count as a hit")

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"k": 1}, {"k": 2}]

    @classmethod
    def contract_cases(cls, task, rng):
        from workbench.testing import generic_metric_cases

        # Two-class cases are left out: with k >= 2 every prediction is a hit.
        return [case for case in generic_metric_cases(task, rng) if case[3].n_classes > 2]

    def score(self, truth: np.ndarray, prediction: np.ndarray, info: TargetInfo) -> float:
        y = _labels(truth)
        scores = _scores(prediction, len(y))
        k = min(self.params.k, scores.shape[1])
        top = ranked(scores)[:, :k]
        return float(np.mean((top == y[:, None]).any(axis=1)))


class RocAuc(Metric):
    name = "roc-auc"
    summary = "Area under the ROC curve: binary, or macro one-vs-rest over classes present in the truth."
    tasks = CLASSIFICATION
    higher_is_better = True

    def score(self, truth: np.ndarray, prediction: np.ndarray, info: TargetInfo) -> float:
        from sklearn.metrics import roc_auc_score

        y = _labels(truth)
        scores = _scores(prediction, len(y))
        if scores.shape[1] == 2:
            if len(np.unique(y)) < 2:
                return float("nan")  # undefined with one class: reported as missing, not as a number
            return float(roc_auc_score(y, scores[:, 1]))
        aucs = [
            roc_auc_score(y == c, scores[:, c])
            for c in range(scores.shape[1])
            if 0 < np.sum(y == c) < len(y)
        ]
        return float(np.mean(aucs)) if aucs else float("nan")


def _errors(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    truth = np.asarray(truth)
    prediction = np.asarray(prediction)
    if truth.shape != prediction.shape:
        raise ComponentError(f"prediction shape {prediction.shape} does not match truth shape {truth.shape}")
    return np.abs(prediction - truth)


class _ErrorMetric(Metric):
    tasks = frozenset({"regression", "trajectory"})
    higher_is_better = False
    step_name: ClassVar[str | None] = TRAJECTORY_STEP

    @staticmethod
    @abstractmethod
    def reduce(errors: np.ndarray, axis: int | None = None) -> np.ndarray:
        """Collapse absolute errors along ``axis`` (all axes when ``None``)."""

    def score(self, truth: np.ndarray, prediction: np.ndarray, info: TargetInfo) -> float | MetricValue:
        errors = _errors(truth, prediction)
        if info.task != "trajectory":
            return float(self.reduce(errors.ravel()))
        if errors.ndim < 2:
            raise ComponentError(f"trajectory predictions have shape (n, steps, ...); got {errors.shape}")
        # Average over samples and points for each step (eq. 4.3 for a wave function).
        per_step = self.reduce(np.moveaxis(errors, 1, 0).reshape(errors.shape[1], -1), axis=1)
        return MetricValue(float(per_step.mean()), per_step)


class MeanAbsoluteError(_ErrorMetric):
    name = "mae"
    summary = "Mean absolute error (modulus for complex values); per step for trajectories (thesis eq. 4.3)."

    @staticmethod
    def reduce(errors: np.ndarray, axis: int | None = None) -> np.ndarray:
        return np.mean(errors, axis=axis)


class RootMeanSquaredError(_ErrorMetric):
    name = "rmse"
    summary = "Root mean squared error (modulus for complex values); per step for trajectories."

    @staticmethod
    def reduce(errors: np.ndarray, axis: int | None = None) -> np.ndarray:
        return np.sqrt(np.mean(errors**2, axis=axis))


class R2(Metric):
    name = "r2"
    summary = "Coefficient of determination R² of a regression."
    tasks = REGRESSION
    higher_is_better = True

    def score(self, truth: np.ndarray, prediction: np.ndarray, info: TargetInfo) -> float:
        from sklearn.metrics import r2_score

        truth = np.asarray(truth, dtype=np.float64).ravel()
        if len(truth) < 2:
            return float("nan")
        return float(r2_score(truth, np.asarray(prediction, dtype=np.float64).ravel()))
