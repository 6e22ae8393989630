"""Running cells: build the components of a plan, load, represent, fit, score, save.

:func:`run_task` is a plain top-level function of picklable arguments, so the same code runs in
this process, in local worker processes and on cluster workers, and all give the same numbers.
A :class:`CellTask` carries one cell's plan, or the plans of sibling cells that their model fits
together (:attr:`workbench.Model.fit_together`); each cell's result is written to its own
directory either way.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import random
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .bundle import Bundle, Table, TargetInfo
from .cache import Cache
from .components import Component, Metric, MetricValue, Model
from .context import CellContext
from .datafiles import DataLocator
from .errors import ComponentError, WorkbenchError
from .progress import NullSink, ProgressSink, ProgressTask
from .registry import get_registry
from .schema import PLAN_SECTIONS, SECTION_KINDS, CellPlan, plan_content
from .specs import MetricSpec

RESULT_FILE = "result.json"
ERROR_FILE = "error.txt"
PLAN_FILE = "plan.json"


@dataclass(frozen=True)
class CellTask:
    """Everything a worker needs to run one cell, or sibling cells fitted together."""

    plans: tuple[dict[str, Any], ...]
    """Plan contents (:func:`workbench.schema.plan_content`), one per cell."""
    run_dir: str
    study_dir: str
    cache_dir: str
    data_dir: str | None
    threads: int = 1

    @property
    def cell_ids(self) -> list[str]:
        return [plan["id"] for plan in self.plans]

    def with_threads(self, threads: int) -> CellTask:
        return CellTask(self.plans, self.run_dir, self.study_dir, self.cache_dir, self.data_dir, max(1, threads))


@dataclass
class CellOutcome:
    cell_id: str
    ok: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


# -- seeding ----------------------------------------------------------------------------------


def _seed_torch(seed: int, threads: int) -> None:
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))
    torch.use_deterministic_algorithms(True, warn_only=True)


def _pin_sklearn(seed: int, threads: int) -> None:
    import sklearn  # noqa: F401  (scikit-learn has no global generator: estimators take random_state)


FRAMEWORK_SEEDERS = {"torch": _seed_torch, "sklearn": _pin_sklearn}
"""How the kernel seeds and pins each framework a component may declare in ``frameworks``."""

FRAMEWORK_MODULES = {"torch": ("torch",), "sklearn": ("sklearn", "sklearn.base", "sklearn.utils.validation"),
                     "matplotlib": ("matplotlib.figure", "matplotlib.backends.backend_agg")}
"""What worker processes import once, before they are forked, for each declared framework (and
what the runner imports in the background for the figures)."""


def framework_modules(frameworks: Iterable[str]) -> list[str]:
    """The modules to import ahead of use for components declaring ``frameworks``."""
    return list(dict.fromkeys(module for framework in frameworks for module in FRAMEWORK_MODULES.get(framework, (framework,))))


def pin_threads(threads: int) -> None:
    """Limit the BLAS and OpenMP thread pools of this process (numpy, SciPy, scikit-learn) to the
    cell's share of the CPUs, so that N cells at once do not run N × CPUs threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=max(1, threads))


def seed_everything(seed: int, threads: int, frameworks: Sequence[str] = ()) -> None:
    """Seed every generator a cell's components use and pin their thread counts, so that a cell
    gives the same numbers whenever it runs on the same machine with the same thread count.
    Frameworks are imported only when a component declares them (or they are already loaded),
    so a cell of scikit-learn components never pays for importing torch."""
    random.seed(seed)
    np.random.seed(seed)
    pin_threads(threads)
    for name, seeder in FRAMEWORK_SEEDERS.items():
        if name in frameworks or name in sys.modules:
            seeder(seed, threads)
    unknown = sorted(set(frameworks) - set(FRAMEWORK_SEEDERS))
    for name in unknown:
        importlib.import_module(name)  # declared but unknown to the kernel: at least fail early if missing


# -- helpers ----------------------------------------------------------------------------------


def _logger(run_dir: Path) -> logging.Logger:
    logger = logging.getLogger("workbench")
    logger.setLevel(logging.INFO)
    path = (run_dir / "run.log").resolve()
    if not any(getattr(h, "baseFilename", None) == str(path) for h in logger.handlers):
        for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
            logger.removeHandler(handler)
            handler.close()
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(processName)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


