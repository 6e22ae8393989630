"""The `gru-emulator` model (thesis Fig. 4.2): training on a curriculum's windows, the
whole-box rollout, and the trained weights every finished cell keeps.

The network and the rollout are torch code in :mod:`._network` (imported when a model is
fitted, rolled out or loaded, so registering the plugin does not import torch); their design
is described there and in docs/quantum.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

import workbench
from workbench import ComponentError, Model, Table

from .curricula import INTERFACE, UniformWindows, draw
from .dataset import RolloutInputs, ssm_simulator
from .weights import save_weights
from .windows import HISTORY, WINDOW, WindowPool

if TYPE_CHECKING:  # pragma: no cover
    import torch

SNAPSHOT_FRAMES = (50, 200, 350)


class GruEmulator(Model):
    name = "gru-emulator"
    summary = "Thesis Fig. 4.2 GRU window emulator (dense 69→46, GRU 46, dense 46→23×2) with Gaussian-weighted whole-box rollout."
    tasks = frozenset({"trajectory"})
    curricula = frozenset({INTERFACE})
    frameworks: ClassVar[tuple[str, ...]] = ("torch",)

    class Params(workbench.Params):
        hidden: int = Field(default=46, ge=1, description="units of the dense and GRU layers (thesis: 46)")
        skip: Literal["none", "identity", "linear"] = Field(
            default="linear", description="path from inputs to output beside the Fig. 4.2 network: none (the thesis), identity "
            "(add the last frame), linear (a learned linear map of the 4 frames' ψ and V·ψ, V²·ψ of the last; default)")
        coarse_step: Literal["none", "split-operator"] = Field(
            default="none", description="a fixed physics step the network corrects: none (the network predicts the next frame), "
            "split-operator (one Strang step of the frame interval on the window — exact potential phase, finite-difference "
            "kinetic step — and the network and skip predict only its correction)")
        epochs_per_round: int = Field(default=4, ge=1, description="epochs over all windows drawn so far, after each curriculum round")
        batch_size: int = Field(default=256, ge=1, description="windows per optimisation step")
        learning_rate: float = Field(default=3e-3, gt=0, description="AdamW peak learning rate")
        final_lr_fraction: float = Field(default=0.01, gt=0, le=1, description="learning rate at the end of the cosine decay, as a fraction of the peak")
        weight_decay: float = Field(default=1e-5, ge=0, description="AdamW weight decay")
        clip_norm: float = Field(default=1.0, gt=0, description="gradient-norm clipping threshold")
        input_noise: float = Field(default=0.02, ge=0, description="std of Gaussian noise added to the scaled input ψ in training (rollout stability)")
        sigma: float = Field(default=4.0, gt=0, description="std (grid points) of the Gaussian weights combining overlapping window predictions")
        psi_scale: float = Field(default=0.25, gt=0, description="ψ is divided by this before entering the network")
        v_scale: float = Field(default=10.0, gt=0, description="V is divided by this before entering the network")
        conserve_norm: bool = Field(default=True, description="rescale each rolled-out frame to the initial ∑|ψ|² (unitarity)")
        threads: int | None = Field(default=1, ge=1, description="torch threads for training and rollout (unset: the cell's); "
                                    "the small per-window matrices gain little from more and lose much on a busy machine — run cells in parallel instead (--jobs)")
        artifacts: bool = Field(default=True, description="save the first scenario of each test family (truth and prediction) for figures")

    @classmethod
    def contract_params(cls) -> list[dict]:
        return [{"epochs_per_round": 1, "batch_size": 64, "artifacts": False},
                {"epochs_per_round": 1, "batch_size": 64, "artifacts": False, "coarse_step": "split-operator", "skip": "none"}]

    @classmethod
    def contract_bundle(cls, task, rng):
        from workbench import Bundle, TargetInfo

        n, nx, frames = 120, 48, 9
        dx, interval = 0.1, 0.025
        width = 3 * WINDOW - 2  # windows with a margin of 22 points, as a coarse step needs
        psi = (rng.normal(size=(n, HISTORY + 1, width)) + 1j * rng.normal(size=(n, HISTORY + 1, width))).astype(np.complex64) * 0.1
        pool = WindowPool(psi, np.abs(rng.normal(size=(n, width))).astype(np.float32), np.arange(n, dtype=np.int32) % 6,
                          np.zeros(n, np.int32), np.zeros(n, np.int32), dx, interval)
        traj = (rng.normal(size=(2, frames, nx)) + 1j * rng.normal(size=(2, frames, nx))).astype(np.complex64) * 0.1
        test = Table(RolloutInputs(traj[:, :HISTORY], np.zeros((2, nx), np.float32), frames - HISTORY, dx, interval), {"psi": traj[:, HISTORY:]})
        return Bundle(Table(pool, {"psi": psi[:, HISTORY, pool.window]}), {"test": test}, {"psi": TargetInfo("trajectory")}), "psi"

    # -- pickling: the context is a handle for artifacts and progress, never part of the state
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_context", None)
        return state

    # -- training --------------------------------------------------------------------------
    def _scaled_inputs(self, pool: WindowPool, idx: np.ndarray) -> torch.Tensor:
        import torch

        x = pool.inputs(idx)
        x[..., :2] /= self.params.psi_scale
        x[..., 2] /= self.params.v_scale
        return torch.from_numpy(x)

    def _coarse_part(self, pool: WindowPool, idx: np.ndarray) -> np.ndarray:
        """The coarse step's next frame at the windows' points (n, 23, 2) float32, in ψ units:
        the rollout's step, computed from each window's last frame and its margin."""
        from .coarse_step import apply, rollout_kernel

        dx, interval = self.grid_
        reach = WINDOW - 1
        out = apply(pool.psi[idx, HISTORY - 1], pool.potential[idx], rollout_kernel(dx, interval, self.params.sigma), interval)
        out = out[:, pool.margin - reach:pool.margin - reach + WINDOW]
        return np.stack([out.real, out.imag], axis=-1).astype(np.float32)

    def _one_step_errors(self, pool: WindowPool, idx: np.ndarray) -> np.ndarray:
        """Mean squared one-step error (in ψ units²) of each window ``idx``."""
        import torch

        out = []
        with torch.no_grad():
            for lo in range(0, len(idx), 8192):
                part = idx[lo:lo + 8192]
                pred = self.net_(self._scaled_inputs(pool, part)).numpy() * self.params.psi_scale
                if self.params.coarse_step != "none":
                    pred = pred + self._coarse_part(pool, part)
                out.append(((pred - pool.targets(part)) ** 2).mean(axis=(1, 2)))
        return np.concatenate(out) if out else np.zeros(0)

    def _grid(self, data: WindowPool | RolloutInputs) -> tuple[float | None, float | None]:
        """Grid spacing and frame interval of the data (a coarse step needs them)."""
        if self.params.coarse_step != "none" and (data.dx is None or data.interval is None):
            raise ComponentError("gru-emulator with a coarse step needs the grid spacing and frame interval of its data "
                                 "(dataset 'wavepacket-windows' provides them)")
        return data.dx, data.interval

    def fit(self, train: Table, context: workbench.CellContext) -> None:
        import torch
        from torch import nn

        from ._network import build_network

        pool = train.inputs
        if not isinstance(pool, WindowPool):
            raise ComponentError("gru-emulator trains on a pool of windows (dataset 'wavepacket-windows'); "
                                 f"got inputs of type {type(pool).__name__}")
        p = self.params
        self._context = context
        self.threads_ = p.threads or context.threads
        torch.set_num_threads(self.threads_)
        curriculum = context.curriculum or UniformWindows({"budget": len(pool), "rounds": 1})
        schedule = curriculum.schedule(len(pool))
        self.grid_ = self._grid(pool)
        if p.coarse_step != "none" and pool.margin < WINDOW - 1:
            raise ComponentError(f"gru-emulator with a coarse step learns its correction from each window and {WINDOW - 1} "
                                 f"points either side; the pool keeps {pool.margin}. Set the dataset's `margin: {WINDOW - 1}`")
        torch.manual_seed(context.derive_seed("gru-emulator", "init"))
        self.net_ = build_network(p)
        optimizer = torch.optim.AdamW(self.net_.parameters(), lr=p.learning_rate, weight_decay=p.weight_decay)
        # Cosine decay of the learning rate over every optimisation step of the whole schedule:
        # the rollout needs one-step errors far below what a constant rate settles at.
        drawn_by_round = np.cumsum(schedule)
        total_steps = int(sum(p.epochs_per_round * -(-n // p.batch_size) for n in drawn_by_round))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            # (a Python float: the scheduler's state goes into a checkpoint of plain data)
            optimizer, lambda i: float(p.final_lr_fraction + (1 - p.final_lr_fraction) * 0.5 * (1 + np.cos(np.pi * min(i, total_steps) / total_steps))))
        rng = np.random.default_rng(context.derive_seed("gru-emulator", "draws"))
        shuffle = torch.Generator().manual_seed(context.derive_seed("gru-emulator", "shuffle"))
        drawn = np.zeros(0, dtype=np.int64)
        errors: np.ndarray | None = None
        start_round, start_epoch = 0, 0
        saved = context.load_checkpoint()
        fingerprint = p.model_dump_json()
        if saved is not None and saved.get("params") != fingerprint:
            # Another model's checkpoint in this cell directory (not from an interrupted fit of this one).
            context.log.warning("ignoring a checkpoint written by a gru-emulator with other parameters")
            saved = None
        if saved is not None:
            self.net_.load_state_dict(saved["net"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            rng.bit_generator.state = saved["rng"]
            shuffle.set_state(saved["shuffle"])
            drawn, errors = np.asarray(saved["drawn"]), None if saved["errors"] is None else np.asarray(saved["errors"])
            start_round, start_epoch = saved["round"], saved["epoch"]
        total_epochs = len(schedule) * p.epochs_per_round
        with context.progress("training", total_epochs) as bar:
            bar.advance(start_round * p.epochs_per_round + start_epoch)
            for rnd in range(start_round, len(schedule)):
                if len(drawn) < sum(schedule[:rnd + 1]):  # this round's windows not drawn yet (a resume may have them)
                    available = np.ones(len(pool), dtype=bool)
                    available[drawn] = False
                    weights = curriculum.weights(pool, drawn, errors)
                    new = draw(np.asarray(weights, dtype=np.float64), available, schedule[rnd], rng)
                    drawn = np.concatenate([drawn, new])
                    context.record("windows_drawn", len(drawn), step=rnd, step_name="round")
                    context.record("barrier_share", float(pool.barrier[drawn].mean()), step=rnd, step_name="round")
                x_all = self._scaled_inputs(pool, drawn)
                targets = pool.targets(drawn)
                if p.coarse_step != "none":  # the network learns what the coarse step misses
                    targets = targets - self._coarse_part(pool, drawn)
                y_all = torch.from_numpy(targets / p.psi_scale)
                first = start_epoch if rnd == start_round else 0
                for epoch in range(first, p.epochs_per_round):
                    order = torch.randperm(len(drawn), generator=shuffle)
                    total = 0.0
                    self.net_.train()
                    for lo in range(0, len(order), p.batch_size):
                        batch = order[lo:lo + p.batch_size]
                        x = x_all[batch]
                        if p.input_noise > 0:
                            # Noise on the input ψ with the clean target: the network learns to damp
                            # perturbations, including high-wavenumber ones absent from the data,
                            # which otherwise grow over an iterated rollout.
                            x = x.clone()
                            x[..., :2] += p.input_noise * torch.randn(x[..., :2].shape, generator=shuffle)
                        loss = torch.mean((self.net_(x) - y_all[batch]) ** 2)
                        optimizer.zero_grad()
                        loss.backward()
                        nn.utils.clip_grad_norm_(self.net_.parameters(), p.clip_norm)
                        optimizer.step()
                        scheduler.step()
                        total += float(loss.detach()) * len(batch)
                    self.net_.eval()
                    global_epoch = rnd * p.epochs_per_round + epoch
                    context.record("train_mse", total / len(order), step=global_epoch, step_name="epoch")
                    if epoch == p.epochs_per_round - 1:
                        errors = self._one_step_errors(pool, drawn)
                    context.save_checkpoint({"params": fingerprint, "net": self.net_.state_dict(), "optimizer": optimizer.state_dict(),
                                             "scheduler": scheduler.state_dict(),
                                             "rng": rng.bit_generator.state, "shuffle": shuffle.get_state(),
                                             "drawn": drawn, "errors": errors,
                                             "round": rnd if epoch < p.epochs_per_round - 1 else rnd + 1,
                                             "epoch": epoch + 1 if epoch < p.epochs_per_round - 1 else 0})
                    bar.advance(1, mse=f"{total / len(order):.2e}")
                    context.end_epoch(global_epoch, self.predict)
        self.net_.eval()
        self.drawn_ = drawn
        simulator = ssm_simulator(context)
        save_weights(context, self, simulator.params, {"windows": len(drawn)})

    # -- rollout ----------------------------------------------------------------------------
    def rollout(self, initial: np.ndarray, potential: np.ndarray, steps: int, progress: Any = None) -> np.ndarray:
        """Predict ``steps`` frames after the 4 ``initial`` ones, for every scenario at once:
        (S, 4, Nx) complex + (S, Nx) → (S, steps, Nx) complex64 (see :func:`._network.rollout`)."""
        import torch

        from ._network import rollout

        torch.set_num_threads(getattr(self, "threads_", 1))
        return rollout(self.net_, self.params, initial, potential, steps, progress, getattr(self, "grid_", None))

    def predict(self, table: Table) -> np.ndarray:
        inputs = table.inputs
        if not isinstance(inputs, RolloutInputs):
            raise ComponentError("gru-emulator predicts whole trajectories from RolloutInputs (dataset 'wavepacket-windows' "
                                 f"evaluation tables); got {type(inputs).__name__}")
        if self.params.coarse_step != "none" and not np.allclose(self._grid(inputs), self.grid_):
            raise ComponentError(f"this emulator was trained on grid spacing and frame interval {self.grid_}, "
                                 f"the rollout inputs have {self._grid(inputs)}; a coarse step needs the same grid")
        context = getattr(self, "_context", None)
        family = None
        if table.samples is not None and "family" in table.samples:
            family = str(table.samples["family"].iloc[0])
        if context is not None:
            with context.progress(f"rollout {family or ''} ({len(inputs)} scenarios)", inputs.steps) as bar:
                prediction = self.rollout(inputs.initial, inputs.potential, inputs.steps, bar)
        else:
            prediction = self.rollout(inputs.initial, inputs.potential, inputs.steps)
        if context is not None and self.params.artifacts and family is not None and "psi" in table.targets:
            # For figures only: the first scenario's truth and prediction (Re ψ as float16 for the
            # heatmaps, complex snapshots at a few frames).
            truth = np.asarray(table.targets["psi"][0])
            snaps = [f for f in SNAPSHOT_FRAMES if f < truth.shape[0]]
            context.save_artifact(f"rollout-{family}", re_truth=truth.real.astype(np.float16),
                                  re_prediction=prediction[0].real.astype(np.float16),
                                  snapshot_frames=np.array(snaps, dtype=np.int64),
                                  snapshot_truth=truth[snaps], snapshot_prediction=prediction[0][snaps],
                                  potential=np.asarray(inputs.potential[0]))
        return prediction
