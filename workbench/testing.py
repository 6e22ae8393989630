"""Reusable contract checks for components (in the spirit of scikit-learn's ``check_estimator``).

Run them on your own components in your plugin's tests::

    from workbench.testing import check

    def test_my_model_honours_the_contract(tmp_path):
        check(MyModel, work_dir=tmp_path)

:func:`check` validates the class (name, summary, parameter model) and then, for every
parameter set in ``contract_params()``, the kind's behaviour: output shapes and dtypes,
determinism under a fixed seed, and picklability (cells may run in worker processes). A
failed check raises ``AssertionError`` saying what is wrong and what the contract asks.

The small bundles built here for models and representations are synthetic *on purpose*: they
test shapes and determinism, never science.
"""

from __future__ import annotations

import pickle
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from .bundle import Bundle, Table, TargetInfo
from .components import (
    KIND_BASES,
    NAME_PATTERN,
    Component,
    Curriculum,
    Dataset,
    Executor,
    Figure,
    Metric,
    MetricValue,
    Model,
    Representation,
    Simulator,
)
from .context import CellContext
from .registry import ComponentEntry, Registry, component_problem, get_registry

CONTRACT_SEED = 1234
GENERIC_TASKS = ("classification", "regression", "trajectory")


# -- synthetic inputs for shape checks ----------------------------------------------------


def synthetic_bundle(task: str, rng: np.random.Generator, n: int = 90, features: int = 5, classes: int = 3) -> tuple[Bundle, str]:
    """A small learnable bundle for checking a model's shapes and determinism (not science)."""
    X = rng.normal(size=(n, features))
    signal = X[:, 0] + 0.5 * X[:, 1]
    if task == "classification":
        y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1])).astype(np.float64)
        info = TargetInfo("classification", tuple(f"class-{i}" for i in range(classes)))
    elif task == "regression":
        y = signal + 0.1 * rng.normal(size=n)
        info = TargetInfo("regression")
    else:
        raise AssertionError(f"no generic bundle for task {task!r}; give the component a contract_bundle()")
    table = Table(X, {"y": y})
    split = int(0.7 * n)
    bundle = Bundle(train=table.take(np.arange(split)), evaluations={"test": table.take(np.arange(split, n))},
                    targets={"y": info}, feature_names=tuple(f"x{i}" for i in range(features)))
    return bundle.drop_missing("y"), "y"


def generic_metric_cases(task: str, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, TargetInfo]]:
    """(truth, good prediction, bad prediction, info) for the standard tasks."""
    if task == "classification":
        classes = 4
        truth = np.tile(np.arange(classes), 10)
        good = np.full((len(truth), classes), 0.05)
        good[np.arange(len(truth)), truth] = 0.85
        # The bad prediction ranks the true class last, so even top-(C-1) accuracy is zero.
        bad = np.tile(np.linspace(0.4, 0.1, classes), (len(truth), 1))
        bad[np.arange(len(truth)), truth] = 0.0
        bad /= bad.sum(axis=1, keepdims=True)
        info = TargetInfo("classification", tuple(map(str, range(classes))))
        binary_truth = np.tile([0, 1], 20)
        binary_good = np.stack([1 - (0.2 + 0.6 * binary_truth), 0.2 + 0.6 * binary_truth], axis=1)
        return [(truth, good, bad, info), (binary_truth, binary_good, binary_good[:, ::-1], TargetInfo("classification", ("0", "1")))]
    if task == "regression":
        truth = rng.normal(size=50)
        return [(truth, truth + 0.01 * rng.normal(size=50), truth + rng.normal(size=50), TargetInfo("regression"))]
    if task == "trajectory":
        truth = rng.normal(size=(3, 7, 16)) + 1j * rng.normal(size=(3, 7, 16))
        noise = rng.normal(size=truth.shape) + 1j * rng.normal(size=truth.shape)
        return [(truth, truth + 0.01 * noise, truth + noise, TargetInfo("trajectory"))]
    raise AssertionError(f"no generic cases for task {task!r}; give the metric contract_cases()")


# -- helpers ------------------------------------------------------------------------------


