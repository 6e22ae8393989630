"""scikit-learn models that pick the classifier or the regressor from the target's task, a model
for any scikit-learn estimator named by its import path, and the mean of several models.

scikit-learn is imported inside the methods that build estimators, never at module level, so
that listing or validating components stays fast.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, JsonValue, field_validator

import workbench
from workbench import ComponentError, Model, Table
from workbench.specs import ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.base import BaseEstimator


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


def class_probabilities(proba: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n, n_classes)`` probabilities from a classifier's ``predict_proba`` over the classes it
    saw: classes absent from the training set get probability zero, so columns always mean
    classes 0..n_classes-1."""
    full = np.zeros((len(proba), n_classes))
    full[:, np.asarray(classes).astype(int)] = proba
    return full


def scaled(core: BaseEstimator, scaling: str) -> BaseEstimator:
    """``core`` behind the input scaling a study asked for."""
    if scaling == "none":
        return core
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PowerTransformer, StandardScaler

    # Yeo-Johnson makes heavy-tailed columns (counts, areas) closer to Gaussian before an RBF
    # kernel compares samples by distance; it standardises its output too.
    return make_pipeline(PowerTransformer() if scaling == "power" else StandardScaler(), core)


class SklearnModel(Model):
    """Shared fit/predict for scikit-learn estimators; subclasses build the estimator."""

    tasks: ClassVar[frozenset[str]] = frozenset({"classification", "regression"})
    # Declared so that local workers import scikit-learn once, before they fork, rather than in
    # every cell; its estimators take their seed through ``random_state``.
    frameworks: ClassVar[tuple[str, ...]] = ("sklearn",)

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
        return class_probabilities(self.estimator_.predict_proba(X), self.estimator_.classes_, self.n_classes_)


class Linear(SklearnModel):
    name = "linear"
    summary = "Linear baseline: logistic regression (classification) or least squares / ridge (regression), on standardised inputs."

    class Params(workbench.Params):
        C: float = Field(default=1.0, gt=0, description="inverse L2 strength of the logistic regression")
        alpha: float = Field(default=0.0, ge=0, description="ridge penalty for regression (0: ordinary least squares)")
        standardize: bool = Field(default=True, description="scale inputs to zero mean and unit variance first")
        max_iter: int = Field(default=2000, ge=10, description="solver iterations for logistic regression")

    def estimator(self, task: str, seed: int, threads: int) -> BaseEstimator:
        from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

        p = self.params
        if task == "classification":
            core = LogisticRegression(C=p.C, max_iter=p.max_iter, random_state=seed)
        else:
            core = Ridge(alpha=p.alpha, random_state=seed) if p.alpha > 0 else LinearRegression()
        return scaled(core, "standard" if p.standardize else "none")


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
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

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
        min_samples_leaf: int = Field(default=20, ge=1, description="minimum samples in a leaf")
        l2_regularization: float = Field(default=0.0, ge=0, description="L2 penalty on leaf values")
        early_stopping: bool = Field(default=False, description="stop when a held-out 10% stops improving")

    def estimator(self, task: str, seed: int, threads: int) -> BaseEstimator:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        p = self.params
        kwargs = dict(
            max_iter=p.max_iter, learning_rate=p.learning_rate, max_leaf_nodes=p.max_leaf_nodes,
            max_depth=p.max_depth, min_samples_leaf=p.min_samples_leaf, l2_regularization=p.l2_regularization,
            early_stopping=p.early_stopping, random_state=seed,
        )
        return HistGradientBoostingClassifier(**kwargs) if task == "classification" else HistGradientBoostingRegressor(**kwargs)


