"""scikit-learn models that pick the classifier or the regressor from the target's task."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import workbench
from workbench import ComponentError, Model, Table


def as_matrix(inputs: Any) -> np.ndarray:
    """Model inputs as a 2-D float array (one row per sample)."""
    try:
        matrix = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ComponentError(
            f"these models need numeric inputs; got {type(inputs).__name__} ({error}). "
            "Add a representation that turns the inputs into numbers."
        ) from None
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2:
        matrix = matrix.reshape(len(matrix), -1)
    if not np.isfinite(matrix).all():
        raise ComponentError("the model inputs contain NaN or infinite values; impute or drop them in the dataset or representation")
    return matrix


class SklearnModel(Model):
    """Shared fit/predict for scikit-learn estimators; subclasses build the estimator."""

    tasks: ClassVar[frozenset[str]] = frozenset({"classification", "regression"})

    @abstractmethod
    def estimator(self, task: str, seed: int, threads: int) -> BaseEstimator:
        """The unfitted scikit-learn estimator for ``task``."""

    def fit(self, train: Table, context: workbench.CellContext) -> None:
        info = context.targets[context.target]
        self.task_ = info.task
        if info.task not in self.tasks:
            raise ComponentError(f"model {self.name!r} cannot fit a {info.task!r} target")
        X = as_matrix(train.inputs)
        y = np.asarray(train.targets[context.target])
        if info.task == "classification":
            self.n_classes_ = info.n_classes or int(y.max()) + 1
            y = y.astype(np.int64)
            if len(np.unique(y)) < 2:
                raise ComponentError(f"target {context.target!r} has a single class in the training set; a classifier needs two")
        self.estimator_ = self.estimator(info.task, context.seed, context.threads)
        self.estimator_.fit(X, y)
        if "n_jobs" in self.estimator_.get_params():
            # Threads add tree predictions in whatever order they finish, which changes the
            # last bits; one thread keeps predictions identical run to run.
            self.estimator_.set_params(n_jobs=1)

    def predict(self, table: Table) -> np.ndarray:
        X = as_matrix(table.inputs)
        if self.task_ == "regression":
            return np.asarray(self.estimator_.predict(X), dtype=np.float64)
        proba = self.estimator_.predict_proba(X)
        # Classes absent from the training set get probability zero, so columns always mean
        # classes 0..n_classes-1.
        full = np.zeros((len(X), self.n_classes_))
        full[:, self.estimator_.classes_.astype(int)] = proba
        return full


class Linear(SklearnModel):
    name = "linear"
    summary = "Linear baseline: logistic regression (classification) or least squares / ridge (regression), on standardised inputs."

    class Params(workbench.Params):
        C: float = Field(default=1.0, gt=0, description="inverse L2 strength of the logistic regression")
        alpha: float = Field(default=0.0, ge=0, description="ridge penalty for regression (0: ordinary least squares)")
        standardize: bool = Field(default=True, description="scale inputs to zero mean and unit variance first")
        max_iter: int = Field(default=2000, ge=10, description="solver iterations for logistic regression")

    def estimator(self, task: str, seed: int, threads: int) -> BaseEstimator:
        p = self.params
        if task == "classification":
            core = LogisticRegression(C=p.C, max_iter=p.max_iter, random_state=seed)
        else:
            core = Ridge(alpha=p.alpha, random_state=seed) if p.alpha > 0 else LinearRegression()
        return make_pipeline(StandardScaler(), core) if p.standardize else core


class RandomForest(SklearnModel):
    name = "random-forest"
    summary = "Random forest classifier or regressor (scikit-learn), seeded by the cell."

    class Params(workbench.Params):
        n_estimators: int = Field(default=100, ge=1, description="number of trees")
        max_depth: int | None = Field(default=None, ge=1, description="maximum tree depth (null: unlimited)")
        min_samples_leaf: int = Field(default=1, ge=1, description="minimum samples in a leaf")
        max_features: float | Literal["sqrt", "log2"] | None = Field(
            default=None, description="features tried per split (null: scikit-learn's default for the task)"
        )

    def estimator(self, task: str, seed: int, threads: int) -> BaseEstimator:
        p = self.params
        kwargs: dict[str, Any] = dict(
            n_estimators=p.n_estimators, max_depth=p.max_depth, min_samples_leaf=p.min_samples_leaf,
            random_state=seed, n_jobs=threads,
        )
        if p.max_features is not None:
            kwargs["max_features"] = p.max_features
        return RandomForestClassifier(**kwargs) if task == "classification" else RandomForestRegressor(**kwargs)


class GradientBoosting(SklearnModel):
    name = "gradient-boosting"
    summary = "Histogram gradient boosting classifier or regressor (scikit-learn), seeded by the cell."

    class Params(workbench.Params):
        max_iter: int = Field(default=300, ge=1, description="boosting iterations")
        learning_rate: float = Field(default=0.1, gt=0, description="shrinkage per iteration")
        max_leaf_nodes: int = Field(default=31, ge=2, description="leaves per tree")
        max_depth: int | None = Field(default=None, ge=1, description="maximum tree depth (null: unlimited)")
        l2_regularization: float = Field(default=0.0, ge=0, description="L2 penalty on leaf values")
        early_stopping: bool = Field(default=False, description="stop when a held-out 10% stops improving")

    def estimator(self, task: str, seed: int, threads: int) -> BaseEstimator:
        p = self.params
        kwargs = dict(
            max_iter=p.max_iter, learning_rate=p.learning_rate, max_leaf_nodes=p.max_leaf_nodes,
            max_depth=p.max_depth, l2_regularization=p.l2_regularization, early_stopping=p.early_stopping,
            random_state=seed,
        )
        return HistGradientBoostingClassifier(**kwargs) if task == "classification" else HistGradientBoostingRegressor(**kwargs)