def _context(work_dir: Path | None, data_dir: Path | None = None, **kwargs: Any) -> CellContext:
    """A fresh cell (its own folder: no checkpoint of an earlier attempt to resume from) sharing
    one cache, as cells of a study do."""
    base = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="workbench-contract-"))
    base.mkdir(parents=True, exist_ok=True)
    cell = Path(tempfile.mkdtemp(prefix="cell-", dir=base))
    return CellContext.standalone(CONTRACT_SEED, cache_dir=base / "cache", data_dir=data_dir, work_dir=cell, **kwargs)


def _reseed(cls: type[Component] | None = None, attempt: int = 0) -> None:
    """Seed like the kernel does before a cell. On the second attempt a framework the component
    did not declare gets another seed, so a component that draws from torch's generator
    without declaring ``frameworks = ("torch",)`` gives different outputs and is caught."""
    from .cell import FRAMEWORK_SEEDERS, seed_everything

    declared = tuple(cls.frameworks) if cls is not None else ()
    seed_everything(CONTRACT_SEED, 1, declared)
    if attempt:
        for name, seeder in FRAMEWORK_SEEDERS.items():
            if name not in declared and name in sys.modules:
                seeder(CONTRACT_SEED + 7919, 1)


UNDECLARED = ("two runs with the same seed gave different values; seed every random choice from the context, and declare "
              "frameworks = ('torch',) on a component that uses torch (the kernel seeds only declared frameworks)")


def _roundtrip(obj: Any, what: str) -> Any:
    try:
        return pickle.loads(pickle.dumps(obj))
    except Exception as error:
        raise AssertionError(f"{what} cannot be pickled ({error}); cells may run in worker processes, so components must pickle") from error