class SupportVector(SklearnModel):
    name = "support-vector"
    summary = "Support-vector regression (SVR) or classification (SVC, Platt-calibrated probabilities) on scaled inputs."

    class Params(workbench.Params):
        kernel: Literal["rbf", "linear", "poly", "sigmoid"] = Field(default="rbf", description="kernel function")
        C: float = Field(default=1.0, gt=0, description="inverse regularisation strength")
        gamma: float | Literal["scale", "auto"] = Field(
            default="scale", description="kernel width of rbf/poly/sigmoid (scale: 1 / (features × input variance))"
        )
        epsilon: float = Field(default=0.1, ge=0, description="regression only: half-width of the loss-free tube, in target units")
        degree: int = Field(default=3, ge=1, description="degree of the poly kernel")
        scaling: Literal["standard", "power", "none"] = Field(
            default="standard",
            description="input scaling fitted on the training set: standard (zero mean, unit variance), power (Yeo-Johnson, then "
                        "standardised; for heavy-tailed columns such as counts), none",
        )

    @field_validator("gamma")
    @classmethod
    def _positive_gamma(cls, value: float | str) -> float | str:
        if isinstance(value, float) and value <= 0:
            raise ValueError("gamma must be positive, or 'scale' / 'auto'")
        return value

    def estimator(self, task: str, seed: int, threads: int) -> BaseEstimator:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC, SVR

        p = self.params
        common = dict(kernel=p.kernel, C=p.C, gamma=p.gamma, degree=p.degree)
        if task == "regression":
            return scaled(SVR(epsilon=p.epsilon, **common), p.scaling)
        # An SVC gives decision values, not probabilities: a sigmoid (Platt) calibration fitted
        # on 5 stratified folds of the training set turns them into probabilities.
        return scaled(CalibratedClassifierCV(SVC(**common), method="sigmoid", cv=5, ensemble=False), p.scaling)


ESTIMATOR_PATH = re.compile(r"sklearn(\.[A-Za-z_][A-Za-z0-9_]*)+")


def _split_estimator_path(path: str) -> tuple[str, str]:
    if not ESTIMATOR_PATH.fullmatch(path):
        raise ComponentError(
            f"sklearn-estimator: {path!r} is not a scikit-learn import path; write the module and class, e.g. "
            "sklearn.ensemble.ExtraTreesRegressor (only modules under sklearn. are imported)"
        )
    module_name, _, class_name = path.rpartition(".")
    return module_name, class_name


def locate_estimator(path: str) -> None:
    """Check ``path`` names a class of a scikit-learn module without importing scikit-learn, so
    that validating a study stays fast: the module's source file must exist and define or import
    the name. ``import_estimator`` does the full check when the model is built."""
    import importlib.util

    module_name, class_name = _split_estimator_path(path)
    spec = importlib.util.find_spec("sklearn")  # a top-level name is located without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ComponentError("sklearn-estimator: scikit-learn is not installed; pip install scikit-learn")
    where = Path(next(iter(spec.submodule_search_locations))).joinpath(*module_name.split(".")[1:])
    # A stub file (.pyi) beside a lazily loading __init__.py also names what the module exports.
    sources = [file for file in (where / "__init__.py", where / "__init__.pyi", where.with_suffix(".py")) if file.is_file()]
    if not sources:
        raise ComponentError(f"sklearn-estimator: there is no module {module_name!r} in scikit-learn")
    named = re.compile(rf"\b{re.escape(class_name)}\b")
    if class_name.startswith("_") or not any(named.search(file.read_text(encoding="utf-8")) for file in sources):
        raise ComponentError(f"sklearn-estimator: {path!r} is not a scikit-learn estimator class ({module_name} has no {class_name})")


def import_estimator(path: str) -> type:
    """The scikit-learn estimator class named by ``path`` (``sklearn.ensemble.ExtraTreesRegressor``).

    A study file may come from anyone, so only modules under ``sklearn.`` are imported and the
    object must be a subclass of ``sklearn.base.BaseEstimator`` with a ``predict``; anything else
    is refused."""
    module_name, class_name = _split_estimator_path(path)
    from sklearn.base import BaseEstimator

    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ComponentError(f"sklearn-estimator: there is no module {module_name!r} in scikit-learn") from None
    found = getattr(module, class_name, None)
    if not (isinstance(found, type) and issubclass(found, BaseEstimator)):
        raise ComponentError(
            f"sklearn-estimator: {path!r} is not a scikit-learn estimator class (a subclass of sklearn.base.BaseEstimator)"
        )
    if not hasattr(found, "predict"):
        raise ComponentError(f"sklearn-estimator: {path} has no predict(); name a classifier or regressor")
    return found


Task = Literal["classification", "regression"]


