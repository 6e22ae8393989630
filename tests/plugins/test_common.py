"""The common plugin: metric values against hand computations and scikit-learn, models that
learn, the CSV dataset's splits, and the raw/concat representations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from pydantic import ValidationError

from workbench import CellContext, ComponentError, MetricValue, Table, TargetInfo
from workbench.registry import get_registry
from workbench_common.datasets import split_indices

DATA = Path(__file__).resolve().parents[2] / "plugins" / "workbench_common" / "data" / "esol_descriptors.csv"
CLASSES4 = TargetInfo("classification", ("a", "b", "c", "d"))


def build(kind, name, **params):
    return get_registry().build(kind, name, params)


def test_accuracy_and_top_k_by_hand():
    truth = np.array([0, 1, 2, 3])
    scores = np.array([[0.7, 0.2, 0.1, 0.0], [0.5, 0.3, 0.2, 0.0], [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    assert build("metric", "accuracy").score(truth, scores, CLASSES4) == 0.25
    assert build("metric", "top-k-accuracy", k=2).score(truth, scores, CLASSES4) == 0.75
    assert build("metric", "top-k-accuracy", k=4).score(truth, scores, CLASSES4) == 1.0
    assert build("metric", "accuracy").score(truth, np.array([0, 1, 0, 0]), CLASSES4) == 0.5


def test_roc_auc_matches_scikit_learn_binary_and_one_vs_rest():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 200)
    p = np.clip(0.5 * truth + 0.5 * rng.random(200), 0, 1)
    auc = build("metric", "roc-auc").score(truth, np.stack([1 - p, p], 1), TargetInfo("classification", ("n", "y")))
    assert auc == pytest.approx(roc_auc_score(truth, p))
    truth4 = rng.integers(0, 4, 300)
    scores = rng.random((300, 4)) + np.eye(4)[truth4]
    scores /= scores.sum(1, keepdims=True)
    ovr = build("metric", "roc-auc").score(truth4, scores, CLASSES4)
    assert ovr == pytest.approx(roc_auc_score(truth4, scores, multi_class="ovr", average="macro"))
    assert np.isnan(build("metric", "roc-auc").score(np.zeros(5), np.tile([0.6, 0.4], (5, 1)), TargetInfo("classification", ("n", "y"))))


def test_error_metrics_on_regression_and_per_step_on_complex_trajectories():
    truth = np.array([1.0, 2.0, 3.0])
    pred = np.array([1.5, 2.0, 1.0])
    assert build("metric", "mae").score(truth, pred, TargetInfo("regression")) == pytest.approx(2.5 / 3)
    assert build("metric", "rmse").score(truth, pred, TargetInfo("regression")) == pytest.approx(np.sqrt(4.25 / 3))
    assert build("metric", "r2").score(truth, truth, TargetInfo("regression")) == 1.0
    psi = np.zeros((2, 3, 4), complex)
    guess = psi.copy()
    guess[:, 1, :] = 3 + 4j  # |error| = 5 on every point of step 1 only
    value = build("metric", "mae").score(psi, guess, TargetInfo("trajectory"))
    assert isinstance(value, MetricValue)
    np.testing.assert_allclose(value.steps, [0, 5, 0])
    assert value.value == pytest.approx(5 / 3)
    with pytest.raises(ComponentError, match="does not match"):
        build("metric", "mae").score(truth, pred[:2], TargetInfo("regression"))


def esol_context(target, task):
    dataset = build("dataset", "csv-table", path=str(DATA), targets={"measured_log_solubility": "regression", "soluble": "classification"}, id_column="compound")
    context = CellContext.standalone(3)
    bundle = dataset.load(context).drop_missing(target)
    context.target, context.targets, context.feature_names = target, bundle.targets, bundle.feature_names
    return bundle, context


@pytest.mark.parametrize("model, params, floor", [
    ("linear", {}, 0.6), ("random-forest", {"n_estimators": 50}, 0.75), ("gradient-boosting", {"max_iter": 100}, 0.75),
    ("support-vector", {"C": 10.0}, 0.75), ("support-vector", {"C": 10.0, "scaling": "power"}, 0.75),
    ("sklearn-estimator", {"estimator": "sklearn.ensemble.ExtraTreesRegressor", "parameters": {"n_estimators": 50}}, 0.75),
    ("mean-of", {"members": ["support-vector", {"use": "random-forest", "with": {"n_estimators": 50}}]}, 0.75),
])
def test_models_learn_solubility_from_descriptors(model, params, floor):
    bundle, context = esol_context("measured_log_solubility", "regression")
    fitted = build("model", model, **params)
    fitted.fit(bundle.train, context)
    test = bundle.evaluations["test"]
    r2 = build("metric", "r2").score(test.targets["measured_log_solubility"], fitted.predict(test), TargetInfo("regression"))
    assert r2 > floor


def test_classifiers_give_probabilities_over_every_class():
    bundle, context = esol_context("soluble", "classification")
    assert bundle.targets["soluble"].classes == ("no", "yes")
    model = build("model", "random-forest", n_estimators=20)
    model.fit(bundle.train, context)
    proba = model.predict(bundle.evaluations["test"])
    assert proba.shape == (len(bundle.evaluations["test"]), 2)
    np.testing.assert_allclose(proba.sum(1), 1)
    auc = build("metric", "roc-auc").score(bundle.evaluations["test"].targets["soluble"], proba, bundle.targets["soluble"])
    assert auc > 0.85


def test_support_vector_classifier_gives_calibrated_probabilities():
    bundle, context = esol_context("soluble", "classification")
    model = build("model", "support-vector", C=3.0)
    model.fit(bundle.train, context)
    proba = model.predict(bundle.evaluations["test"])
    np.testing.assert_allclose(proba.sum(1), 1)
    assert build("metric", "roc-auc").score(bundle.evaluations["test"].targets["soluble"], proba, bundle.targets["soluble"]) > 0.85


def test_support_vector_regression_equals_scikit_learn_and_tolerates_constant_columns():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PowerTransformer
    from sklearn.svm import SVR

    rng = np.random.default_rng(0)
    X = np.c_[rng.lognormal(size=(80, 3)), np.ones(80)]  # heavy-tailed columns and a constant one
    y = np.log(X[:, 0]) + X[:, 1]
    table = Table(X, {"y": y})
    context = CellContext.standalone(0, target="y", targets={"y": TargetInfo("regression")})
    model = build("model", "support-vector", C=3.0, gamma=0.2, epsilon=0.05, scaling="power")
    model.fit(table, context)
    reference = make_pipeline(PowerTransformer(), SVR(C=3.0, gamma=0.2, epsilon=0.05)).fit(X, y)
    np.testing.assert_allclose(model.predict(table), reference.predict(X))
    assert np.isfinite(model.predict(table)).all()


@pytest.mark.parametrize("path, message", [
    ("os.system", "not a scikit-learn import path"),
    ("builtins.eval", "not a scikit-learn import path"),
    ("sklearn.datasets.fetch_openml", "not a scikit-learn estimator class"),
    ("sklearn.preprocessing.StandardScaler", "no predict"),
    ("sklearn.nonexistent.Model", "no module"),
    ("sklearn.ensemble.__builtins__", "not a scikit-learn estimator class"),
    ("sklearn.ensemble.RandomForestRegressor; import os", "not a scikit-learn import path"),
    ("sklearn.ensemble.ExtraTreesRegresor", "sklearn.ensemble has no ExtraTreesRegresor"),
])
def test_sklearn_estimator_refuses_anything_but_scikit_learn_estimators(path, message):
    with pytest.raises((ValidationError, ComponentError), match=message):  # ComponentError: when the cell builds the estimator
        build("model", "sklearn-estimator", estimator=path).estimator("regression", seed=0, threads=1)


@pytest.mark.parametrize("path, message", [
    ("sklearn.ensemble.ExtraTreesRegresor", "has no ExtraTreesRegresor"),
    ("sklearn.nonexistent.Model", "no module"),
    ("os.system", "not a scikit-learn import path"),
])
def test_sklearn_estimator_params_catch_typos_without_importing_scikit_learn(path, message):
    params = get_registry().get("model", "sklearn-estimator").Params
    with pytest.raises(ValidationError, match=message):
        params(estimator=path)


def test_sklearn_estimator_checks_the_task_and_seeds_the_estimator():
    bundle, context = esol_context("soluble", "classification")
    regressor = build("model", "sklearn-estimator", estimator="sklearn.ensemble.ExtraTreesRegressor")
    with pytest.raises(ComponentError, match="not a classifier"):
        regressor.fit(bundle.train, context)
    per_task = build("model", "sklearn-estimator", estimator={"regression": "sklearn.linear_model.Ridge"})
    with pytest.raises(ComponentError, match="no estimator given for classification"):
        per_task.fit(bundle.train, context)
    with pytest.raises(ComponentError, match="does not accept"):
        build("model", "sklearn-estimator", estimator="sklearn.ensemble.ExtraTreesClassifier", parameters={"n_trees": 3}).fit(bundle.train, context)
    model = build("model", "sklearn-estimator", estimator="sklearn.ensemble.ExtraTreesClassifier", parameters={"n_estimators": 5})
    model.fit(bundle.train, context)
    assert model.estimator_.random_state == context.seed and model.estimator_.n_estimators == 5


def test_mean_of_averages_its_members_with_weights():
    bundle, context = esol_context("measured_log_solubility", "regression")
    test = bundle.evaluations["test"]
    members = ["linear", {"use": "random-forest", "with": {"n_estimators": 20}}]
    mean = build("model", "mean-of", members=members, weights=[1.0, 3.0])
    mean.fit(bundle.train, context)
    linear, forest = mean.members
    np.testing.assert_allclose(mean.predict(test), 0.25 * linear.predict(test) + 0.75 * forest.predict(test))
    # Each member has its own seed: two forests in one mean are two different forests.
    twins = build("model", "mean-of", members=[members[1], members[1]])
    twins.fit(bundle.train, context)
    assert not np.array_equal(twins.members[0].predict(test), twins.members[1].predict(test))
    with pytest.raises(ComponentError, match="one non-negative weight per member"):
        build("model", "mean-of", members=members, weights=[1.0])


def test_grouped_split_never_splits_a_group():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(30), 3)
    train, val, test = split_indices(90, rng, 0.2, 0.1, groups)
    assert len(train) + len(val) + len(test) == 90
    for a, b in ((train, val), (train, test), (val, test)):
        assert not set(groups[a]) & set(groups[b])
    assert len(set(groups[test])) == 6 and len(set(groups[val])) == 3


def test_csv_table_refuses_unknown_columns_and_unreadable_files(tmp_path):
    context = CellContext.standalone(0)
    with pytest.raises(ComponentError, match="has no column"):
        build("dataset", "csv-table", path=str(DATA), targets={"logS": "regression"}).load(context)
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(Exception, match="cannot be read as CSV"):
        build("dataset", "csv-table", path=str(broken), targets={"y": "regression"}).load(context)


def test_raw_appends_targets_and_concat_stacks_parts():
    bundle, context = esol_context("measured_log_solubility", "regression")
    raw = build("representation", "raw", add_targets=["soluble"])
    raw.fit(bundle.train, context)
    matrix = raw.transform(bundle.train, context)
    assert matrix.shape == (len(bundle.train), 7)
    np.testing.assert_array_equal(matrix[:, -1], bundle.train.targets["soluble"])
    assert raw.seen_labels() == {"soluble"}
    assert raw.feature_names()[-1] == "soluble"
    concat = build("representation", "concat", parts=["raw", {"use": "raw", "with": {"add_targets": ["soluble"]}}])
    concat.fit(bundle.train, context)
    assert concat.transform(bundle.train, context).shape == (len(bundle.train), 13)
    assert concat.seen_labels() == {"soluble"}