def _assert_same(a: Any, b: Any, what: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{what}: outputs differ in keys"
        for key in a:
            _assert_same(a[key], b[key], f"{what}[{key!r}]")
        return
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    assert a_arr.shape == b_arr.shape, f"{what}: shapes differ between identical runs ({a_arr.shape} vs {b_arr.shape})"
    same = np.array_equal(a_arr, b_arr, equal_nan=a_arr.dtype.kind in "fc")
    assert same, f"{what}: {UNDECLARED}"


_UNDECLARED: set[tuple[str, str]] = set()
"""(component, name) of every undeclared parameter a component tried to read during a check."""


class _WatchedParams:
    """Stands in for a component's ``params`` during the checks: reading a declared field works
    as usual; reading anything else (``getattr(self.params, "x", default)`` included) is
    recorded, so the check can report a parameter the component uses but never declared."""

    def __init__(self, params: Any, owner: str):
        object.__setattr__(self, "_params", params)
        object.__setattr__(self, "_owner", owner)

    def __getattr__(self, name: str) -> Any:
        params = object.__getattribute__(self, "_params")
        if name in type(params).model_fields or name.startswith(("model_", "__")) or hasattr(type(params), name):
            return getattr(params, name)
        _UNDECLARED.add((object.__getattribute__(self, "_owner"), name))
        raise AttributeError(f"{type(params).__qualname__} has no parameter {name!r}")

    def __eq__(self, other: Any) -> bool:
        return object.__getattribute__(self, "_params") == (other._params if isinstance(other, _WatchedParams) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(object.__getattribute__(self, "_params"))

    def __reduce__(self):
        return (_WatchedParams, (object.__getattribute__(self, "_params"), object.__getattribute__(self, "_owner")))


def _instances(cls: type[Component], params: Iterable[dict[str, Any]] | None) -> list[Component]:
    sets = list(params) if params is not None else cls.contract_params()
    instances = []
    for p in sets:
        instance = cls(cls.Params.model_validate(p))
        instance.params = _WatchedParams(instance.params, f"{cls.kind} {cls.name!r}")  # type: ignore[assignment]
        instances.append(instance)
    return instances


def _declared_only(check: Any) -> Any:
    """After a kind's behaviour check, fail if the component read a parameter it never declared."""
    import functools

    @functools.wraps(check)
    def run(cls: type[Component], *args: Any, **kwargs: Any) -> None:
        check(cls, *args, **kwargs)
        _assert_declared(cls)

    return run


def _assert_declared(cls: type[Component]) -> None:
    read = sorted(name for owner, name in _UNDECLARED if owner == f"{cls.kind} {cls.name!r}")
    _UNDECLARED.difference_update({(f"{cls.kind} {cls.name!r}", name) for name in read})
    assert not read, (f"{cls.kind} {cls.name!r} reads parameter(s) {', '.join(map(repr, read))} that its Params does not declare; "
                      "declare them (with a default and a description) so studies can set them and validation can check them")


# -- class-level contract -----------------------------------------------------------------


def check_component(cls: type[Component]) -> None:
    """The class contract shared by every kind: name, summary, parameter model."""
    assert cls.kind in KIND_BASES, f"{cls.__qualname__} does not subclass one of the kind bases ({', '.join(KIND_BASES)})"
    problem = component_problem(cls, cls.kind)
    assert problem is None, problem
    assert NAME_PATTERN.match(cls.name), f"name {cls.name!r} is not kebab-case"
    for field_name, field in cls.Params.model_fields.items():
        assert field.description, f"{cls.kind} {cls.name!r}: parameter {field_name!r} has no description (Field(description=...))"
    examples = cls.contract_params()
    assert examples, f"{cls.kind} {cls.name!r}: contract_params() returned no parameter sets"
    for example in examples:
        try:
            params = cls.Params.model_validate(example)
        except ValidationError as error:
            raise AssertionError(f"{cls.kind} {cls.name!r}: contract_params() example {example} is invalid: {error}") from error
        try:
            cls.Params.model_validate({**example, "surely_not_a_parameter": 1})
        except ValidationError:
            pass
        else:
            raise AssertionError(f"{cls.kind} {cls.name!r}: an unknown parameter was accepted; subclass workbench.Params")
        _roundtrip(params, f"{cls.kind} {cls.name!r} parameters")
        _roundtrip(cls(params), f"{cls.kind} {cls.name!r}")


# -- kind-specific behaviour ------------------------------------------------------------------


@_declared_only
def check_dataset(cls: type[Dataset], params: Iterable[dict] | None = None, work_dir: Path | None = None, data_dir: Path | None = None) -> None:
    """Loads a consistent bundle matching ``describe_targets``, identically twice."""
    for dataset in _instances(cls, params):
        described = dataset.describe_targets()
        assert described, f"dataset {cls.name!r} describes no targets"
        bundles = []
        for attempt in range(2):
            _reseed(cls, attempt)
            bundles.append(dataset.load(_context(work_dir, data_dir=data_dir)))
        bundle = bundles[0]
        assert isinstance(bundle, Bundle), f"dataset {cls.name!r}: load() must return a workbench.Bundle"
        assert bundle.evaluations, f"dataset {cls.name!r}: the bundle has no evaluation tables"
        missing = set(described) - set(bundle.targets)
        assert not missing, f"dataset {cls.name!r}: described targets {sorted(missing)} are not in the loaded bundle"
        for name, info in described.items():
            assert bundle.targets[name].task == info.task, f"dataset {cls.name!r}: target {name!r} is described as {info.task!r} but loads as {bundle.targets[name].task!r}"
        for role, table in bundle.tables():
            for name, values in table.targets.items():
                info = bundle.targets.get(name)
                if info is not None and info.task == "classification" and len(values):
                    v = np.asarray(values, dtype=float)
                    v = v[np.isfinite(v)]
                    assert ((v >= 0) & (v < (info.n_classes or np.inf)) & (v == np.round(v))).all(), (
                        f"dataset {cls.name!r}: {role} labels of {name!r} must be integers in [0, n_classes)"
                    )
        for (role, a), (_, b) in zip(bundles[0].tables(), bundles[1].tables()):
            if isinstance(a.inputs, np.ndarray):
                _assert_same(a.inputs, b.inputs, f"dataset {cls.name!r} {role} inputs")
            for name in a.targets:
                _assert_same(a.targets[name], b.targets[name], f"dataset {cls.name!r} {role} target {name!r}")


@_declared_only
def check_representation(cls: type[Representation], params: Iterable[dict] | None = None, work_dir: Path | None = None) -> None:
    """Fits on train, returns one finite float row per sample, deterministically; pickles."""
    rng = np.random.default_rng(CONTRACT_SEED)
    bundle = cls.contract_bundle(rng)
    if bundle is None:
        bundle, _ = synthetic_bundle("regression", rng)
    for index, representation in enumerate(_instances(cls, params)):
        outputs = []
        for attempt in range(2):
            fresh = _roundtrip(representation, f"representation {cls.name!r}") if attempt else representation
            _reseed(cls, attempt)
            context = _context(work_dir)
            fresh.fit(bundle.train, context)
            out = [np.asarray(fresh.transform(t, context)) for _, t in bundle.tables()]
            for (role, table), matrix in zip(bundle.tables(), out):
                assert matrix.ndim == 2 and matrix.shape[0] == len(table), (
                    f"representation {cls.name!r}: transform() of {role} must give shape (n_samples, n_features), got {matrix.shape}"
                )
                assert matrix.dtype.kind == "f" and np.isfinite(matrix).all(), f"representation {cls.name!r}: output must be finite floats"
            names = fresh.feature_names()
            if names is not None:
                assert len(names) == out[0].shape[1], f"representation {cls.name!r}: {len(names)} feature names for {out[0].shape[1]} columns"
            outputs.append(out)
            _roundtrip(fresh, f"fitted representation {cls.name!r}")
        for a, b in zip(*outputs):
            _assert_same(a, b, f"representation {cls.name!r} (parameter set {index})")
        assert isinstance(representation.seen_labels(), frozenset), f"representation {cls.name!r}: seen_labels() must return a frozenset"


@_declared_only
def check_model(cls: type[Model], params: Iterable[dict] | None = None, work_dir: Path | None = None) -> None:
    """For each declared task: fits, predicts the right shapes, deterministically; pickles."""
    assert cls.tasks, f"model {cls.name!r} declares no tasks"
    for task in sorted(cls.tasks):
        rng = np.random.default_rng(CONTRACT_SEED)
        made = cls.contract_bundle(task, rng)
        if made is None:
            if task not in ("classification", "regression"):
                raise AssertionError(f"model {cls.name!r} fits {task!r}, which has no generic test data; implement contract_bundle()")
            made = synthetic_bundle(task, rng)
        bundle, target = made
        for index, model in enumerate(_instances(cls, params)):
            predictions = []
            for attempt in range(2):
                fresh = _roundtrip(model, f"model {cls.name!r}")
                _reseed(cls, attempt)
                context = _context(work_dir, target=target, targets=dict(bundle.targets), validation=bundle.validation)
                fresh.fit(bundle.train, context)
                table = next(iter(bundle.evaluations.values()))
                pred = fresh.predict(table)
                _check_prediction(cls, pred, target, bundle.targets[target], len(table))
                restored = _roundtrip(fresh, f"fitted model {cls.name!r}")
                _assert_same(pred, restored.predict(table), f"model {cls.name!r}: prediction after pickling")
                predictions.append(pred)
            _assert_same(predictions[0], predictions[1], f"model {cls.name!r} on {task!r} (parameter set {index})")


def _check_prediction(cls: type[Model], pred: Any, target: str, info: TargetInfo, n: int) -> None:
    if isinstance(pred, dict):
        assert target in pred, f"model {cls.name!r}: predict() returned a dict without the target {target!r}"
        pred = pred[target]
    pred = np.asarray(pred)
    assert pred.shape[0] == n, f"model {cls.name!r}: {pred.shape[0]} predictions for {n} samples"
    if info.task == "classification":
        assert pred.ndim == 2 and pred.shape[1] == info.n_classes, (
            f"model {cls.name!r}: classification predictions are probabilities of shape (n, {info.n_classes}); got {pred.shape}"
        )
        assert np.all(pred >= -1e-9) and np.allclose(pred.sum(axis=1), 1.0, atol=1e-4), f"model {cls.name!r}: class probabilities must be non-negative and sum to 1"
    elif info.task == "regression":
        assert pred.ndim == 1 and np.isfinite(pred).all(), f"model {cls.name!r}: regression predictions are finite, shape (n,); got {pred.shape}"
    else:
        assert np.isfinite(pred).all(), f"model {cls.name!r}: predictions must be finite"


@_declared_only
def check_metric(cls: type[Metric], params: Iterable[dict] | None = None) -> None:
    """Scores good predictions better than bad ones, deterministically, as finite numbers."""
    assert cls.tasks, f"metric {cls.name!r} declares no tasks"
    for task in sorted(cls.tasks):
        rng = np.random.default_rng(CONTRACT_SEED)
        cases = cls.contract_cases(task, rng)
        if cases is None:
            cases = generic_metric_cases(task, rng)
        for metric in _instances(cls, params):
            for truth, good, bad, info in cases:
                scores = []
                for prediction in (good, bad):
                    first = metric.score(truth, prediction, info)
                    again = metric.score(truth, prediction, info)
                    value = first.value if isinstance(first, MetricValue) else first
                    assert isinstance(value, float) and np.isfinite(value), f"metric {cls.name!r}: score must be a finite float, got {value!r}"
                    _assert_same(value, again.value if isinstance(again, MetricValue) else again, f"metric {cls.name!r}")
                    if isinstance(first, MetricValue) and first.steps is not None:
                        assert cls.step_name, f"metric {cls.name!r} returns per-step values but has no step_name"
                        assert np.isfinite(np.asarray(first.steps, dtype=float)).all(), f"metric {cls.name!r}: per-step values must be finite"
                    scores.append(value)
                better = scores[0] > scores[1] if cls.higher_is_better else scores[0] < scores[1]
                assert better, f"metric {cls.name!r} on {task!r}: a good prediction ({scores[0]}) must score better than a bad one ({scores[1]}) (higher_is_better={cls.higher_is_better})"


@_declared_only
def check_simulator(cls: type[Simulator], params: Iterable[dict] | None = None) -> None:
    """Simulates a batch with the scenario on the first axis, deterministically; pickles."""
    scenarios = [cls.Scenario.model_validate(s) for s in cls.contract_scenarios()]
    assert scenarios, f"simulator {cls.name!r}: contract_scenarios() returned none"
    for simulator in _instances(cls, params):
        outputs = []
        for attempt in range(2):
            fresh = _roundtrip(simulator, f"simulator {cls.name!r}")
            _reseed(cls, attempt)
            out = fresh.simulate(scenarios)
            arrays = out if isinstance(out, dict) else {"output": out}
            for name, array in arrays.items():
                assert np.asarray(array).shape[0] == len(scenarios), f"simulator {cls.name!r}: {name} has {np.asarray(array).shape[0]} rows for {len(scenarios)} scenarios"
            outputs.append(arrays)
        _assert_same(outputs[0], outputs[1], f"simulator {cls.name!r}")


@_declared_only
def check_curriculum(cls: type[Curriculum], params: Iterable[dict] | None = None) -> None:
    """Names the interface models opt into; pickles."""
    assert isinstance(cls.interface, str) and cls.interface, f"curriculum {cls.name!r} has no interface name"
    for curriculum in _instances(cls, params):
        _roundtrip(curriculum, f"curriculum {cls.name!r}")


@_declared_only
def check_figure(cls: type[Figure], params: Iterable[dict] | None = None, work_dir: Path | None = None) -> None:
    """Draws nothing (returns None) for a run without results, instead of failing."""
    from .run_view import RunView

    empty = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="workbench-contract-"))
    for figure in _instances(cls, params):
        assert figure.draw(RunView(empty / "no-run")) is None, f"figure {cls.name!r} must return None for a run with no results"


