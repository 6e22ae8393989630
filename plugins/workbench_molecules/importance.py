"""Lee et al.'s feature-importance fingerprint (thesis §2.2.1): per sample, the "minimum
decrease" break-down of a trained model's prediction.

For one sample x, features are relaxed one at a time. Relaxing a set S means replacing x's
features in S by the values of m background rows (the same rows for every feature, so the
columns keep their joint distribution) and averaging the model over those m rows. At each
step every not-yet-relaxed feature j is tried; the one whose relaxation lowers the average
prediction least (drop = current − relaxed average; a rise is a negative drop) is taken, its
drop becomes its fingerprint value, and it stays relaxed. After all d steps the drops sum to
f(x) − mean f(background rows).

The thesis reports more than 24 h on 4 CPUs for ~1,000 molecules (with m = 1/10 of the rows).
Here every step is batched: all candidates of all samples of a step go to the model as one
array (in chunks that bound memory), so a fingerprint costs d steps of a few predict calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import Field

import workbench
from workbench import Bundle, CellContext, ComponentError, Representation, Table, TargetInfo
from workbench_common.representations import numeric_matrix

Predict = Callable[[np.ndarray], np.ndarray]


def relaxed_rows(x: np.ndarray, relaxed: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Rows equal to ``x`` except on the ``relaxed`` features, which take ``background``'s values.

    Broadcasts: ``x`` (..., d), ``relaxed`` (..., d) bool, ``background`` (..., d)."""
    return np.where(relaxed, background, x)


def fingerprint_naive(predict: Predict, X: np.ndarray, background: np.ndarray, value_rows: np.ndarray) -> np.ndarray:
    """The procedure written plainly, one sample and one candidate at a time (reference for
    tests; far too slow for real use). ``value_rows[i]`` indexes ``background`` rows for sample i."""
    n, d = X.shape
    out = np.zeros((n, d))
    for i in range(n):
        rows = background[value_rows[i]]
        relaxed = np.zeros(d, dtype=bool)
        current = float(np.mean(predict(np.repeat(X[i][None], len(rows), 0))))
        for _ in range(d):
            best, best_drop, best_value = -1, np.inf, 0.0
            for j in np.flatnonzero(~relaxed):
                trial = relaxed.copy()
                trial[j] = True
                value = float(np.mean(predict(relaxed_rows(X[i], trial, rows))))
                if current - value < best_drop:
                    best, best_drop, best_value = j, current - value, value
            out[i, best] = best_drop
            relaxed[best] = True
            current = best_value
    return out


def fingerprint(predict: Predict, X: np.ndarray, background: np.ndarray, value_rows: np.ndarray,
                max_rows: int = 200_000, progress: Callable[[], None] | None = None) -> np.ndarray:
    """The minimum-decrease fingerprint of every row of ``X`` (shape ``(n, d)``), batched:
    each of the d steps evaluates all remaining candidates of all samples in predict calls of
    at most ``max_rows`` rows. Same result as :func:`fingerprint_naive` (ties go to the lower
    feature index in both)."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    m = value_rows.shape[1]
    rows = background[value_rows]  # (n, m, d): each sample's relaxation values
    relaxed = np.zeros((n, d), dtype=bool)
    current = predict(X)  # nothing relaxed: the m copies are all x itself
    out = np.zeros((n, d))
    samples_per_chunk = max(1, max_rows // max(1, d * m))
    for step in range(d):
        k = d - step  # candidates per sample at this step
        # The not-yet-relaxed features of each sample, in index order (stable sort keeps ties
        # resolved towards the lower index, as in the plain loop).
        candidates = np.argsort(relaxed, axis=1, kind="stable")[:, :k]  # (n, k)
        values = np.empty((n, k))
        for start in range(0, n, samples_per_chunk):
            sl = slice(start, min(n, start + samples_per_chunk))
            c = candidates[sl]
            trial = relaxed[sl][:, None, :].repeat(k, 1)  # (b, k, d)
            np.put_along_axis(trial, c[:, :, None], True, axis=2)
            batch = relaxed_rows(X[sl][:, None, None, :], trial[:, :, None, :], rows[sl][:, None, :, :])  # (b, k, m, d)
            values[sl] = predict(batch.reshape(-1, d)).reshape(-1, k, m).mean(axis=2)
        drops = current[:, None] - values
        pick = np.argmin(drops, axis=1)
        chosen = candidates[np.arange(n), pick]
        out[np.arange(n), chosen] = drops[np.arange(n), pick]
        relaxed[np.arange(n), chosen] = True
        current = values[np.arange(n), pick]
        if progress is not None:
            progress()
    return out


def source_model(task: str, kind: str, n_estimators: int, seed: int):
    """The model whose predictions are broken down (a random forest in the thesis)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "random-forest":
        cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
        return cls(n_estimators=n_estimators, random_state=seed, n_jobs=1)
    core = LogisticRegression(max_iter=2000) if task == "classification" else LinearRegression()
    return make_pipeline(StandardScaler(), core)


def predictor(model, task: str) -> Predict:
    """Positive-class probability (classification) or value (regression), as a float array."""
    if task == "classification":
        return lambda Z: model.predict_proba(Z)[:, -1]
    return lambda Z: np.asarray(model.predict(Z), dtype=np.float64)


