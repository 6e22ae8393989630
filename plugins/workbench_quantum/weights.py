"""The trained weights every finished `gru-emulator` cell keeps, stored without pickle.

Two files in the cell's ``artifacts/`` directory:

* ``emulator-weights.npz`` — the network's parameters, one float32 array per entry of its
  state dict (written with ``context.save_artifact``; read with ``allow_pickle=False``);
* ``emulator-weights.json`` — everything needed to rebuild and use it: a format tag and
  version, the model's parameters, the grid spacing and frame interval it was trained on, the
  simulator's settings (to simulate a new scenario's start and truth the same way), the cell it
  came from, and the sha256 of the npz file. Written atomically (``workbench.atomic``), and
  only after the npz, so a JSON file always describes a complete weights file.

Nothing here is ever unpickled: a run directory may come from someone else.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench import DataCorruptError, atomic

from .windows import HISTORY, WINDOW

if TYPE_CHECKING:  # pragma: no cover
    import workbench

    from .model import GruEmulator

WEIGHTS = "emulator-weights"
FORMAT = "workbench-quantum/gru-emulator-weights"
VERSION = 1


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_weights(context: workbench.CellContext, model: GruEmulator, simulator_params: Any, training: dict[str, Any]) -> Path | None:
    """Store ``model``'s trained network in the cell's artifacts; returns the JSON file written
    (``None`` outside a cell directory)."""
    arrays = {name: value.detach().cpu().numpy() for name, value in model.net_.state_dict().items()}
    npz = context.save_artifact(WEIGHTS, **arrays)
    if npz is None:
        return None
    dx, interval = model.grid_
    document = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.name,
        "params": model.params.model_dump(mode="json"),
        "grid": {"dx": dx, "frame_interval": interval, "window": WINDOW, "history": HISTORY},
        "simulator": simulator_params.model_dump(mode="json"),
        "cell": {"id": context.cell_id, "coordinates": {k: str(v) for k, v in context.coordinates.items()}, "seed": context.seed},
        "training": training,
        "weights": {"file": npz.name, "sha256": sha256(npz), "arrays": {k: list(v.shape) for k, v in arrays.items()}},
    }
    path = npz.with_suffix(".json")
    atomic.write_json(path, document)
    return path


def read_weights(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON description and the arrays of a stored emulator, checked; raises
    :class:`workbench.DataCorruptError` naming what is wrong."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataCorruptError(f"{path} is not a readable emulator description ({error}); re-run the cell to rebuild it") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DataCorruptError(f"{path} is not an emulator description (format {FORMAT!r} expected)")
    if document.get("version") != VERSION:
        raise DataCorruptError(f"{path} has format version {document.get('version')!r}; this workbench reads version {VERSION}. "
                               "Use the workbench version that wrote it, or re-run the cell")
    for key in ("params", "grid", "simulator", "cell", "weights"):
        if not isinstance(document.get(key), dict):
            raise DataCorruptError(f"{path} lacks its {key!r} section; re-run the cell to rebuild it")
    npz = path.with_name(str(document["weights"].get("file", "")))
    if npz.parent != path.parent or not npz.is_file():
        raise DataCorruptError(f"the weights file {npz.name!r} named in {path} is missing; re-run the cell to rebuild it")
    expected, found = document["weights"].get("sha256"), sha256(npz)
    if found != expected:
        raise DataCorruptError(f"{npz} does not match its description: sha256 {found}, expected {expected}; re-run the cell")
    try:
        with np.load(npz, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError) as error:
        raise DataCorruptError(f"{npz} could not be read as arrays ({error}); re-run the cell") from None
    return document, arrays
