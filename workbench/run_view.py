"""A read-only view of a run directory: what figures and reports are drawn from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULT_COLUMNS = ["cell", "replicate", "seed", "evaluation", "metric", "step_name", "step", "value"]
"""Columns every results table has; the grid axes come after ``cell``, one column each."""


@dataclass(frozen=True)
class CellInfo:
    """One finished cell of a run."""

    id: str
    coordinates: dict[str, Any]
    seed: int
    dir: Path


class RunView:
    """The results table, resolved study and saved artifacts of one run directory.

    ``results`` is the tidy table: one row per cell × evaluation set × metric × step, with
    columns ``cell``, one per grid axis (named by its dotted path, values as labels),
    ``replicate``, ``seed``, ``evaluation``, ``metric``, ``step_name`` (``""`` for the final
    value, else e.g. ``"epoch"`` or ``"frame"``), ``step`` and ``value``.
    """

    def __init__(self, run_dir: Path | str, results: pd.DataFrame | None = None, study: Any = None):
        self.dir = Path(run_dir)
        self._results = results
        self._study = study

    @cached_property
    def manifest(self) -> dict[str, Any]:
        path = self.dir / "manifest.json"
        return json.loads(path.read_text()) if path.exists() else {}

    @property
    def results(self) -> pd.DataFrame:
        if self._results is None:
            path = self.dir / "results.csv"
            self._results = pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.exists() else pd.DataFrame(columns=RESULT_COLUMNS)
            if "step_name" in self._results:
                self._results["step_name"] = self._results["step_name"].fillna("")
        return self._results

    @property
    def study(self) -> Any:
        """The resolved study (a :class:`workbench.study.Study`)."""
        if self._study is None:
            from .study import Study

            self._study = Study.model_validate(self.manifest["study"])
        return self._study

    @property
    def axes(self) -> list[str]:
        """Grid axis names (columns of ``results``), ``replicate`` excluded."""
        return list(self.manifest.get("axes", []))

    @property
    def cells(self) -> list[CellInfo]:
        out = []
        for item in self.manifest.get("cells", []):
            cell_dir = self.dir / "cells" / item["id"]
            if (cell_dir / "result.json").exists():
                out.append(CellInfo(item["id"], item["coordinates"], item["seed"], cell_dir))
        return out

    def artifact(self, cell_id: str, name: str) -> dict[str, np.ndarray] | None:
        """Arrays a cell saved with ``context.save_artifact(name, ...)``, or ``None``."""
        path = self.dir / "cells" / cell_id / "artifacts" / f"{name}.npz"
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as stored:
            return {k: stored[k] for k in stored.files}

    def artifacts(self, name: str) -> Iterator[tuple[CellInfo, dict[str, np.ndarray]]]:
        """Every finished cell's artifact ``name``, with the cell it came from."""
        for cell in self.cells:
            arrays = self.artifact(cell.id, name)
            if arrays is not None:
                yield cell, arrays

    def final(self) -> pd.DataFrame:
        """Rows holding final values (no step)."""
        r = self.results
        return r[r["step_name"] == ""]

    def stepped(self, step_name: str) -> pd.DataFrame:
        """Rows holding per-step values for ``step_name`` (``"epoch"``, ``"frame"``, ...)."""
        r = self.results
        return r[r["step_name"] == step_name]