def infer_task(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    return "classification" if np.all(finite == np.round(finite)) and len(np.unique(finite)) <= 10 else "regression"


class ImportanceFingerprint(Representation):
    name = "importance-fingerprint"
    summary = "Lee et al.'s per-sample minimum-decrease importance of each raw feature for a source label (thesis §2.2.1), vectorised."

    class Params(workbench.Params):
        source: str = Field(description="label the breakdown model is trained on; it must differ from the predicted target (label leakage)")
        model: Literal["random-forest", "linear"] = Field(default="random-forest", description="model trained on the raw features for the source label")
        n_estimators: int = Field(default=100, ge=1, description="trees of the random forest")
        value_fraction: float = Field(default=0.1, gt=0, le=1, description="fraction of the training rows each sample is relaxed to (thesis: 1/10; 1: all)")
        seed: int = Field(default=0, description="seed of the forest and of the relaxation rows; fixed, so replicates share (and cache) one fingerprint")
        folds: int = Field(
            default=0, ge=0,
            description="0: training molecules are fingerprinted in-sample by the model trained on them (thesis); "
                        "k >= 2: each by a model trained on the other k-1 folds, as test molecules are",
        )

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"source": "aux", "n_estimators": 5, "value_fraction": 0.2}]

    @classmethod
    def contract_bundle(cls, rng: np.random.Generator) -> Bundle:
        X = rng.normal(size=(60, 4))
        aux = (X[:, 0] + 0.3 * rng.normal(size=60) > 0).astype(float)
        aux[::7] = np.nan  # missing source labels are skipped when training the breakdown model
        y = X[:, 1] + X[:, 2]
        table = Table(X, {"y": y, "aux": aux})
        return Bundle(train=table.take(np.arange(45)), evaluations={"test": table.take(np.arange(45, 60))},
                      targets={"y": TargetInfo("regression"), "aux": TargetInfo("classification", ("0", "1"))})

    def seen_labels(self) -> frozenset[str]:
        return frozenset({self.params.source})

    def fit(self, train: Table, context: CellContext) -> None:
        p = self.params
        if p.source not in train.targets:
            raise ComponentError(f"importance-fingerprint: source label {p.source!r} is not in the dataset; targets: {sorted(train.targets)}")
        X, names = numeric_matrix(train.inputs)
        self.names_ = names or (tuple(context.feature_names) if context.feature_names else tuple(f"x{j}" for j in range(X.shape[1])))
        y = np.asarray(train.targets[p.source], dtype=np.float64)
        info = context.targets.get(p.source)
        self.task_ = info.task if info is not None else infer_task(y)
        known = np.isfinite(y)
        if known.sum() < 2 or (self.task_ == "classification" and len(np.unique(y[known])) < 2):
            raise ComponentError(f"importance-fingerprint: the training set has too few known {p.source!r} labels to train on")
        labels = np.where(known, y, 0).astype(np.int64) if self.task_ == "classification" else y  # NaN rows are never used
        self.model_ = source_model(self.task_, p.model, p.n_estimators, p.seed).fit(X[known], labels[known])
        # Out-of-fold models: a training molecule's fingerprint then comes from a model that
        # has not seen its label, as a test molecule's does. Rows without a source label were
        # never trained on and keep the full model (fold -1).
        self.fold_of_ = np.full(len(X), -1)
        self.fold_models_ = []
        if p.folds >= 2:
            rows = np.flatnonzero(known)
            self.fold_of_[rows] = np.random.default_rng(p.seed).permutation(len(rows)) % p.folds
            for k in range(p.folds):
                fit_rows = rows[self.fold_of_[rows] != k]
                self.fold_models_.append(source_model(self.task_, p.model, p.n_estimators, p.seed).fit(X[fit_rows], labels[fit_rows]))
        self.background_ = X
        self.key_ = {"params": p, "train": X, "labels": y}

    def transform(self, table: Table, context: CellContext) -> np.ndarray:
        X, _ = numeric_matrix(table.inputs)
        p = self.params
        n_back = len(self.background_)
        m = max(1, int(round(p.value_fraction * n_back)))

        def compute() -> dict[str, np.ndarray]:
            rng = np.random.default_rng([p.seed, len(X)])
            # Each sample gets its own random subset of relaxation rows (thesis: 1/10 of them).
            value_rows = np.argsort(rng.random((len(X), n_back)), axis=1)[:, :m] if m < n_back else np.tile(np.arange(n_back), (len(X), 1))
            is_train = X.shape == self.background_.shape and np.array_equal(X, self.background_)
            groups = self.fold_of_ if (is_train and self.fold_models_) else np.full(len(X), -1)
            fp = np.zeros_like(X)
            with context.progress(f"fingerprint ({p.source})", total=X.shape[1] * len(np.unique(groups))) as bar:
                for k in np.unique(groups):
                    model = self.model_ if k < 0 else self.fold_models_[k]
                    rows = np.flatnonzero(groups == k)
                    fp[rows] = fingerprint(predictor(model, self.task_), X[rows], self.background_, value_rows[rows], progress=lambda: bar.advance(1))
            return {"fingerprint": fp}

        return context.cache.arrays("importance-fingerprint", {**self.key_, "table": X}, compute)["fingerprint"]

    def feature_names(self) -> tuple[str, ...] | None:
        names = getattr(self, "names_", None)
        return None if names is None else tuple(f"importance:{n}" for n in names)
