"""The `gru-emulator` model (thesis Fig. 4.2) and its whole-box rollout.

Network, per window: each of the 4 frames (23 points × Re ψ, Im ψ, V = 69 values) goes through
the same dense layer 69 → 46 with ReLU; a GRU with 46 units reads the 4 frames; its last output
goes through ReLU and a dense layer 46 → 46 = 23 × (Re, Im) of the next frame. Beside it
(``skip``, not in the thesis) runs a skip path: ``linear`` (default) adds a learned linear map of
the 4 frames' ψ and of V·ψ, V²·ψ on the last frame, initialised to "copy the last frame". The
one-frame map of the Schrödinger equation is linear in ψ; a ReLU/GRU network of 46 units can
only approximate it, and over 400 iterated frames that approximation error is what destroys a
rollout. The skip carries the linear part exactly and leaves the network the corrections.
``skip: none`` is the thesis' network as drawn.

Rollout: every window position of every test scenario goes through the network in one batched
call per frame. Near the walls the frame is continued by its mirror images (ψ odd about each
hard wall, V even), so every grid point lies in exactly 23 windows. Per-frame work is shared between the 4 frames a frame stays in the history: the
dense layer (a 1-D convolution over the box) and the GRU's input projection are computed once
per new frame and reused; only the GRU's recurrence runs per window and frame. Each grid point's
new value is the Gaussian-weighted mean of the predictions of the (up to) 23 windows containing
it. The wall point x = 0 is held at ψ = 0.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

import workbench
from workbench import ComponentError, Model, Table

from .curricula import INTERFACE, UniformWindows, draw
from .dataset import RolloutInputs
from .windows import HISTORY, WINDOW, WindowPool, extend_potential, image_indices

SNAPSHOT_FRAMES = (50, 200, 350)


SKIPS = ("none", "identity", "linear")


def skip_features(x: torch.Tensor) -> torch.Tensor:
    """Inputs of the linear skip, per window: ψ of the 4 frames, and V·ψ, V²·ψ of the last
    frame (the leading terms of exp(-iVΔt)ψ). ``x``: (..., 4, 23, 3) → (..., 4·46 + 2·46)."""
    psi = x[..., :2]
    v = x[..., -1, :, 2:3]
    last = psi[..., -1, :, :]
    return torch.cat([psi.flatten(-3), (v * last).flatten(-2), (v * v * last).flatten(-2)], dim=-1)


class EmulatorNet(nn.Module):
    """Fig. 4.2 network, plus an optional skip path from the inputs to the output."""

    def __init__(self, hidden: int = 46, window: int = WINDOW, skip: str = "linear"):
        super().__init__()
        self.window, self.hidden, self.skip = window, hidden, skip
        self.encode = nn.Linear(window * 3, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.decode = nn.Linear(hidden, window * 2)
        if skip == "linear":
            n_in = HISTORY * window * 2 + 2 * window * 2
            self.linear_skip = nn.Linear(n_in, window * 2, bias=False)
            with torch.no_grad():  # start as the identity on the last frame
                self.linear_skip.weight.zero_()
                last = (HISTORY - 1) * window * 2
                self.linear_skip.weight[:, last:last + window * 2] = torch.eye(window * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (B, 4, 23, 3) scaled inputs → (B, 23, 2) scaled next frame."""
        b, frames = x.shape[:2]
        features = torch.relu(self.encode(x.reshape(b, frames, -1)))
        out, _ = self.gru(features)
        y = self.decode(torch.relu(out[:, -1])).reshape(b, self.window, 2)
        if self.skip == "identity":
            y = y + x[:, -1, :, :2]
        elif self.skip == "linear":
            y = y + self.linear_skip(skip_features(x)).reshape(b, self.window, 2)
        return y


def combine_weights(window: int, sigma: float) -> np.ndarray:
    offsets = np.arange(window) - window // 2
    return np.exp(-0.5 * (offsets / sigma) ** 2)


