"""A trained emulator loaded back from a run, rolled out on any scenario beside the solver's truth.

    from workbench_quantum import load_emulator
    emulator = load_emulator("runs/emulator/20261204-101500")          # or cell="c0003"
    result = emulator.rollout({"x0": 40, "s0": 2, "e0": 6, "potential": {"kind": "gaussian", "height": -4, "width": 3}})
    result.mean_correlation, result.mean_mae
    result.save("my-rollout")                                           # arrays (npz) and a heatmap (png)

The network is rebuilt from the cell's ``emulator-weights`` files (:mod:`.weights`; no pickle);
the scenario's first 4 frames and its truth come from the `ssm` solver with the settings the
emulator was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, ValidationError

from workbench import ComponentError, DataCorruptError, DataNotFoundError

from .metrics import correlation
from .simulator import Scenario, SplitOperatorSimulator
from .weights import WEIGHTS, read_weights
from .windows import HISTORY


class RolloutScenario(Scenario):
    """A scenario file: a packet, its potential, and optionally how many frames to roll out."""

    frames: int | None = Field(default=None, ge=1, description="frames to roll out after the 4 given ones (default: as in training)")


def _validation_message(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "(top level)"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


def read_scenario(source: Path | str | dict[str, Any]) -> RolloutScenario:
    """A scenario from a YAML file or a mapping; a bad one raises :class:`ComponentError`."""
    import yaml

    where = "scenario"
    if isinstance(source, (str, Path)):
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise DataNotFoundError(f"scenario file {path} not found")
        try:
            source = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise ComponentError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(source, dict):
        raise ComponentError(f"{where} must be a mapping with x0, s0, e0 and potential, e.g. "
                             "{x0: 40, s0: 2, e0: 5, potential: {kind: gaussian, height: -4, width: 3}}")
    try:
        return RolloutScenario.model_validate(source)
    except ValidationError as error:
        raise ComponentError(f"{where}: {_validation_message(error)}") from None


@dataclass
class RolloutResult:
    """One scenario rolled out by the emulator beside the solver's truth: ``truth`` and
    ``prediction`` (frames, Nx) complex64 for the rolled-out frames, ``initial`` (4, Nx) the
    given frames, ``potential`` and ``x`` (Nx,), and per frame the normalized correlation C
    (eq. 4.4) and MAE (eq. 4.3)."""

    scenario: RolloutScenario
    x: np.ndarray
    potential: np.ndarray
    initial: np.ndarray
    truth: np.ndarray
    prediction: np.ndarray
    correlation: np.ndarray
    mae: np.ndarray
    cell: str

    @property
    def mean_correlation(self) -> float:
        """⟨C⟩: C averaged over the rolled-out frames."""
        return float(self.correlation.mean())

    @property
    def mean_mae(self) -> float:
        return float(self.mae.mean())

    def figure(self):
        """Re ψ(x, frame) of truth and emulator and |ψ̂ − ψ|, with V(x) above (a matplotlib figure)."""
        import matplotlib.pyplot as plt

        s = self.scenario
        fig, axes = plt.subplots(2, 3, figsize=(13, 6.5), height_ratios=[1, 4], sharex=True, layout="constrained")
        scale = float(np.abs(self.truth.real).max()) or 1.0
        extent = (self.x[0], self.x[-1], 1, len(self.truth))
        panels = (("truth: Re ψ", self.truth.real, "RdBu_r", -scale, scale),
                  ("emulator: Re ψ", self.prediction.real, "RdBu_r", -scale, scale),
                  ("|ψ̂ − ψ|", np.abs(self.prediction - self.truth), "magma", 0.0, scale))
        for col, (title, values, cmap, low, high) in enumerate(panels):
            axes[0, col].plot(self.x, self.potential, color="tab:green")
            axes[0, col].set_ylabel("V(x)" if col == 0 else "")
            image = axes[1, col].imshow(values, aspect="auto", origin="lower", cmap=cmap, vmin=low, vmax=high, extent=extent)
            axes[1, col].set_title(title)
            axes[1, col].set_xlabel("x (a.u.)")
            fig.colorbar(image, ax=axes[1, col], shrink=0.8)
        axes[1, 0].set_ylabel("rolled-out frame")
        fig.suptitle(f"X0 = {s.x0:g}, S0 = {s.s0:g}, E0 = {s.e0:g}, potential: {s.potential.kind} — emulator of cell {self.cell}\n"
                     f"⟨C⟩ = {self.mean_correlation:.4f}, MAE = {self.mean_mae:.2e}", fontsize="medium")
        return fig

    def save(self, out_dir: Path | str) -> dict[str, Path]:
        """Write ``rollout.npz`` (arrays) and ``rollout.png`` (heatmap) to ``out_dir``."""
        import matplotlib.pyplot as plt

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        arrays = out / "rollout.npz"
        np.savez_compressed(arrays, x=self.x, potential=self.potential, initial=self.initial, truth=self.truth,
                            prediction=self.prediction, correlation=self.correlation, mae=self.mae)
        figure = self.figure()
        image = out / "rollout.png"
        figure.savefig(image, dpi=110)
        plt.close(figure)
        return {"arrays": arrays, "figure": image}


class TrainedEmulator:
    """A `gru-emulator` rebuilt from stored weights; :meth:`rollout` runs it on a new scenario."""

    def __init__(self, document: dict[str, Any], arrays: dict[str, np.ndarray], source: Path):
        import torch

        from ._network import build_network
        from .model import GruEmulator

        self.source = source
        self.document = document
        try:
            self.model = GruEmulator(document["params"])
            self.simulator = SplitOperatorSimulator(document["simulator"])
            grid = document["grid"]
            self.model.grid_ = (grid["dx"], grid["frame_interval"])
            self.model.net_ = build_network(self.model.params)
            self.model.net_.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()}, strict=True)
        except (ValidationError, KeyError, RuntimeError, TypeError) as error:
            raise DataCorruptError(f"{source} does not describe a network this workbench can rebuild ({error}); re-run the cell") from None
        self.model.net_.eval()
        self.model.threads_ = 1

    @property
    def cell(self) -> str:
        return str(self.document["cell"].get("id"))

    @property
    def coordinates(self) -> dict[str, str]:
        return dict(self.document["cell"].get("coordinates", {}))

    def rollout(self, scenario: RolloutScenario | Scenario | dict[str, Any] | Path | str, frames: int | None = None) -> RolloutResult:
        """Simulate the scenario's first 4 frames and its truth with the `ssm` solver (the
        training settings), roll the emulator out from those 4 frames, and score it."""
        if not isinstance(scenario, RolloutScenario):
            scenario = read_scenario(scenario.model_dump() if isinstance(scenario, Scenario) else scenario)
        steps = frames or scenario.frames or self.simulator.params.frames - HISTORY
        simulator = SplitOperatorSimulator({**self.simulator.params.model_dump(), "frames": steps + HISTORY})
        packet = Scenario.model_validate(scenario.model_dump(exclude={"frames"}))
        run = simulator.simulate([packet])
        psi, potential = run["psi"], run["potential"].astype(np.float32)
        prediction = self.model.rollout(psi[:, :HISTORY], potential, steps)
        truth = psi[:, HISTORY:]
        return RolloutResult(scenario, simulator.x(), potential[0], psi[0, :HISTORY], truth[0], prediction[0],
                             correlation(truth, prediction)[0], np.abs(prediction - truth).mean(axis=-1)[0], self.cell)


def weight_files(run_dir: Path) -> list[Path]:
    """Every stored emulator description under a run directory (or a single cell directory)."""
    own = run_dir / "artifacts" / f"{WEIGHTS}.json"
    if own.is_file():
        return [own]
    return sorted(run_dir.glob(f"cells/*/artifacts/{WEIGHTS}.json"))


def load_emulator(run_dir: Path | str, cell: str | None = None) -> TrainedEmulator:
    """The trained emulator of one cell of a run: ``cell`` is a cell id or a unique prefix of one
    (default: the first cell, in id order, that kept its weights)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataNotFoundError(f"run directory {run_dir} not found")
    found = weight_files(run_dir)
    if not found:
        raise DataNotFoundError(f"no trained emulator weights under {run_dir}: a finished `gru-emulator` cell keeps them in "
                                f"cells/<id>/artifacts/{WEIGHTS}.json and .npz (runs made before weights were kept have none; re-run the study)")
    by_cell = {path.parent.parent.name: path for path in found}
    if cell is None:
        chosen = found[0]
    else:
        matches = [name for name in by_cell if name == cell] or [name for name in by_cell if name.startswith(cell)]
        if len(matches) != 1:
            what = "no cell matches" if not matches else f"{len(matches)} cells match"
            raise ComponentError(f"{what} {cell!r} in {run_dir}; cells with weights: {', '.join(sorted(by_cell))}")
        chosen = by_cell[matches[0]]
    document, arrays = read_weights(chosen)
    return TrainedEmulator(document, arrays, chosen)