@_declared_only
def check_executor(cls: type[Executor], params: Iterable[dict] | None = None) -> None:
    """Gives each cell at least one thread, runs an empty task list, and pickles. (Running real
    cells needs installed components; run a quick study with ``--executor NAME`` for that.)"""
    from .progress import NullSink

    for executor in _instances(cls, params):
        threads = executor.threads_per_cell()
        assert isinstance(threads, int) and threads >= 1, f"executor {cls.name!r}: threads_per_cell() must be an int >= 1, got {threads!r}"
        outcomes: list[Any] = []
        executor.run([], NullSink(), outcomes.append)
        assert outcomes == [], f"executor {cls.name!r} reported outcomes for an empty task list"
        _roundtrip(executor, f"executor {cls.name!r}")


KIND_CHECKS = {
    "dataset": check_dataset,
    "representation": check_representation,
    "model": check_model,
    "curriculum": check_curriculum,
    "simulator": check_simulator,
    "metric": check_metric,
    "figure": check_figure,
    "executor": check_executor,
}


def checks(cls: type[Component], work_dir: Path | None = None, **kwargs: Any) -> list[tuple[str, Any]]:
    """The contract checks that apply to ``cls``, as ``(name, function)`` pairs: run each
    alone, so that one failure does not hide the others (see :func:`parametrize_with_checks`)."""
    checker = KIND_CHECKS[cls.kind]
    needs_dir = cls.kind in ("dataset", "representation", "model", "figure")

    def behaviour() -> None:
        if needs_dir:
            checker(cls, work_dir=work_dir, **kwargs)
        else:
            checker(cls, **kwargs)

    return [("class", lambda: check_component(cls)), (checker.__name__.removeprefix("check_"), behaviour)]


