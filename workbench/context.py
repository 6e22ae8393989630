"""What a component can ask of the kernel while a cell runs.

One :class:`CellContext` is made per cell and passed to ``Dataset.load``,
``Representation.fit/transform`` and ``Model.fit``. It carries the cell's seed and random
generator, the cache and data locator, the cell's other components, progress bars, a log,
and places to record extra results, artifacts for figures, and checkpoints for resuming.

Outside a study (a notebook, a test) make one with :meth:`CellContext.standalone`.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import atomic, tensorfile
from .bundle import Table, TargetInfo
from .cache import Cache, digest
from .datafiles import DataLocator
from .progress import NullSink, ProgressSink, ProgressTask

if TYPE_CHECKING:  # pragma: no cover
    from .components import Component, Curriculum

EpochHook = Callable[[int, Callable[[Table], Any]], None]
CHECKPOINT_FILE = "checkpoint.npz"


def derive_seed(base: int, *labels: Any) -> int:
    """A 31-bit seed determined by ``base`` and ``labels`` (stable across runs and machines)."""
    return int(digest({"base": int(base), "labels": [str(x) for x in labels]}, length=8), 16) & 0x7FFFFFFF


@dataclass
class CellContext:
    """The kernel's services for one cell. Attributes a component may read:

    - ``seed`` / ``rng``: the cell's seed and a numpy Generator seeded with it. Torch and numpy's
      global generators are seeded with it before the cell starts.
    - ``cache``, ``data``: the :class:`~workbench.cache.Cache` and :class:`~workbench.datafiles.DataLocator`.
    - ``components``: the cell's built components by study section (``"simulator"``, ...).
    - ``target``, ``targets``: the target to predict and every target's :class:`TargetInfo`.
    - ``validation``: the validation table (after the representation), if the dataset has one.
    - ``feature_names``: names of the input columns, when the dataset (or representation) gives them.
    - ``curriculum``: the cell's curriculum, or ``None``.
    - ``study_dir``: the study file's directory (relative paths in parameters are resolved here).
    - ``threads``: how many CPU threads this cell may use.
    - ``log``: a logger that writes to the run's log file.
    """

    seed: int = 0
    cell_id: str = "standalone"
    coordinates: dict[str, Any] = field(default_factory=dict)
    cache: Cache = field(default_factory=Cache)
    data: DataLocator | None = None
    study_dir: Path = field(default_factory=Path.cwd)
    components: dict[str, Component] = field(default_factory=dict)
    target: str | None = None
    targets: dict[str, TargetInfo] = field(default_factory=dict)
    validation: Table | None = None
    feature_names: tuple[str, ...] | None = None
    curriculum: Curriculum | None = None
    threads: int = 1
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("workbench.cell"))
    progress_sink: ProgressSink = field(default_factory=NullSink)
    cell_dir: Path | None = None
    epoch_hook: EpochHook | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.data is None:
            self.data = DataLocator(cache=self.cache)
        self.rng = np.random.default_rng(self.seed)

    @classmethod
    def standalone(
        cls,
        seed: int = 0,
        *,
        cache_dir: Path | str | None = None,
        data_dir: Path | str | None = None,
        work_dir: Path | str | None = None,
        **kwargs: Any,
    ) -> CellContext:
        """A context for using components outside a study run (notebooks, tests)."""
        cache = Cache(cache_dir)
        work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="workbench-cell-"))
        return cls(seed=seed, cache=cache, data=DataLocator(data_dir, cache), cell_dir=work, **kwargs)

    def derive_seed(self, *labels: Any) -> int:
        """A seed for a sub-task (a data split, a sampler) determined by the cell seed and labels."""
        return derive_seed(self.seed, *labels)

    def resolve_path(self, path: str | Path) -> Path:
        """``path`` made absolute relative to the study file's directory."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.study_dir / p).resolve()

    def progress(self, description: str, total: float | None = None) -> ProgressTask:
        """A progress bar shown in the terminal report; use ``with`` so it closes."""
        return ProgressTask(self.progress_sink, f"{self.cell_id} {description}", total)

    def record(
        self,
        metric: str,
        value: float,
        *,
        step: int | float | None = None,
        step_name: str | None = None,
        evaluation: str = "train",
    ) -> None:
        """Add a row to the results table (training loss, samples drawn, timings, ...)."""
        self.records.append(
            {
                "evaluation": evaluation,
                "metric": metric,
                "step_name": step_name or "",
                "step": math.nan if step is None else float(step),
                "value": float(value),
            }
        )

    def note(self, message: str) -> None:
        """Tell the user something they must not miss about this cell's data — rows or columns
        left out and why, values replaced. Notes are logged, kept in the cell's result, shown
        on the terminal after the run and listed in ``summary.json``. Never drop data silently."""
        if message not in self.notes:
            self.notes.append(message)
            self.log.warning("%s", message)

    def end_epoch(self, epoch: int, predict: Callable[[Table], Any]) -> None:
        """Tell the kernel an epoch ended. When the study tracks epochs, the kernel scores the
        study's metrics on the validation and evaluation tables with ``predict``."""
        if self.epoch_hook is not None:
            self.epoch_hook(epoch, predict)

    def save_artifact(self, name: str, **arrays: np.ndarray) -> Path | None:
        """Keep arrays (e.g. a predicted trajectory) for figures; returns the file written."""
        if self.cell_dir is None:
            return None
        path = self.cell_dir / "artifacts" / f"{name}.npz"
        atomic.write_npz(path, arrays)
        return path

    # Checkpoints let a long fit resume mid-cell after an interruption. The rows recorded so
    # far travel with the state, so a resumed cell reports exactly what an uninterrupted one would.
    # They are tensor files (arrays + JSON), never pickles: a run directory may come from
    # someone else, and loading a checkpoint must not be able to run code.
    def save_checkpoint(self, state: Mapping[str, Any]) -> None:
        """Keep ``state`` (arrays, tensors, numbers, strings, lists, dicts) to resume from."""
        if self.cell_dir is None:
            return
        tensorfile.dump({"state": dict(state), "records": list(self.records)}, self.cell_dir / CHECKPOINT_FILE)

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The state saved by the last :meth:`save_checkpoint` of this cell, or ``None``."""
        if self.cell_dir is None:
            return None
        path = self.cell_dir / CHECKPOINT_FILE
        if not path.exists():
            return None
        try:
            saved = tensorfile.load(path)
            state, records = saved["state"], saved["records"]
        except (tensorfile.TensorFileError, KeyError, TypeError) as error:  # a damaged checkpoint is discarded
            self.log.warning("checkpoint %s could not be read (%s); starting the cell afresh", path, error)
            path.unlink(missing_ok=True)
            return None
        self.records = list(records)
        return state

    def clear_checkpoint(self) -> None:
        if self.cell_dir is not None:
            (self.cell_dir / CHECKPOINT_FILE).unlink(missing_ok=True)