def row(evaluation: str, metric: str, value: float, step_name: str = "", step: float = math.nan, n: int | None = None) -> dict[str, Any]:
    return {"evaluation": evaluation, "metric": metric, "step_name": step_name, "step": step, "value": float(value),
            "n": n}


def score_table(
    metrics: list[tuple[MetricSpec, Metric]],
    predictions: Any,
    table: Table,
    evaluation: str,
    study_target: str,
    targets: dict[str, TargetInfo],
    *,
    per_step: bool = True,
    step_name: str = "",
    step: float = math.nan,
) -> list[dict[str, Any]]:
    """Rows scoring ``predictions`` for ``table`` with every metric that applies to it; each row
    records ``n``, the number of samples its value was computed on."""
    rows: list[dict[str, Any]] = []
    for spec, metric in metrics:
        if spec.on is not None and evaluation not in spec.on:
            continue
        target = spec.target or study_target
        if isinstance(predictions, dict):
            if target not in predictions:
                raise ComponentError(f"metric {spec.display()!r} scores target {target!r}, but the model predicts only {sorted(predictions)}")
            prediction = predictions[target]
        elif target == study_target:
            prediction = predictions
        else:
            raise ComponentError(f"metric {spec.display()!r} scores target {target!r}, but the model predicts only the study target {study_target!r}")
        if target not in table.targets:
            continue
        truth = table.targets[target]
        info = targets[target]
        if target != study_target:
            kept = table.labelled(target)
            truth = np.asarray(truth)[kept]
            prediction = np.asarray(prediction)[kept]
            if info.task == "classification":
                truth = truth.astype(np.int64)
        if len(truth) == 0:
            continue
        check_finite(prediction, spec, evaluation)
        value = metric.score(truth, prediction, info)
        label = spec.display()
        n = len(truth)
        if isinstance(value, MetricValue):
            rows.append(row(evaluation, label, value.value, step_name, step, n))
            if per_step and value.steps is not None and metric.step_name:
                rows.extend(row(evaluation, label, v, metric.step_name, float(i), n) for i, v in enumerate(np.asarray(value.steps, dtype=float)))
        else:
            rows.append(row(evaluation, label, value, step_name, step, n))
    return rows