def check(cls: type[Component], work_dir: Path | None = None, **kwargs: Any) -> None:
    """Every contract check that applies to ``cls``, in order; the first failure is raised."""
    for _, run in checks(cls, work_dir, **kwargs):
        run()


def parametrize_with_checks(classes: Iterable[type[Component]]):
    """A ``pytest.mark.parametrize`` over every (component, check) pair, with ids like
    ``model:my-ridge-model`` — scikit-learn's ``parametrize_with_checks`` for workbench::

        @parametrize_with_checks([MyModel, MyMetric])
        def test_contract(component, check, tmp_path):
            check(tmp_path)
    """
    import pytest

    cases = []
    for cls in classes:
        for name, _ in checks(cls):
            cases.append(pytest.param(cls, _bound_check(cls, name), id=f"{cls.kind}:{cls.name}-{name}"))
    return pytest.mark.parametrize(("component", "check"), cases)


def _bound_check(cls: type[Component], name: str):
    def run(work_dir: Path | None = None, **kwargs: Any) -> None:
        dict(checks(cls, work_dir, **kwargs))[name]()

    run.__name__ = f"check_{name}"
    return run


HEAVY_MODULES = ("torch", "sklearn", "scipy", "matplotlib", "rdkit", "distributed")
"""Libraries a plugin module must not import when it is loaded (they load when cells run)."""