class GruEmulator(Model):
    name = "gru-emulator"
    summary = "Thesis Fig. 4.2 GRU window emulator (dense 69→46, GRU 46, dense 46→23×2) with Gaussian-weighted whole-box rollout."
    tasks = frozenset({"trajectory"})
    curricula = frozenset({INTERFACE})

    class Params(workbench.Params):
        hidden: int = Field(default=46, ge=1, description="units of the dense and GRU layers (thesis: 46)")
        skip: Literal["none", "identity", "linear"] = Field(
            default="linear", description="path from inputs to output beside the Fig. 4.2 network: none (the thesis), identity "
            "(add the last frame), linear (a learned linear map of the 4 frames' ψ and V·ψ, V²·ψ of the last; default)")
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
        return [{"epochs_per_round": 1, "batch_size": 64, "artifacts": False}]

    @classmethod
    def contract_bundle(cls, task, rng):
        from workbench import Bundle, TargetInfo

        n, nx, frames = 120, 48, 9
        psi = (rng.normal(size=(n, HISTORY + 1, WINDOW)) + 1j * rng.normal(size=(n, HISTORY + 1, WINDOW))).astype(np.complex64) * 0.1
        pool = WindowPool(psi, np.abs(rng.normal(size=(n, WINDOW))).astype(np.float32), np.arange(n, dtype=np.int32) % 6,
                          np.zeros(n, np.int32), np.zeros(n, np.int32))
        traj = (rng.normal(size=(2, frames, nx)) + 1j * rng.normal(size=(2, frames, nx))).astype(np.complex64) * 0.1
        test = Table(RolloutInputs(traj[:, :HISTORY], np.zeros((2, nx), np.float32), frames - HISTORY), {"psi": traj[:, HISTORY:]})
        return Bundle(Table(pool, {"psi": psi[:, HISTORY]}), {"test": test}, {"psi": TargetInfo("trajectory")}), "psi"

    # -- pickling: the context is a handle for artifacts and progress, never part of the state
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_context", None)
        return state

    # -- training --------------------------------------------------------------------------
    def _scaled_inputs(self, pool: WindowPool, idx: np.ndarray) -> torch.Tensor:
        x = pool.inputs(idx)
        x[..., :2] /= self.params.psi_scale
        x[..., 2] /= self.params.v_scale
        return torch.from_numpy(x)

    def _one_step_errors(self, pool: WindowPool, idx: np.ndarray) -> np.ndarray:
        """Mean squared one-step error (in ψ units²) of each window ``idx``."""
        out = []
        with torch.no_grad():
            for lo in range(0, len(idx), 8192):
                part = idx[lo:lo + 8192]
                pred = self.net_(self._scaled_inputs(pool, part)).numpy() * self.params.psi_scale
                out.append(((pred - pool.targets(part)) ** 2).mean(axis=(1, 2)))
        return np.concatenate(out) if out else np.zeros(0)

    def fit(self, train: Table, context: workbench.CellContext) -> None:
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
        torch.manual_seed(context.derive_seed("gru-emulator", "init"))
        self.net_ = EmulatorNet(p.hidden, WINDOW, p.skip)
        optimizer = torch.optim.AdamW(self.net_.parameters(), lr=p.learning_rate, weight_decay=p.weight_decay)
        # Cosine decay of the learning rate over every optimisation step of the whole schedule:
        # the rollout needs one-step errors far below what a constant rate settles at.
        drawn_by_round = np.cumsum(schedule)
        total_steps = int(sum(p.epochs_per_round * -(-n // p.batch_size) for n in drawn_by_round))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda i: p.final_lr_fraction + (1 - p.final_lr_fraction) * 0.5 * (1 + np.cos(np.pi * min(i, total_steps) / total_steps)))
        rng = np.random.default_rng(context.derive_seed("gru-emulator", "draws"))
        shuffle = torch.Generator().manual_seed(context.derive_seed("gru-emulator", "shuffle"))
        drawn = np.zeros(0, dtype=np.int64)
        errors: np.ndarray | None = None
        start_round, start_epoch = 0, 0
        saved = context.load_checkpoint()
        if saved is not None:
            self.net_.load_state_dict(saved["net"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            rng.bit_generator.state = saved["rng"]
            shuffle.set_state(saved["shuffle"])
            drawn, errors = saved["drawn"], saved["errors"]
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
                y_all = torch.from_numpy(pool.targets(drawn) / p.psi_scale)
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
                    context.save_checkpoint({"net": self.net_.state_dict(), "optimizer": optimizer.state_dict(),
                                             "scheduler": scheduler.state_dict(),
                                             "rng": rng.bit_generator.state, "shuffle": shuffle.get_state(),
                                             "drawn": drawn, "errors": errors,
                                             "round": rnd if epoch < p.epochs_per_round - 1 else rnd + 1,
                                             "epoch": epoch + 1 if epoch < p.epochs_per_round - 1 else 0})
                    bar.advance(1, mse=f"{total / len(order):.2e}")
                    context.end_epoch(global_epoch, self.predict)
        self.net_.eval()
        self.drawn_ = drawn

    # -- rollout ----------------------------------------------------------------------------
    def rollout(self, initial: np.ndarray, potential: np.ndarray, steps: int, progress: Any = None) -> np.ndarray:
        """Predict ``steps`` frames after the 4 ``initial`` ones, for every scenario at once:
        (S, 4, Nx) complex + (S, Nx) → (S, steps, Nx) complex64.

        Every window of every scenario is evaluated each frame, in one batch. The linear
        parts are folded together: the dense layer over all windows is a convolution over the
        box; the output layer followed by the Gaussian-weighted average over the 23 windows
        containing a point is one convolution of the GRU states (kernel 23); the linear skip
        followed by that average is one convolution of the frames (kernel 45). The result
        equals evaluating the network window by window and averaging (a test checks this).
        """
        p = self.params
        net = self.net_
        s, _, nx = initial.shape
        pad = 2 * (WINDOW // 2)  # windows centred up to 11 points beyond each wall
        n_windows = nx + WINDOW - 1  # centres -11 .. Nx+10: every box point lies in 23 windows
        hidden = net.hidden
        conv = torch.nn.functional.conv1d
        w = torch.from_numpy(combine_weights(WINDOW, p.sigma).astype(np.float32))
        w = w / w.sum()
        enc_w = net.encode.weight.detach().reshape(hidden, WINDOW, 3).permute(0, 2, 1).contiguous()
        enc_b = net.encode.bias.detach()
        w_ih_t, b_ih = net.gru.weight_ih_l0.detach().T.contiguous(), net.gru.bias_ih_l0.detach()
        w_hh_t, b_hh = net.gru.weight_hh_l0.detach().T.contiguous(), net.gru.bias_hh_l0.detach()
        # Output layer + weighted average: point p takes offset o of the window j = p + 22 - o.
        dec = net.decode.weight.detach().reshape(WINDOW, 2, hidden)  # [o, c, h]
        dec_kernel = (w[:, None, None] * dec).flip(0).permute(1, 2, 0).contiguous()  # [c, h, k = 22 - o]
        dec_bias = (w[:, None] * net.decode.bias.detach().reshape(WINDOW, 2)).sum(0)
        skip_kernel = None
        if net.skip == "linear":
            # Skip weight as a convolution [(o, c), 12 channels, k], then composed with the average.
            skip_w = net.linear_skip.weight.detach().reshape(WINDOW, 2, HISTORY + 2, WINDOW, 2)
            skip_w = skip_w.permute(0, 1, 2, 4, 3).reshape(WINDOW, 2, (HISTORY + 2) * 2, WINDOW)
            skip_kernel = torch.zeros(2, (HISTORY + 2) * 2, 2 * WINDOW - 1)
            for o in range(WINDOW):  # 23 window offsets, not grid points
                skip_kernel[:, :, WINDOW - 1 - o:2 * WINDOW - 1 - o] += w[o] * skip_w[o]
        idx, sign = image_indices(nx, pad)
        idx_t, sign_t = torch.from_numpy(idx), torch.from_numpy(sign.astype(np.float32))
        v_ext = torch.from_numpy(extend_potential(np.asarray(potential, dtype=np.float32), pad)) / p.v_scale  # (S, Nx+2pad)
        v_ext = v_ext[:, None, :]

        def extend(frame: torch.Tensor) -> torch.Tensor:
            """(S, 2, Nx) → (S, 2, Nx + 2·pad) with the mirror images beyond the walls."""
            padded = torch.cat([frame, torch.zeros(s, 2, 1)], dim=2)
            return padded[:, :, idx_t] * sign_t

        def gates(frame: torch.Tensor) -> torch.Tensor:
            """GRU input projection of every window of an extended frame: (S·W, 3H)."""
            features = torch.relu(conv(torch.cat([frame, v_ext], dim=1), enc_w, enc_b))  # (S, H, W)
            return torch.addmm(b_ih, features.transpose(1, 2).reshape(s * n_windows, hidden), w_ih_t)

        def scaled(psi: np.ndarray) -> torch.Tensor:
            psi = np.asarray(psi)
            return extend(torch.from_numpy(np.stack([psi.real, psi.imag], axis=1).astype(np.float32)) / p.psi_scale)

        out = np.empty((s, steps, nx), dtype=np.complex64)
        two = 2 * hidden
        with torch.no_grad():
            frames = deque((scaled(initial[:, i]) for i in range(HISTORY)), maxlen=HISTORY)
            history = deque((gates(f) for f in frames), maxlen=HISTORY)
            norm0 = frames[-1][:, :, pad:pad + nx].square().sum(dim=(1, 2)).sqrt()
            for step in range(steps):
                h = None
                for gi in history:
                    gh = b_hh.expand(s * n_windows, -1) if h is None else torch.addmm(b_hh, h, w_hh_t)
                    rz = torch.sigmoid(gi[:, :two] + gh[:, :two])
                    n = torch.tanh(torch.addcmul(gi[:, two:], rz[:, :hidden], gh[:, two:]))
                    z = rz[:, hidden:]
                    h = n - z * n if h is None else torch.addcmul(n, z, h - n)
                states = torch.relu(h).reshape(s, n_windows, hidden).transpose(1, 2)
                new = conv(states, dec_kernel, dec_bias)  # (S, 2, Nx)
                last = frames[-1]
                if net.skip == "identity":
                    new = new + last[:, :, pad:pad + nx]
                elif net.skip == "linear":
                    new = new + conv(torch.cat([*frames, v_ext * last, v_ext * v_ext * last], dim=1), skip_kernel)
                new[:, :, 0] = 0.0  # the hard wall
                if p.conserve_norm:
                    # The evolution is unitary: hold ∑|ψ|² at its initial value, so that a small
                    # per-frame gain cannot compound over hundreds of frames.
                    new = new * (norm0 / new.square().sum(dim=(1, 2)).clamp_min(1e-30).sqrt())[:, None, None]
                frame = extend(new)
                frames.append(frame)
                history.append(gates(frame))
                values = (new * p.psi_scale).numpy()
                out[:, step] = values[:, 0] + 1j * values[:, 1]
                if progress is not None:
                    progress.advance(1)
        return out

    def predict(self, table: Table) -> np.ndarray:
        inputs = table.inputs
        if not isinstance(inputs, RolloutInputs):
            raise ComponentError("gru-emulator predicts whole trajectories from RolloutInputs (dataset 'wavepacket-windows' "
                                 f"evaluation tables); got {type(inputs).__name__}")
        context = getattr(self, "_context", None)
        torch.set_num_threads(getattr(self, "threads_", 1))
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