def check_finite(prediction: Any, spec: MetricSpec, evaluation: str) -> None:
    """The one policy for non-finite predictions: refused, never scored (metrics would turn
    them into NaN, an error, or the best or worst rank, each differently)."""
    try:
        values = np.asarray(prediction)
    except (TypeError, ValueError):
        return
    if values.dtype.kind in "fc":
        bad = ~np.isfinite(values)
        if bad.any():
            rows = np.flatnonzero(bad.reshape(len(values), -1).any(axis=1)) if values.ndim else np.array([0])
            shown = ", ".join(str(int(r)) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise ComponentError(f"the model predicted NaN or infinite values for {len(rows)} of {len(values) if values.ndim else 1} "
                                 f"{evaluation} samples (rows {shown}), so metric {spec.display()!r} cannot score them; "
                                 "check the model's inputs and settings (a diverged fit?)")


def prepare_bundle(bundle: Bundle, plan: CellPlan, context: CellContext) -> Bundle:
    """Drop samples missing the target and draw the training subset, as the plan asks. Every
    dropped sample is reported in a note. The validation and evaluation tables do not depend on
    ``train_size``: a learning curve is scored on one fixed test set."""
    before = {role: len(table) for role, table in bundle.tables()}
    bundle = bundle.drop_missing(plan.target)
    dropped = {role: before[role] - len(table) for role, table in bundle.tables() if before[role] != len(table)}
    if dropped:
        where = ", ".join(f"{n} of {before[role]} {role}" for role, n in dropped.items())
        context.note(f"{where} samples have no {plan.target!r} value and were left out")
    if plan.train_size is not None:
        rng = np.random.default_rng(context.derive_seed("train_size", plan.train_size))
        bundle = bundle.subsample_train(plan.train_size, rng)
    return bundle


def build(plan: CellPlan) -> dict[str, Any]:
    """The plan's components, by section (metrics as a list of ``(spec, metric)``)."""
    registry = get_registry()
    built: dict[str, Any] = {}
    for section in PLAN_SECTIONS:
        value = getattr(plan, section)
        kind = SECTION_KINDS[section].name
        if isinstance(value, list):
            built[section] = [(spec, registry.build(kind, spec.use, spec.with_)) for spec in value]
        elif value is not None:
            built[section] = registry.build(kind, value.use, value.with_)
    return built


def _components(built: dict[str, Any]) -> list[Component]:
    out: list[Component] = []
    for value in built.values():
        out.extend(m for _, m in value) if isinstance(value, list) else out.append(value)
    return out


# -- running ----------------------------------------------------------------------------------


def run_task(task: CellTask, sink: ProgressSink | None = None) -> list[CellOutcome]:
    """Run a task's cells and write each one's result file; a failure becomes a message for
    the cells it concerns, never a crash of the caller."""
    sink = sink or NullSink()
    run_dir = Path(task.run_dir)
    log = _logger(run_dir)
    started = time.perf_counter()
    plans = [CellPlan.model_validate(p) for p in task.plans]
    for plan in plans:
        cell_dir = run_dir / "cells" / plan.id
        cell_dir.mkdir(parents=True, exist_ok=True)
        atomic.write_json(cell_dir / PLAN_FILE, plan_content(plan))
    try:
        rows_by_cell, data = _compute(task, plans, sink, log)
    except WorkbenchError as error:
        return [_failed(run_dir, plan, str(error), None, started, log) for plan in plans]
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # a bug in a component (or a stray sys.exit()): keep going with the other cells
        detail = traceback.format_exc()
        kind = f"a component called sys.exit({error.code!r})" if isinstance(error, SystemExit) else f"{type(error).__name__}: {error}"
        return [_failed(run_dir, plan, kind, detail, started, log) for plan in plans]
    seconds = (time.perf_counter() - started) / len(plans)
    outcomes = []
    for plan in plans:
        cell_dir = run_dir / "cells" / plan.id
        rows, notes, files = rows_by_cell[plan.id]
        atomic.write_json_checked(cell_dir / RESULT_FILE, {"cell": plan.id, "seed": plan.seed, "coordinates": plan.coordinates,
                                                           "seconds": seconds, "data": data, "data_files": files, "notes": notes,
                                                           "rows": rows})
        (cell_dir / ERROR_FILE).unlink(missing_ok=True)
        log.getChild(plan.id).info("cell finished in %.1f s", seconds)
        outcomes.append(CellOutcome(plan.id, True, rows, seconds, notes=notes))
    return outcomes


def _failed(run_dir: Path, plan: CellPlan, message: str, detail: str | None, started: float, log: logging.Logger) -> CellOutcome:
    cell_dir = run_dir / "cells" / plan.id
    if detail is not None:
        log.getChild(plan.id).error("cell failed with an unexpected error:\n%s", detail)
        atomic.write_text(cell_dir / ERROR_FILE, detail)
        message = f"{message} (traceback in {cell_dir / ERROR_FILE})"
    else:
        log.getChild(plan.id).error("cell failed: %s", message)
        atomic.write_text(cell_dir / ERROR_FILE, message + "\n")
    return CellOutcome(plan.id, False, seconds=time.perf_counter() - started, error=message)


def _context(task: CellTask, plan: CellPlan, built: dict[str, Any], sink: ProgressSink, log: logging.Logger) -> CellContext:
    cache = Cache(task.cache_dir)
    return CellContext(
        seed=plan.seed,
        cell_id=plan.id,
        coordinates=dict(plan.coordinates),
        cache=cache,
        data=DataLocator(task.data_dir, cache),
        study_dir=Path(task.study_dir),
        components={k: v for k, v in built.items() if not isinstance(v, list)},
        curriculum=built.get("curriculum"),
        threads=task.threads,
        log=log.getChild(plan.id),
        progress_sink=sink,
        cell_dir=Path(task.run_dir) / "cells" / plan.id,
    )


def _compute(task: CellTask, plans: list[CellPlan], sink: ProgressSink, log: logging.Logger) -> tuple[dict[str, tuple[list[dict[str, Any]], list[str], dict[str, str]]], str]:
    """Every cell's result rows, notes and data files read (with their sha256), and the
    dataset's description of the data (its split)."""
    members = [build(plan) for plan in plans]
    lead_plan, lead = plans[0], members[0]
    frameworks = sorted({f for built in members for c in _components(built) for f in c.frameworks})
    seed_everything(lead_plan.seed, task.threads, frameworks)
    contexts = [_context(task, plan, built, sink, log) for plan, built in zip(plans, members)]
    context = contexts[0]
    where = " ".join(f"{k.split('.')[-1]}={v}" for k, v in lead_plan.coordinates.items())
    title = f"{lead_plan.id} {where}" + (f" (+{len(plans) - 1} fitted together)" if len(plans) > 1 else "")
    with ProgressTask(sink, title, 4) as stages:
        stages.advance(0, stage="loading data")
        dataset = lead["dataset"]
        # Components learn the target before loading, so a dataset or representation can leave
        # the predicted label out of what it derives from the others (label leakage).
        for c in contexts:
            c.target = lead_plan.target
            c.targets = dict(dataset.describe_targets())
        bundle = dataset.load(context)
        if lead_plan.target not in bundle.targets:
            raise ComponentError(f"dataset {lead_plan.dataset.use!r} loaded no target {lead_plan.target!r} (it has {sorted(bundle.targets)})")
        bundle = prepare_bundle(bundle, lead_plan, context)
        stages.advance(1, stage="representing")
        feature_names = bundle.feature_names
        representation = lead.get("representation")
        if representation is not None:
            representation.fit(bundle.train, context)
            bundle = bundle.map_tables(lambda _, table: table.with_inputs(representation.transform(table, context)))
            feature_names = representation.feature_names()
        scored_tables = [(name, table) for name, table in bundle.tables() if name != "train"]
        for c in contexts[1:]:  # siblings share the data, and what was said about it
            c.notes.extend(n for n in context.notes if n not in c.notes)
        for plan, built, c in zip(plans, members, contexts):
            c.targets = dict(bundle.targets)
            c.feature_names = feature_names
            c.validation = bundle.validation
            if plan.track_epochs:
                c.epoch_hook = _epoch_hook(c, built["metrics"], scored_tables, plan.target, bundle.targets)
        model: Model = lead["model"]
        log.getChild(lead_plan.id).info("fitting %s on %d training samples%s", lead_plan.model.use, len(bundle.train),
                                        f" ({len(plans)} cells together)" if len(plans) > 1 else "")
        stages.advance(1, stage="fitting")
        if len(plans) == 1:
            model.fit(bundle.train, context)
            fitted: Sequence[Model] = [model]
        else:
            fitted = model.fit_group(bundle.train, contexts)
            if len(fitted) != len(plans):
                raise ComponentError(f"model {lead_plan.model.use!r}: fit_group returned {len(fitted)} models for {len(plans)} cells")
        stages.advance(1, stage="scoring")
        out: dict[str, tuple[list[dict[str, Any]], list[str], dict[str, str]]] = {}
        for plan, built, c, m in zip(plans, members, contexts, fitted):
            rows = list(c.records)
            for name, table in scored_tables:
                rows.extend(score_table(built["metrics"], m.predict(table), table, name, plan.target, bundle.targets))
            c.clear_checkpoint()
            out[plan.id] = (rows, list(c.notes), {**context.data.files_read, **c.data.files_read})
        stages.advance(1, stage="done")
    return out, bundle.description


def _epoch_hook(context: CellContext, metrics: list[tuple[MetricSpec, Metric]], tables: list[tuple[str, Table]], target: str,
                targets: dict[str, TargetInfo]):
    def track(epoch: int, predict: Any) -> None:
        for name, table in tables:
            context.records.extend(score_table(metrics, predict(table), table, name, target, targets,
                                               per_step=False, step_name="epoch", step=float(epoch)))

    return track


def hash_seed_pinned() -> bool:
    """Whether string hashing (set iteration order) is fixed in this process."""
    return os.environ.get("PYTHONHASHSEED") not in (None, "", "random")
