"""The torch side of the `gru-emulator`: the Fig. 4.2 network, its optional skip path and
coarse physics step, and the batched whole-box rollout. Imported only when a model is fitted,
rolled out or loaded (torch is not imported when the plugin registers its components).

Network, per window: each of the 4 frames (23 points × Re ψ, Im ψ, V = 69 values) goes through
the same dense layer 69 → 46 with ReLU; a GRU with 46 units reads the 4 frames; its last output
goes through ReLU and a dense layer 46 → 46 = 23 × (Re, Im) of the next frame. Beside it
(``skip``, not in the thesis) runs a skip path: ``linear`` adds a learned linear map of the 4
frames' ψ and of V·ψ, V²·ψ on the last frame. The one-frame map of the Schrödinger equation is
linear in ψ; a ReLU/GRU network of 46 units can only approximate it, and over 400 iterated
frames that approximation error is what destroys a rollout. The skip carries the linear part
and leaves the network the corrections. ``skip: none`` is the thesis' network as drawn.

``coarse_step: split-operator`` (not in the thesis) adds a fixed physics step instead of
learning it: one Strang step of the frame interval (:mod:`.coarse_step`), applied to the whole
frame in a rollout and, in training, to each window with its 22-point margin; the network then
predicts only the correction to it. The step knows the potential's phase exp(-iVδ/2) for any V
and moves every wave number, so what is the same for all packets and barriers need not be
learned from the training range.

Rollout: every window position of every test scenario goes through the network in one batched
call per frame. Near the walls the frame is continued by its mirror images (ψ odd about each
hard wall, V even), so every grid point lies in exactly 23 windows. Per-frame work is shared
between the 4 frames a frame stays in the history: the dense layer (a 1-D convolution over the
box) and the GRU's input projection are computed once per new frame and reused; only the GRU's
recurrence runs per window and frame. Each grid point's new value is the Gaussian-weighted mean
of the predictions of the (up to) 23 windows containing it. The wall point x = 0 is held at 0.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import torch
from torch import nn

from .coarse_step import folded_kernel, rollout_kernel
from .windows import HISTORY, WINDOW, combine_weights, extend_potential, image_indices


def skip_features(x: torch.Tensor) -> torch.Tensor:
    """Inputs of the linear skip, per window: ψ of the 4 frames, and V·ψ, V²·ψ of the last
    frame (the leading terms of exp(-iVΔt)ψ). ``x``: (..., 4, 23, 3) → (..., 4·46 + 2·46)."""
    psi = x[..., :2]
    v = x[..., -1, :, 2:3]
    last = psi[..., -1, :, :]
    return torch.cat([psi.flatten(-3), (v * last).flatten(-2), (v * v * last).flatten(-2)], dim=-1)


def complex_product(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
    """Product of complex numbers stored as (Re, Im) along ``dim`` of real tensors."""
    ar, ai = a.unbind(dim)
    br, bi = b.unbind(dim)
    return torch.stack([ar * br - ai * bi, ar * bi + ai * br], dim=dim)


class EmulatorNet(nn.Module):
    """Fig. 4.2 network, plus an optional skip path. With ``correction=True`` (a coarse step
    carries the frame) the skip starts as zero and the output layer too, so that the untrained
    model is exactly the coarse step; else the skip starts as "copy the last frame"."""

    def __init__(self, hidden: int = 46, window: int = WINDOW, skip: str = "linear", correction: bool = False):
        super().__init__()
        self.window, self.hidden, self.skip = window, hidden, skip
        self.encode = nn.Linear(window * 3, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.decode = nn.Linear(hidden, window * 2)
        if correction:
            with torch.no_grad():
                self.decode.weight.zero_()
                self.decode.bias.zero_()
        if skip == "linear":
            n_in = HISTORY * window * 2 + 2 * window * 2
            self.linear_skip = nn.Linear(n_in, window * 2, bias=False)
            with torch.no_grad():
                self.linear_skip.weight.zero_()
                if not correction:
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


def build_network(params: Any) -> EmulatorNet:
    """The network the model's parameters describe."""
    return EmulatorNet(params.hidden, WINDOW, params.skip, correction=params.coarse_step != "none")


def rollout(net: EmulatorNet, params: Any, initial: np.ndarray, potential: np.ndarray, steps: int, progress: Any = None,
            grid: tuple[float, float] | None = None) -> np.ndarray:
    """Predict ``steps`` frames after the 4 ``initial`` ones, for every scenario at once:
    (S, 4, Nx) complex + (S, Nx) → (S, steps, Nx) complex64. ``grid`` (grid spacing, frame
    interval) is needed with a coarse step: each frame is then the coarse step of the last one
    plus the network's averaged correction.

    Every window of every scenario is evaluated each frame, in one batch. The linear parts are
    folded together: the dense layer over all windows is a convolution over the box; the output
    layer followed by the Gaussian-weighted average over the 23 windows containing a point is
    one convolution of the GRU states (kernel 23); the linear skip followed by that average is
    one convolution of the frames (kernel 45), and so is the coarse step's kinetic part between
    its two potential half-phases. The result equals evaluating the network window by window
    and averaging (a test checks this).
    """
    p = params
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
        skip_kernel = folded_kernel(skip_w, w)
    idx, sign = image_indices(nx, pad)
    idx_t, sign_t = torch.from_numpy(idx), torch.from_numpy(sign.astype(np.float32))
    v_ext = torch.from_numpy(extend_potential(np.asarray(potential, dtype=np.float32), pad)) / p.v_scale  # (S, Nx+2pad)
    v_ext = v_ext[:, None, :]
    coarse_kernel = box_half = None
    if p.coarse_step != "none":
        # The coarse step is one complex kernel (kinetic) between two potential half-phases (per
        # point): the kernel as a real convolution of (Re, Im) channels.
        k = torch.from_numpy(rollout_kernel(*grid, p.sigma).astype(np.complex64))
        coarse_kernel = torch.stack([torch.stack([k.real, -k.imag]), torch.stack([k.imag, k.real])])  # [out c, in c, 45]
        angle = torch.from_numpy(-0.5 * grid[1] * np.asarray(potential, dtype=np.float64)).float()
        box_half = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)  # (S, 2, Nx)

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
            if coarse_kernel is not None:
                phi = extend(complex_product(box_half, last[:, :, pad:pad + nx], 1))
                new = new + complex_product(box_half, conv(phi, coarse_kernel), 1)
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
