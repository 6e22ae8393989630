"""An example third-party plugin: a mean-predicting baseline model and a max-error metric.

It touches workbench only through its public API (``workbench`` and ``workbench.hookimpl``)
and is found through the ``workbench.plugins`` entry point in its pyproject.toml.
"""

from __future__ import annotations

import time

import numpy as np
from pydantic import Field

import workbench


class MeanPredictor(workbench.Model):
    name = "mean-predictor"
    summary = "Predicts the training mean (regression) or the class frequencies (classification)."
    tasks = frozenset({"regression", "classification"})

    class Params(workbench.Params):
        delay_seconds: float = Field(default=0.0, ge=0, description="sleep this long per epoch (to test interruption)")
        epochs: int = Field(default=1, ge=1, description="pretend epochs, each checkpointed")

    def fit(self, train: workbench.Table, context: workbench.CellContext) -> None:
        info = context.targets[context.target]
        y = np.asarray(train.targets[context.target], dtype=float)
        if info.task == "classification":
            value = np.bincount(y.astype(int), minlength=info.n_classes) / len(y)
        else:
            value = float(y.mean())
        self.value_ = value
        state = context.load_checkpoint() or {"epoch": 0}
        with context.progress("fit", total=self.params.epochs) as bar:
            bar.advance(state["epoch"])
            for epoch in range(state["epoch"], self.params.epochs):
                time.sleep(self.params.delay_seconds)
                context.record("epochs-run", 1.0, step=epoch, step_name="epoch")
                context.end_epoch(epoch, self.predict)
                context.save_checkpoint({"epoch": epoch + 1})
                bar.advance(1)

    def predict(self, table: workbench.Table) -> np.ndarray:
        if isinstance(self.value_, np.ndarray):
            return np.tile(self.value_, (len(table), 1))
        return np.full(len(table), self.value_)


class MaxError(workbench.Metric):
    name = "max-error"
    summary = "Largest absolute error over the samples."
    tasks = frozenset({"regression"})
    higher_is_better = False

    def score(self, truth, prediction, info):
        return float(np.max(np.abs(np.asarray(prediction, dtype=float) - np.asarray(truth, dtype=float))))


@workbench.hookimpl
def register_models(register):
    register(MeanPredictor)


@workbench.hookimpl
def register_metrics(register):
    register(MaxError)