class SklearnEstimator(SklearnModel):
    name = "sklearn-estimator"
    summary = "Any scikit-learn classifier or regressor, named by import path (sklearn.* only), with its parameters."

    class Params(workbench.Params):
        estimator: str | dict[Task, str] = Field(
            default="sklearn.linear_model.Ridge",
            description="import path of a scikit-learn classifier or regressor class, e.g. sklearn.ensemble.ExtraTreesRegressor, "
                        "or one path per task ({classification: ..., regression: ...}); only modules under sklearn. are imported",
        )
        parameters: dict[str, JsonValue] = Field(default_factory=dict, description="keyword arguments of the estimator")
        scaling: Literal["standard", "power", "none"] = Field(
            default="none", description="input scaling fitted on the training set before the estimator (see support-vector)"
        )

        @field_validator("estimator")
        @classmethod
        def _importable(cls, value: str | dict[str, str]) -> str | dict[str, str]:
            for path in [value] if isinstance(value, str) else value.values():
                try:  # located only, so that validating a study imports no scikit-learn; fit imports it
                    locate_estimator(path)
                except ComponentError as error:
                    raise ValueError(str(error).removeprefix("sklearn-estimator: ")) from None
            return value


    @classmethod
    def contract_params(cls) -> list[dict[str, Any]]:
        return [{"estimator": {"classification": "sklearn.ensemble.ExtraTreesClassifier", "regression": "sklearn.ensemble.ExtraTreesRegressor"},
                 "parameters": {"n_estimators": 5}}]

    def estimator(self, task: str, seed: int, threads: int) -> BaseEstimator:
        from sklearn.base import is_classifier, is_regressor

        p = self.params
        kind = "classifier" if task == "classification" else "regressor"
        if isinstance(p.estimator, dict):
            if task not in p.estimator:
                raise ComponentError(f"sklearn-estimator: no estimator given for {task} targets; add `{task}: <import path of a {kind}>`")
            path = p.estimator[task]
        else:
            path = p.estimator
        try:
            core = import_estimator(path)(**p.parameters)
        except TypeError as error:
            raise ComponentError(f"sklearn-estimator: {path} does not accept these parameters: {error}") from None
        if not (is_classifier(core) if task == "classification" else is_regressor(core)):
            raise ComponentError(f"sklearn-estimator: {path} is not a {kind}, but the target is a {task} target; name a {kind}")
        if task == "classification" and not hasattr(core, "predict_proba"):
            raise ComponentError(f"sklearn-estimator: {path} gives no class probabilities (predict_proba); the metrics need them")
        # The cell seeds the estimator and sets its threads unless the study fixed them.
        own = core.get_params()
        if "random_state" in own and "random_state" not in p.parameters:
            core.set_params(random_state=seed)
        if "n_jobs" in own and "n_jobs" not in p.parameters:
            core.set_params(n_jobs=threads)
        return scaled(core, p.scaling)


class MeanOf(Model):
    name = "mean-of"
    summary = "The average of several models' predictions (values, or class probabilities), each fitted on the same inputs."
    tasks = frozenset({"classification", "regression"})

    class Params(workbench.Params):
        members: list[ModelSpec] = Field(min_length=2, description="the models to average, as {use, with} specs")
        weights: list[float] | None = Field(default=None, description="one non-negative weight per member (null: equal weights)")

    def __init__(self, params=None):
        super().__init__(params)
        p = self.params
        if p.weights is not None and (len(p.weights) != len(p.members) or min(p.weights) < 0 or sum(p.weights) <= 0):
            raise ComponentError(f"mean-of: give one non-negative weight per member ({len(p.members)}), not all zero; got {p.weights}")
        self.members = [spec.build() for spec in p.members]

    @classmethod
    def contract_params(cls) -> list[dict[str, Any]]:
        return [{"members": ["linear", {"use": "random-forest", "with": {"n_estimators": 5}}], "weights": [1.0, 3.0]}]

    def required_targets(self) -> frozenset[str]:
        return frozenset().union(*(member.required_targets() for member in self.members))

    def fit(self, train: Table, context: workbench.CellContext) -> None:
        self.target_ = context.target
        for index, (spec, member) in enumerate(zip(self.params.members, self.members)):
            info = context.targets[context.target]
            if info.task not in member.tasks:
                raise ComponentError(f"mean-of: member {spec.display()!r} cannot fit a {info.task!r} target")
            # Each member gets its own seed (two forests must not be the same forest), no epoch
            # scoring (the kernel scores the mean) and no checkpoint file (they would overwrite
            # each other's).
            member_context = dataclasses.replace(context, seed=context.derive_seed("mean-of", index), epoch_hook=None, cell_dir=None)
            member.fit(train, member_context)

    def predict(self, table: Table) -> np.ndarray:
        weights = np.asarray(self.params.weights or [1.0] * len(self.members), dtype=np.float64)
        total = None
        for weight, member in zip(weights / weights.sum(), self.members):
            prediction = member.predict(table)
            if isinstance(prediction, dict):
                prediction = prediction[self.target_]
            prediction = np.asarray(prediction, dtype=np.float64)
            total = weight * prediction if total is None else total + weight * prediction
        return total
