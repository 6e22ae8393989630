"""A read-only view of a run directory: what figures and reports are drawn from."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULT_COLUMNS = ["cell", "replicate", "seed", "evaluation", "metric", "step_name", "step", "value", "n"]
"""Columns every results table has; the grid axes come after ``cell``, one column each.
``n`` is the number of samples (or scenarios) the row's value was computed on."""

log = logging.getLogger("workbench.run")


def read_result(path: Path) -> dict[str, Any] | None:
    """A cell's ``result.json``, or ``None`` when it is absent or damaged. A damaged file is
    moved aside (``result.json.damaged``) and reported, so the cell is recomputed on resume."""
    from .atomic import DamagedFileError, read_json_checked

    try:
        result = read_json_checked(path)
    except DamagedFileError as error:
        log.warning("%s; the cell will be recomputed", error)
        try:
            path.replace(path.with_name(path.name + ".damaged"))
        except OSError:
            pass
        return None
    if result is not None and not isinstance(result.get("rows"), list):
        log.warning("%s holds no result rows; the cell will be recomputed", path)
        return None
    return result


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

    def __init__(self, run_dir: Path | str, results: pd.DataFrame | None = None):
        self.dir = Path(run_dir)
        self._results = results

    @cached_property
    def manifest(self) -> dict[str, Any]:
        path = self.dir / "manifest.json"
        if not path.exists():
            return {}
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            from .errors import WorkbenchError

            raise WorkbenchError(f"{path} is damaged ({error}); the cells' own results in {self.dir / 'cells'} are intact: "
                                 "re-run the study with --resume --run-dir to rebuild it") from None
        return manifest if isinstance(manifest, dict) else {}

    @property
    def results(self) -> pd.DataFrame:
        if self._results is None:
            path = self.dir / "results.csv"
            self._results = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"step_name": str}) if path.exists() else pd.DataFrame(columns=RESULT_COLUMNS)
            if "step_name" in self._results:
                self._results["step_name"] = self._results["step_name"].fillna("")
        return self._results

    @cached_property
    def report(self) -> Any:
        """The study's ``report`` section (a :class:`workbench.schema.ReportSpec`)."""
        from .schema import ReportSpec

        return ReportSpec.model_validate(self.manifest.get("report") or {})

    @cached_property
    def study(self) -> Any:
        """The study as written (a :class:`workbench.schema.Study`); for a run of a plans file,
        a study made of its first cell's plan and the report."""
        from .schema import CELL_FIELDS, Study

        written = self.manifest.get("study")
        if written:
            return Study.model_validate(written)
        cells = self.manifest.get("cells") or []
        plan = self.plan(cells[0]["id"]) if cells else None
        if plan is None:
            return None
        data = {k: v for k, v in plan.model_dump(mode="json", by_alias=True).items() if k in CELL_FIELDS}
        return Study.model_validate({**data, "name": self.manifest.get("study_name", "study"),
                                     "report": self.manifest.get("report") or {}})

    def plan(self, cell_id: str) -> Any:
        """The plan cell ``cell_id`` ran from (a :class:`workbench.schema.CellPlan`), or ``None``."""
        from .schema import CellPlan

        path = self.dir / "cells" / cell_id / "plan.json"
        try:
            return CellPlan.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    @property
    def axes(self) -> list[str]:
        """Grid axis names (columns of ``results``), ``replicate`` excluded."""
        return list(self.manifest.get("axes", []))

    @property
    def cells(self) -> list[CellInfo]:
        out = []
        for item in self.manifest.get("cells", []):
            cell_dir = self.dir / "cells" / item["id"]
            if read_result(cell_dir / "result.json") is not None:
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
