"""Running one cell: build its components, load, represent, fit, score, save.

:func:`run_cell` is a plain top-level function of picklable arguments, so the same code runs
in the main process (sequential executor) and in worker processes (process pool); the two
therefore give the same numbers.
"""

from __future__ import annotations

import logging
import math
import random
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .bundle import Bundle, Table, TargetInfo
from .cache import Cache
from .components import Metric, MetricValue
from .context import CellContext
from .datafiles import DataLocator
from .errors import ComponentError, WorkbenchError
from .progress import NullSink, ProgressSink, ProgressTask
from .registry import get_registry
from .specs import MetricSpec
from .study import Study

RESULT_FILE = "result.json"
ERROR_FILE = "error.txt"


@dataclass(frozen=True)
class CellJob:
    """Everything a worker needs to run one cell (all picklable)."""

    cell_id: str
    seed: int
    coordinates: dict[str, str]
    study: dict[str, Any]
    study_dir: str
    cell_dir: str
    cache_dir: str
    data_dir: str | None
    threads: int
    log_path: str | None = None


@dataclass
class CellOutcome:
    cell_id: str
    ok: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def seed_everything(seed: int, threads: int) -> None:
    """Seed every generator a component might use and pin the thread count, so that a cell
    gives the same numbers whenever it runs on the same machine with the same ``--jobs``."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))
    torch.use_deterministic_algorithms(True, warn_only=True)


def _attach_log(log_path: str | None) -> logging.Logger:
    logger = logging.getLogger("workbench")
    logger.setLevel(logging.INFO)
    if log_path and not any(getattr(h, "baseFilename", None) == str(Path(log_path).resolve()) for h in logger.handlers):
        handler = logging.FileHandler(log_path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(processName)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


def row(evaluation: str, metric: str, value: float, step_name: str = "", step: float = math.nan) -> dict[str, Any]:
    return {"evaluation": evaluation, "metric": metric, "step_name": step_name, "step": step, "value": float(value)}


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
    """Rows scoring ``predictions`` for ``table`` with every metric that applies to it."""
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
        value = metric.score(truth, prediction, info)
        label = spec.display()
        if isinstance(value, MetricValue):
            rows.append(row(evaluation, label, value.value, step_name, step))
            if per_step and value.steps is not None and metric.step_name:
                rows.extend(row(evaluation, label, v, metric.step_name, float(i)) for i, v in enumerate(np.asarray(value.steps, dtype=float)))
        else:
            rows.append(row(evaluation, label, value, step_name, step))
    return rows


def prepare_bundle(bundle: Bundle, study: Study, target: str, context: CellContext) -> Bundle:
    """Drop samples missing the target and draw the training subset, as the study asks."""
    bundle = bundle.drop_missing(target)
    if study.train_size is not None:
        rng = np.random.default_rng(context.derive_seed("train_size", study.train_size))
        bundle = bundle.subsample_train(study.train_size, rng)
    return bundle


def run_cell(job: CellJob, sink: ProgressSink | None = None) -> CellOutcome:
    """Run one cell and write its result file; failures become a message, not a crash."""
    started = time.perf_counter()
    cell_dir = Path(job.cell_dir)
    cell_dir.mkdir(parents=True, exist_ok=True)
    log = _attach_log(job.log_path).getChild(job.cell_id)
    try:
        rows = _compute(job, cell_dir, sink or NullSink(), log)
    except WorkbenchError as error:
        message = str(error)
        log.error("cell failed: %s", message)
        atomic.write_text(cell_dir / ERROR_FILE, message + "\n")
        return CellOutcome(job.cell_id, False, seconds=time.perf_counter() - started, error=message)
    except Exception as error:  # a bug in a component: keep going with the other cells
        detail = traceback.format_exc()
        log.error("cell failed with an unexpected error:\n%s", detail)
        atomic.write_text(cell_dir / ERROR_FILE, detail)
        message = f"{type(error).__name__}: {error} (traceback in {cell_dir / ERROR_FILE})"
        return CellOutcome(job.cell_id, False, seconds=time.perf_counter() - started, error=message)
    seconds = time.perf_counter() - started
    atomic.write_json(
        cell_dir / RESULT_FILE,
        {"cell": job.cell_id, "seed": job.seed, "coordinates": job.coordinates, "seconds": seconds, "rows": rows},
    )
    (cell_dir / ERROR_FILE).unlink(missing_ok=True)
    log.info("cell finished in %.1f s", seconds)
    return CellOutcome(job.cell_id, True, rows, seconds)


def _compute(job: CellJob, cell_dir: Path, sink: ProgressSink, log: logging.Logger) -> list[dict[str, Any]]:
    seed_everything(job.seed, job.threads)
    registry = get_registry()
    study = Study.model_validate(job.study)
    built: dict[str, Any] = {}
    for section in ("dataset", "representation", "model", "curriculum", "simulator"):
        spec = getattr(study, section)
        if spec is not None:
            built[section] = registry.build(section, spec.use, spec.with_)
    metrics = [(spec, registry.build("metric", spec.use, spec.with_)) for spec in study.metrics]

    cache = Cache(job.cache_dir)
    context = CellContext(
        seed=job.seed,
        cell_id=job.cell_id,
        coordinates=dict(job.coordinates),
        cache=cache,
        data=DataLocator(job.data_dir, cache),
        study_dir=Path(job.study_dir),
        components=built,
        curriculum=built.get("curriculum"),
        threads=job.threads,
        log=log,
        progress_sink=sink,
        cell_dir=cell_dir,
    )
    stages = ProgressTask(sink, f"{job.cell_id} " + " ".join(f"{k.split('.')[-1]}={v}" for k, v in job.coordinates.items()), 4)
    with stages:
        return _pipeline(study, built, metrics, context, stages, log)


def _pipeline(study: Study, built: dict[str, Any], metrics: list[tuple[MetricSpec, Metric]], context: CellContext,
              stages: ProgressTask, log: logging.Logger) -> list[dict[str, Any]]:
    stages.advance(0, stage="loading data")
    dataset = built["dataset"]
    # Components learn the target before loading, so a dataset or representation can leave
    # the predicted label out of what it derives from the others (label leakage).
    described = dataset.describe_targets()
    context.target = study.target or next(iter(described), None)
    context.targets = dict(described)
    bundle = dataset.load(context)
    target = study.target or next(iter(bundle.targets))
    bundle = prepare_bundle(bundle, study, target, context)
    context.target = target
    context.targets = dict(bundle.targets)
    stages.advance(1, stage="representing")
    context.feature_names = bundle.feature_names
    representation = built.get("representation")
    if representation is not None:
        representation.fit(bundle.train, context)
        bundle = bundle.map_tables(lambda _, table: table.with_inputs(representation.transform(table, context)))
        context.feature_names = representation.feature_names()
    context.validation = bundle.validation
    scored_tables = [(name, table) for name, table in bundle.tables() if name != "train"]

    if study.track_epochs:
        def track(epoch: int, predict: Any) -> None:
            for name, table in scored_tables:
                for r in score_table(metrics, predict(table), table, name, target, bundle.targets,
                                     per_step=False, step_name="epoch", step=float(epoch)):
                    context.records.append(r)

        context.epoch_hook = track

    model = built["model"]
    log.info("fitting %s on %d training samples", study.model.use, len(bundle.train))
    stages.advance(1, stage="fitting")
    model.fit(bundle.train, context)
    stages.advance(1, stage="scoring")
    rows = list(context.records)
    for name, table in scored_tables:
        rows.extend(score_table(metrics, model.predict(table), table, name, target, bundle.targets))
    context.clear_checkpoint()
    stages.advance(1, stage="done")
    return rows