def check_plugin(module: str, heavy: Iterable[str] = HEAVY_MODULES) -> None:
    """A plugin module registers at least one component (a forgotten ``@hookimpl`` registers
    nothing), every registration succeeds, and importing it loads none of ``heavy`` (checked in
    a fresh interpreter, so that start-up stays fast)."""
    import importlib
    import subprocess

    import pluggy

    from . import hookspecs
    from .registry import register_plugin

    plugin = importlib.import_module(module)
    registry = Registry()
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    hookspecs.add_hookspecs(manager)
    register_plugin(registry, manager, plugin, module, "check_plugin")
    assert not registry.failures, "; ".join(f.error for f in registry.failures)
    registered_any = any(registry.entries(kind) for kind in KIND_BASES) or registry.commands
    assert registered_any, f"plugin {module} registered no component (is @workbench.hookimpl on its register_* functions?)"
    heavy = tuple(heavy)
    code = f"import sys, {module}; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"importing {module} failed: {done.stderr[-2000:]}"
    loaded = [m for m in done.stdout.strip().split(",") if m]
    assert not loaded, (f"importing plugin {module} loads {', '.join(loaded)}; import them inside the methods that use them, so "
                        "that `workbench --help`, `validate` and `plugins` stay fast")


def registered(registry: Registry | None = None, distribution: str | None = None) -> list[ComponentEntry]:
    """Registered components (optionally of one distribution), for ``pytest.mark.parametrize``."""
    registry = registry or get_registry()
    return [e for e in registry if distribution is None or e.distribution.split(" ")[0] == distribution]


__all__ = [
    "HEAVY_MODULES",
    "check",
    "check_plugin",
    "checks",
    "parametrize_with_checks",
    "check_component",
    "check_curriculum",
    "check_dataset",
    "check_executor",
    "check_figure",
    "check_metric",
    "check_model",
    "check_representation",
    "check_simulator",
    "generic_metric_cases",
    "registered",
    "synthetic_bundle",
]
