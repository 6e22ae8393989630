"""The quantum plugin (thesis §4.2): solver physics, windows, curricula, emulator, metrics, study."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO, run_cli
from pydantic import ValidationError

from workbench import CellContext, ComponentError, DataCorruptError, DataNotFoundError, Table, TargetInfo, tensorfile
from workbench_quantum import load_emulator
from workbench_quantum._network import build_network
from workbench_quantum.coarse_step import apply, coarse_step, folded_kernel, rollout_kernel, window_propagator
from workbench_quantum.curricula import BarrierWeightedWindows, ErrorDrivenWindows, UniformWindows, draw
from workbench_quantum.dataset import RolloutInputs, WavepacketWindows
from workbench_quantum.expressions import ExpressionError, evaluate
from workbench_quantum.metrics import NormalizedCorrelation, ScenarioCorrelation, correlation
from workbench_quantum.model import GruEmulator
from workbench_quantum.propagator import CoarsePropagator
from workbench_quantum.potentials import Potential, potential_on_grid
from workbench_quantum.scenarios import TRAIN_WB, evaluation_families, training_scenarios
from workbench_quantum.simulator import SplitOperatorSimulator
from workbench_quantum.solver import SplitOperator, free_gaussian, gaussian_packets, grid, norms
from workbench_quantum.windows import WINDOW, build_pool, combine_weights, extend_potential, extend_psi
from workbench_common.metrics import MeanAbsoluteError

TRAJECTORY = TargetInfo("trajectory")


# -- solver ------------------------------------------------------------------------------


def packets(x, n=3):
    return gaussian_packets(x, np.linspace(30, 60, n), np.linspace(1.0, 3.0, n), np.linspace(2.0, 8.0, n))


def test_norm_is_conserved_to_1e_10_in_complex128_with_sharp_barriers():
    x = grid(100.0, 1024)
    v = np.stack([potential_on_grid(Potential(kind=k, height=14.0, width=7.0), x, 100.0) for k in ("rectangular", "triangular", "circular")])
    solver = SplitOperator(100.0, 1024, 0.00625, v, dtype=np.complex128)
    psi0 = packets(x)
    assert np.allclose(norms(psi0, solver.dx), 1.0, atol=1e-13)
    psi = solver.advance(psi0, 1600)  # the 400 frames of a rollout
    drift = np.abs(norms(psi, solver.dx) - 1.0)
    assert drift.max() <= 1e-10
    assert np.abs(psi[:, 0]).max() == 0.0  # the wall


def test_default_complex64_solver_loses_at_most_3e_4_of_the_norm_over_404_frames():
    # float32 sine transforms round the same way every step, so the norm drifts steadily
    # (measured 2.4e-4 to 2.9e-4 over the 1,612 steps of 404 frames), not as a random walk.
    sim = SplitOperatorSimulator()  # complex64, 404 frames
    assert sim.params.precision == "complex64" and sim.params.frames == 404
    runs = sim.simulate([{"x0": 40.0, "s0": 1.0, "e0": 9.0, "potential": {"kind": "rectangular", "height": 14.0}},
                         {"x0": 40.0, "s0": 2.0, "e0": 5.0, "potential": {"kind": "triangular", "height": 12.0, "width": 10.0}},
                         {"x0": 10.0, "s0": 4.0, "e0": 1.0}])
    n = norms(runs["psi"].astype(np.complex128), sim.dx)
    drift = np.abs(n - n[:, :1])
    assert drift[:, -1].max() <= 3e-4
    assert np.all(drift[:, -1] > 2 * drift[:, 100])  # it grows with time: steady, not noise


def test_free_packet_follows_the_analytic_gaussian():
    x = grid(100.0, 1024)
    solver = SplitOperator(100.0, 1024, 0.01, np.zeros((1, 1024)), dtype=np.complex128)
    psi = solver.advance(gaussian_packets(x, np.array([30.0]), np.array([1.5]), np.array([4.0])), 500)  # t = 5
    exact = free_gaussian(x, 5.0, 30.0, 1.5, 4.0)
    assert np.abs(psi[0] - exact).max() < 1e-10
    # It moved by k0 t = √8 · 5 and spread to S0 √(1 + (t/2S0²)²).
    density = np.abs(psi[0]) ** 2
    centre = np.sum(x * density) / density.sum()
    spread = np.sqrt(np.sum((x - centre) ** 2 * density) / density.sum())
    assert centre == pytest.approx(30.0 + np.sqrt(8.0) * 5.0, abs=1e-6)
    assert spread == pytest.approx(1.5 * np.sqrt(1 + (5.0 / (2 * 1.5**2)) ** 2), rel=1e-6)


def test_time_reversal_returns_the_initial_state():
    x = grid(100.0, 1024)
    v = potential_on_grid(Potential(kind="rectangular", height=9.0, width=7.0), x, 100.0)[None]
    forward = SplitOperator(100.0, 1024, 0.00625, v, dtype=np.complex128)
    backward = SplitOperator(100.0, 1024, -0.00625, v, dtype=np.complex128)
    psi0 = gaussian_packets(x, np.array([40.0]), np.array([2.0]), np.array([6.0]))
    there = forward.advance(psi0, 800)
    assert np.abs(there - psi0).max() > 0.1  # it did move (and hit the barrier)
    assert np.abs(backward.advance(there, 800) - psi0).max() < 1e-11


def test_frames_do_not_depend_on_the_batch_they_are_advanced_in():
    scenarios = [{"x0": 30.0 + 5 * i, "s0": 1.5, "e0": 2.0 + i, "potential": {"kind": "rectangular", "height": float(i)}} for i in range(5)]
    whole = SplitOperatorSimulator({"frames": 12}).simulate(scenarios)["psi"]
    assert np.array_equal(SplitOperatorSimulator({"frames": 12, "batch_size": 2}).simulate(scenarios)["psi"], whole)
    assert np.array_equal(SplitOperatorSimulator({"frames": 12, "batch_size": 1}).simulate(scenarios)["psi"], whole)


def test_barrier_reflects_a_slow_packet_and_lets_a_fast_one_through():
    sim = SplitOperatorSimulator({"frames": 321, "precision": "complex128"})
    runs = sim.simulate([{"x0": 35.0, "s0": 3.0, "e0": e, "potential": {"kind": "rectangular", "height": 6.0, "width": 2.0}} for e in (2.0, 12.0)])
    x = sim.x()
    right = (np.abs(runs["psi"][:, -1]) ** 2 * (x > 51.0)).sum(axis=1) * (x[1] - x[0])
    assert right[0] < 0.01 and right[1] > 0.8


def test_potential_shapes_and_bad_input():
    x = grid(100.0, 1024)
    rect = potential_on_grid(Potential(kind="rectangular", height=5.0, width=7.0), x, 100.0)
    assert rect.max() == 5.0 and (rect > 0).sum() == pytest.approx(7.0 / (x[1] - x[0]), abs=1.5)
    tri = potential_on_grid(Potential(kind="triangular", height=8.0, width=10.0), x, 100.0)
    circ = potential_on_grid(Potential(kind="circular", height=8.0, width=10.0), x, 100.0)
    assert tri.max() == pytest.approx(8.0, abs=0.1) and circ.max() == pytest.approx(8.0, abs=0.01)
    assert tri[np.argmin(np.abs(x - 52.5))] == pytest.approx(4.0, abs=0.1)  # half way down the slope
    assert circ[np.argmin(np.abs(x - 54.0))] == pytest.approx(8.0 * 0.6, abs=0.1)  # √(1 - 0.8²)
    with pytest.raises(ComponentError, match="one number per grid point"):
        potential_on_grid(Potential(kind="array", values=[1.0, 2.0]), x, 100.0)
    with pytest.raises(ComponentError, match="outside the box"):
        SplitOperatorSimulator().simulate([{"x0": 120.0}])


def test_potentials_of_any_form():
    x = grid(100.0, 1024)

    def on_grid(spec):
        return potential_on_grid(Potential.model_validate(spec), x, 100.0)

    well = on_grid({"kind": "rectangular", "height": -5.0, "width": 7.0})
    assert well.min() == -5.0 and well.max() == 0.0
    gauss = on_grid({"kind": "gaussian", "height": -4.0, "width": 3.0, "center": 30.0})
    assert gauss[np.argmin(np.abs(x - 30.0))] == pytest.approx(-4.0, abs=1e-3)
    assert gauss[np.argmin(np.abs(x - 31.5))] == pytest.approx(-2.0, abs=0.1)  # width = full width at half maximum
    barrier = {"kind": "triangular", "height": 8.0, "width": 10.0}
    both = on_grid({"kind": "sum", "terms": [barrier, {"kind": "gaussian", "height": -4.0, "width": 3.0, "center": 30.0}]})
    assert np.allclose(both, on_grid(barrier) + gauss)
    assert np.array_equal(on_grid([barrier, {"kind": "gaussian", "height": -4.0, "width": 3.0, "center": 30.0}]), both)  # a bare list
    formula = on_grid({"expression": "8*exp(-(x-50)**2/4) - 2*heaviside(x-70, 1) + where(x < 20, -1, 0)"})  # kind inferred
    assert formula[np.argmin(np.abs(x - 50.0))] == pytest.approx(8.0, abs=1e-3)
    assert formula[x > 80].max() == pytest.approx(-2.0) and formula[x < 19].max() == pytest.approx(-1.0)
    nested = on_grid({"terms": [{"terms": [barrier]}, {"expression": "sin(pi*x/100)"}]})
    assert np.allclose(nested, on_grid(barrier) + np.sin(np.pi * x / 100))
    with pytest.raises(ValidationError, match="needs `terms`"):
        Potential(kind="sum")
    with pytest.raises(ValidationError, match="only used with kind 'expression'"):
        Potential(kind="rectangular", expression="x")


@pytest.mark.parametrize("expression, problem", [
    ("__import__('os')", "calling '__import__'"),
    ("__import__('os').system('true')", "attribute access '.system'"),
    ("x.real", "attribute access '.real'"),
    ("exp(y)", "the name 'y'"),
    ("np.exp(x)", "attribute access"),
    ("x**1000", "exponent 1000"),
    ("2**-100", "exponent -100"),
    ("'a'*3", "the constant 'a'"),
    ("(lambda: 1)()", "Lambda syntax"),
    ("[x][0]", "Subscript syntax"),
    ("exp(x=1)", "calling 'exp'"),
    ("exp(x, x)", "takes 1 argument"),
    ("x == 1", "the operator Eq"),
    ("1j*x", "only real numbers"),
    ("-" * 30 + "x", "nested more than"),
    ("x+" * 300 + "x", "characters long"),
    ("9**9**9", "not finite"),
    ("log(x - 200)", "not finite"),
    ("x +", "not a formula"),
])
def test_unsafe_or_broken_expressions_are_refused(expression, problem):
    with pytest.raises(ExpressionError, match=problem):
        evaluate(expression, grid(100.0, 64))


def test_a_bad_expression_is_refused_when_the_study_is_validated():
    with pytest.raises(ValidationError, match="calling 'open' is not allowed"):
        WavepacketWindows.Params.model_validate({"test_scenarios": {"mine": [{"potential": {"expression": "open('x')"}}]}})


def test_study_given_test_families_and_training_potentials():
    params = {"x0s": [40.0], "s0s": [2.0], "e0s": [5.0], "heights": [6.0], "tests": "quick",
              "potentials": [{"kind": "gaussian", "height": -3.0, "width": 4.0}],
              "test_scenarios": {"wells": [{"x0": 40.0, "s0": 2.0, "e0": 5.0, "potential": {"kind": "circular", "height": -6.0, "width": 8.0}},
                                           {"potential": [{"kind": "rectangular", "height": 4.0}, {"expression": "-2*exp(-(x-65)**2)"}]}]}}
    data = WavepacketWindows(params)
    families = {f.name: f for f in data.families()}
    assert [s.potential.kind for s in families["wells"].scenarios] == ["circular", "sum"]
    assert families["wells"].scenarios[0].potential.height == -6.0
    scenarios = training_scenarios(*(params[k] for k in ("x0s", "s0s", "e0s", "heights")), TRAIN_WB, data.params.potentials)
    assert [s.potential.kind for s in scenarios] == ["none", "rectangular", "gaussian"]
    with pytest.raises(ComponentError, match="built-in test families"):
        WavepacketWindows({"test_scenarios": {"triangular": [{}]}}).families()


def test_training_grid_is_the_thesis_grid():
    scenarios = training_scenarios(*[WavepacketWindows.Params().__getattribute__(k) for k in ("x0s", "s0s", "e0s", "heights", "width")])
    assert len(scenarios) == 2835
    assert sum(s.potential.kind == "none" for s in scenarios) == 189


# -- windows and curricula ---------------------------------------------------------------------


def test_image_extension_is_odd_about_both_walls():
    psi = np.array([0.0, 2, 3, 4, 5])
    assert extend_psi(psi, 2).tolist() == [-3, -2, 0, 2, 3, 4, 5, 0, -5]
    assert extend_potential(np.array([0.0, 2, 3, 4, 5]), 2).tolist() == [3, 2, 0, 2, 3, 4, 5, 5, 5]


def small_pool(per_trajectory=40, margin=0):
    sim = SplitOperatorSimulator({"nx": 256, "lx": 40.0, "frames": 30, "dt": 0.01})
    scenarios = training_scenarios([12.0], [1.5], [2.0, 5.0], [4.0], 5.0)
    pool = build_pool(lambda batch: sim.frames(batch), scenarios, sim.potentials(scenarios), 30, per_trajectory, 0.9, 3, 2, margin=margin)
    full = sim.simulate(scenarios)
    return pool, full


def test_pool_windows_are_cut_from_the_trajectories():
    pool, full = small_pool()
    assert pool.psi.shape == (4 * 40, 5, WINDOW) and pool.potential.shape == (160, WINDOW)
    assert pool.inputs(np.arange(7)).shape == (7, 4, WINDOW, 3) and pool.targets(np.arange(7)).shape == (7, WINDOW, 2)
    psi = extend_psi(full["psi"], WINDOW // 2)
    for i in (0, 57, 159):
        s, f, c = pool.scenario[i], pool.frame[i], pool.start[i]
        assert np.array_equal(pool.psi[i], psi[s, f:f + 5, c:c + WINDOW])
    # Only the barrier scenarios' windows can touch a barrier; most windows see the packet.
    assert not pool.barrier[pool.scenario < 2].any() and pool.barrier[pool.scenario >= 2].any()
    assert np.median(np.abs(pool.psi[:, 0, WINDOW // 2])) > 0.05
    # A margin keeps more points around the same windows.
    wide, _ = small_pool(margin=22)
    assert wide.psi.shape == (160, 5, WINDOW + 44) and wide.margin == 22
    assert np.array_equal(wide.inputs(), pool.inputs()) and np.array_equal(wide.barrier, pool.barrier)
    psi44 = extend_psi(full["psi"], WINDOW // 2 + 22)
    s, f, c = wide.scenario[57], wide.frame[57], wide.start[57]
    assert np.array_equal(wide.psi[57], psi44[s, f:f + 5, c:c + WINDOW + 44])


def test_curricula_weights_and_draws():
    pool, _ = small_pool()
    uniform = UniformWindows({"budget": 60, "rounds": 3})
    assert uniform.schedule(len(pool)) == [20, 20, 20]
    assert np.all(uniform.weights(pool, np.zeros(0, int), None) == 1.0)
    barrier = BarrierWeightedWindows({"budget": 60, "barrier_weight": 4.0})
    w = barrier.weights(pool, np.zeros(0, int), None)
    assert set(np.unique(w)) == {1.0, 4.0} and np.array_equal(w == 4.0, pool.barrier)
    # Error-driven: before training uniform; then a group's weight is floor + (1-floor)·err/mean.
    adaptive = ErrorDrivenWindows({"budget": 60, "floor": 0.2})
    assert np.all(adaptive.weights(pool, np.zeros(0, int), None) == 1.0)
    drawn = np.array([0, 1, 40, 41])  # two windows from scenario 0, two from scenario 1 (free packets)
    errors = np.array([3.0, 3.0, 1.0, 1.0])  # mean 2: scenario 0 is 1.5× the mean, scenario 1 0.5×
    w = adaptive.weights(pool, drawn, errors)
    groups = ErrorDrivenWindows.groups(pool)
    assert np.allclose(w[groups == 0], 0.2 + 0.8 * 1.5) and np.allclose(w[groups == 2], 0.2 + 0.8 * 0.5)
    assert np.allclose(w[pool.scenario >= 2], 1.0)  # no drawn window yet: the mean
    # Weighted draws without replacement follow the weights.
    rng = np.random.default_rng(0)
    weights = np.where(np.arange(1000) < 100, 9.0, 1.0)
    chosen = draw(weights, np.ones(1000, bool), 100, rng)
    assert len(np.unique(chosen)) == 100 and 0.4 < np.mean(chosen < 100) < 0.6  # expected 0.5
    with pytest.raises(ComponentError, match="exceeds"):
        UniformWindows({"budget": 10_000}).schedule(len(pool))


# -- model -----------------------------------------------------------------------------------


@pytest.mark.parametrize("skip, coarse", [("none", "none"), ("identity", "none"), ("linear", "none"),
                                         ("none", "split-operator"), ("linear", "split-operator")])
def test_batched_rollout_equals_window_by_window_prediction(skip, coarse):
    torch.manual_seed(0)
    model = GruEmulator({"skip": skip, "coarse_step": coarse, "conserve_norm": False})
    model.net_ = build_network(model.params)
    model.grid_ = (0.1, 0.025)
    with torch.no_grad():
        for weight in model.net_.parameters():
            weight.add_(0.05 * torch.randn_like(weight))
    rng = np.random.default_rng(1)
    nx = 64
    initial = (0.2 * (rng.normal(size=(2, 4, nx)) + 1j * rng.normal(size=(2, 4, nx)))).astype(np.complex64)
    initial[:, :, 0] = 0
    potential = (3 * np.abs(rng.normal(size=(2, nx)))).astype(np.float32)
    fast = model.rollout(initial, potential, 1)[:, 0]
    # The slow way: cut every window (centres -11..nx+10) from the image-extended frames, run the
    # network, and average each point's 23 predictions with the Gaussian weights.
    ext, vext = extend_psi(initial, 22), extend_potential(potential, 22)
    win = np.lib.stride_tricks.sliding_window_view(ext, WINDOW, axis=2)
    vwin = np.broadcast_to(np.lib.stride_tricks.sliding_window_view(vext, WINDOW, axis=1)[:, None], win.shape)
    x = np.stack([win.real / 0.25, win.imag / 0.25, vwin / 10.0], -1).transpose(0, 2, 1, 3, 4).astype(np.float32)
    with torch.no_grad():
        y = model.net_(torch.from_numpy(x.reshape(-1, 4, WINDOW, 3))).numpy().reshape(2, nx + 22, WINDOW, 2) * 0.25
    w = combine_weights(WINDOW, 4.0)
    slow = sum(w[o] * y[:, np.arange(1, nx) + 22 - o, o] for o in range(WINDOW)) / w.sum()
    slow = slow[..., 0] + 1j * slow[..., 1]
    if coarse != "none":  # plus the coarse step of the last frame, from the whole (extended) frame
        slow += apply(ext[:, -1], vext, rollout_kernel(0.1, 0.025, 4.0), 0.025)[:, 1:]
    assert np.abs(fast[:, 1:] - slow).max() < 1e-5
    assert np.all(fast[:, 0] == 0)


def test_coarse_step_is_a_unitary_strang_step_on_the_window():
    dx, interval = 100.0 / 1024, 0.025
    k = window_propagator(WINDOW, dx, interval)
    assert np.allclose(k @ k.conj().T, np.eye(WINDOW), atol=1e-12)
    # A constant potential only turns the phase by exp(-i V δ), exactly.
    rng = np.random.default_rng(0)
    psi = rng.normal(size=(3, WINDOW)) + 1j * rng.normal(size=(3, WINDOW))
    assert np.allclose(coarse_step(psi, np.full(WINDOW, 7.0), k, interval), np.exp(-7j * interval) * psi @ k.T)
    # In the window's middle a slow plane wave moves as exp(-i k²δ/2), up to the finite
    # difference's dispersion ((1 - cos kΔx)/Δx² instead of k²/2).
    wave = 1.5
    moved = coarse_step(np.exp(1j * wave * dx * np.arange(WINDOW)), np.zeros(WINDOW), k, interval)
    phase = moved[WINDOW // 2] / np.exp(1j * wave * dx * (WINDOW // 2))
    assert abs(phase) == pytest.approx(1.0, abs=1e-3)
    assert np.angle(phase) == pytest.approx(-interval * (1 - np.cos(wave * dx)) / dx**2, abs=1e-4)
    # Averaging the windowed step over windows is one kernel: check against doing it window by window.
    w = combine_weights(WINDOW, 4.0)
    w /= w.sum()
    field = rng.normal(size=80) + 1j * rng.normal(size=80)
    by_window = np.zeros(80 - 2 * (WINDOW - 1), complex)
    for p in range(len(by_window)):
        point = p + WINDOW - 1
        by_window[p] = sum(w[o] * (k @ field[point - o:point - o + WINDOW])[o] for o in range(WINDOW))
    kernel = folded_kernel(k, w)
    assert np.allclose(by_window, np.convolve(field, kernel[::-1], mode="valid"))


def test_coarse_propagator_is_the_hybrid_emulator_without_its_correction():
    sim = SplitOperatorSimulator({"frames": 104})
    scenarios = [{"x0": 40.0, "s0": 2.0, "e0": 5.0, "potential": {"kind": "triangular", "height": 8.0, "width": 10.0}},
                 {"x0": 30.0, "s0": 1.5, "e0": 12.0}]
    run = sim.simulate(scenarios)
    inputs = RolloutInputs(run["psi"][:, :4], run["potential"].astype(np.float32), 100, sim.dx, sim.frame_interval)
    table = Table(inputs, {"psi": run["psi"][:, 4:]})
    coarse = CoarsePropagator().predict(table)
    # The hybrid emulator before training predicts a zero correction: the same rollout.
    hybrid = GruEmulator({"coarse_step": "split-operator", "skip": "none"})
    hybrid.net_, hybrid.grid_ = build_network(hybrid.params), (sim.dx, sim.frame_interval)
    assert np.abs(hybrid.predict(table) - coarse).max() < 1e-4
    # The cheap step alone already follows the solver, at E0 = 12 too (far beyond a window network's training).
    c = correlation(run["psi"][:, 4:], coarse)
    assert c.mean() > 0.99 and c[:, -1].min() > 0.97
    assert np.allclose(np.linalg.norm(coarse, axis=-1), np.linalg.norm(run["psi"][:, 3], axis=-1)[:, None], rtol=1e-5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small emulator trained on free packets and one barrier, for value checks."""
    sim = SplitOperatorSimulator({"frames": 64})
    data = WavepacketWindows({"x0s": [30.0], "s0s": [2.0, 3.0], "e0s": [2.0, 4.0], "heights": [3.0], "per_trajectory": 600,
                              "tests": "quick", "families": ["rect-seen", "sweep-e0"], "margin": 22})
    context = CellContext.standalone(5, cache_dir=tmp_path_factory.mktemp("cache"), components={"simulator": sim},
                                     curriculum=UniformWindows({"budget": 3000, "rounds": 2}))
    bundle = data.load(context)
    context.target, context.targets = "psi", bundle.targets
    model = GruEmulator({"epochs_per_round": 4})
    model.fit(bundle.train, context)
    return model, bundle, context


def test_trained_emulator_rolls_out_the_test_packets(trained):
    model, bundle, context = trained
    table = bundle.evaluations["rect-seen"]
    prediction = model.predict(table)
    assert prediction.shape == table.targets["psi"].shape == (1, 60, 1024) and prediction.dtype == np.complex64
    c = NormalizedCorrelation().score(table.targets["psi"], prediction, TRAJECTORY)
    # Trained on four packets for seconds, it still tracks an unseen packet and barrier far
    # better than holding the last given frame still.
    still = np.repeat(table.inputs.initial[:, -1:], 60, axis=1)
    baseline = NormalizedCorrelation().score(table.targets["psi"], still, TRAJECTORY)
    assert c.steps.shape == (60,) and c.steps[0] > 0.999 and c.steps[20] > 0.95
    assert c.value > baseline.value + 0.05 and c.steps[-1] > baseline.steps[-1] + 0.1
    mse = [r["value"] for r in context.records if r["metric"] == "train_mse"]
    assert len(mse) == 8 and mse[-1] < 0.2 * mse[0]
    # Norm is held, the wall stays at zero.
    assert np.allclose(np.sum(np.abs(prediction[0]) ** 2, axis=1), np.sum(np.abs(table.inputs.initial[0, -1]) ** 2), rtol=1e-4)
    assert np.all(prediction[:, :, 0] == 0)
    # A saved artifact carries truth and prediction for the figures.
    saved = np.load(context.cell_dir / "artifacts" / "rollout-rect-seen.npz")
    assert saved["re_truth"].shape == (60, 1024) and list(saved["snapshot_frames"]) == [50]


def test_training_resumes_from_its_checkpoint(trained, tmp_path):
    model, bundle, _ = trained
    curriculum = ErrorDrivenWindows({"budget": 600, "rounds": 2})
    contexts = [CellContext.standalone(9, cache_dir=tmp_path / "c", work_dir=tmp_path / f"w{i}", curriculum=curriculum) for i in range(2)]
    whole = GruEmulator({"epochs_per_round": 2, "artifacts": False})
    whole.fit(bundle.train, contexts[0])
    # Interrupt the second run after its first checkpointed epoch, then resume.
    interrupted = GruEmulator({"epochs_per_round": 2, "artifacts": False})
    calls = {"n": 0}

    def stop(epoch, predict):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    contexts[1].epoch_hook = stop
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(bundle.train, contexts[1])
    checkpoint = tensorfile.load(contexts[1].cell_dir / "checkpoint.npz")  # plain data and arrays, nothing pickled
    assert checkpoint["state"]["drawn"].shape == (300,) and checkpoint["state"]["epoch"] == 1
    contexts[1].epoch_hook = None
    resumed = GruEmulator({"epochs_per_round": 2, "artifacts": False})
    resumed.fit(bundle.train, contexts[1])
    assert np.array_equal(resumed.drawn_, whole.drawn_)
    for a, b in zip(resumed.net_.parameters(), whole.net_.parameters()):
        assert torch.equal(a, b)


def test_a_finished_fit_keeps_its_weights_and_they_roll_out_identically(trained, tmp_path):
    model, bundle, context = trained
    stored = context.cell_dir / "artifacts" / "emulator-weights.json"
    document = json.loads(stored.read_text())
    assert document["params"] == model.params.model_dump(mode="json") and document["simulator"]["frames"] == 64
    assert document["grid"]["dx"] == pytest.approx(100.0 / 1024) and document["grid"]["frame_interval"] == pytest.approx(0.025)
    with np.load(stored.with_suffix(".npz"), allow_pickle=False) as arrays:  # plain arrays, no pickle
        assert set(arrays.files) == set(model.net_.state_dict())
    emulator = load_emulator(context.cell_dir)
    for name, value in model.net_.state_dict().items():
        assert torch.equal(emulator.model.net_.state_dict()[name], value)
    # Rolled out on the test scenario, it gives exactly what the cell predicted.
    table = bundle.evaluations["rect-seen"]
    scenario = evaluation_families("quick")[0].scenarios[0]
    result = emulator.rollout(scenario)
    assert np.array_equal(result.prediction, model.predict(table)[0])
    assert np.array_equal(result.truth, table.targets["psi"][0])
    c = NormalizedCorrelation().score(table.targets["psi"], result.prediction[None], TRAJECTORY)
    assert result.mean_correlation == pytest.approx(c.value) and result.correlation.shape == (60,)
    assert result.mean_mae == pytest.approx(np.abs(result.prediction - result.truth).mean())
    written = result.save(tmp_path / "out")
    assert written["figure"].stat().st_size > 10_000
    with np.load(written["arrays"], allow_pickle=False) as saved:
        assert np.array_equal(saved["prediction"], result.prediction)


def test_a_hybrid_emulator_learns_the_coarse_steps_correction_and_reloads(trained, tmp_path):
    _, bundle, cell = trained
    context = CellContext.standalone(3, cache_dir=tmp_path / "c", work_dir=tmp_path / "cell", components=cell.components,
                                     curriculum=UniformWindows({"budget": 2000, "rounds": 1}))
    hybrid = GruEmulator({"coarse_step": "split-operator", "skip": "none", "input_noise": 0.0, "epochs_per_round": 3})
    hybrid.fit(bundle.train, context)
    pool = bundle.train.inputs
    drawn = hybrid.drawn_
    # Training lowered the one-step error below the coarse step's own.
    coarse_error = ((hybrid._coarse_part(pool, drawn) - pool.targets(drawn)) ** 2).mean()
    assert hybrid._one_step_errors(pool, drawn).mean() < 0.5 * coarse_error
    table = bundle.evaluations["rect-seen"]
    emulator = load_emulator(tmp_path / "cell")
    assert emulator.model.grid_ == pytest.approx(hybrid.grid_)
    assert np.array_equal(emulator.rollout(evaluation_families("quick")[0].scenarios[0]).prediction, hybrid.predict(table)[0])
    with pytest.raises(ComponentError, match="margin: 22"):
        GruEmulator({"coarse_step": "split-operator"}).fit(Table(narrow(pool), {}), context)


def narrow(pool):
    """The same windows without their margin."""
    from workbench_quantum.windows import WindowPool

    return WindowPool(pool.psi[..., pool.window], pool.potential[..., pool.window], pool.scenario, pool.frame, pool.start, pool.dx, pool.interval)


def test_loading_refuses_missing_unknown_and_damaged_weights(trained, tmp_path):
    _, _, context = trained
    run = tmp_path / "run"
    for name in ("c0000-aaa", "c0001-bbb"):
        (run / "cells" / name).mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match="no trained emulator weights"):
        load_emulator(run)
    import shutil

    for name in ("c0000-aaa", "c0001-bbb"):
        shutil.copytree(context.cell_dir / "artifacts", run / "cells" / name / "artifacts")
    assert load_emulator(run, "c0001").source.parent.parent.name == "c0001-bbb"
    with pytest.raises(ComponentError, match="2 cells match 'c000'"):
        load_emulator(run, "c000")
    with pytest.raises(ComponentError, match="no cell matches 'c9' .* cells with weights: c0000-aaa, c0001-bbb"):
        load_emulator(run, "c9")
    npz = run / "cells" / "c0000-aaa" / "artifacts" / "emulator-weights.npz"
    npz.write_bytes(npz.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DataCorruptError, match="sha256"):
        load_emulator(run, "c0000")
    (npz.with_suffix(".json")).write_text('{"format": "something-else"}')
    with pytest.raises(DataCorruptError, match="not an emulator description"):
        load_emulator(run, "c0000")


def run_module(*args, cwd):
    return subprocess.run([sys.executable, "-m", "workbench_quantum", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


WELL = ("x0: 30\ns0: 2.5\ne0: 3\nframes: 40\npotential:\n"
        "  - {kind: gaussian, height: -3, width: 4, center: 45}\n"
        "  - {expression: '2*exp(-(x-60)**2/2)'}\n")


def test_rollout_is_a_workbench_command(trained, tmp_path):
    _, _, context = trained
    (tmp_path / "well.yaml").write_text(WELL)
    done = run_cli("quantum", "rollout", str(context.cell_dir), "well.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "<C>  = " in done.stdout and (tmp_path / "out" / "rollout.npz").is_file()
    done = run_cli("quantum", "rollout", str(tmp_path), "well.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "no trained emulator weights" in done.stderr and "Traceback" not in done.stderr


def test_rollout_command_on_a_scenario_file(trained, tmp_path):
    _, _, context = trained
    (tmp_path / "well.yaml").write_text(WELL)
    done = run_module("rollout", str(context.cell_dir), "well.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    value = float(done.stdout.split("<C>  = ")[1].split()[0])
    with np.load(tmp_path / "out" / "rollout.npz", allow_pickle=False) as saved:
        assert saved["prediction"].shape == (40, 1024) and saved["potential"].min() == pytest.approx(-3.0, abs=1e-3)
        assert value == pytest.approx(float(saved["correlation"].mean()), abs=1e-4) and value > 0.9
    assert (tmp_path / "out" / "rollout.png").stat().st_size > 10_000
    # Bad input: one line naming the problem, exit code 2, no traceback.
    (tmp_path / "bad.yaml").write_text("x0: 30\npotential: {expression: \"__import__('os').getcwd()\"}\n")
    (tmp_path / "typo.yaml").write_text("x0: 30\nenergy: 3\n")
    for args, message in [(("bad.yaml",), "attribute access '.getcwd' is not allowed"),
                          (("typo.yaml",), "energy: Extra inputs are not permitted"),
                          (("missing.yaml",), "scenario file missing.yaml not found"),
                          (("well.yaml", "--cell", "nope"), "no cell matches 'nope'")]:
        done = run_module("rollout", str(context.cell_dir), *args, cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    for run_dir, message in [(tmp_path, "no trained emulator weights"), (tmp_path / "nowhere", "not found")]:
        done = run_module("rollout", str(run_dir), "well.yaml", cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


# -- metrics -----------------------------------------------------------------------------------


def test_normalized_correlation_on_known_cases():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(2, 3, 50)) + 1j * rng.normal(size=(2, 3, 50))
    metric = NormalizedCorrelation()
    # A global phase and amplitude leave C = 1; an orthogonal function gives C = 0.
    assert metric.score(truth, 2.5 * np.exp(0.7j) * truth, TRAJECTORY).value == pytest.approx(1.0)
    a = np.zeros((1, 1, 4), complex)
    a[0, 0, 0] = 1
    b = np.zeros((1, 1, 4), complex)
    b[0, 0, 1] = 1
    assert metric.score(a, b, TRAJECTORY).value == 0.0
    # Half overlap: ψ = (1, 0), ψ̂ = (1, 1)/√2 → C = 1/√2.
    c = np.array([[[1, 1j]]]) / np.sqrt(2)
    assert metric.score(np.array([[[1, 0]]], complex), c, TRAJECTORY).value == pytest.approx(1 / np.sqrt(2))
    frames = metric.score(truth, np.concatenate([truth[:, :1], truth[:, 1:] * 0 + truth[:, :1]], axis=1), TRAJECTORY)
    assert frames.steps[0] == pytest.approx(1.0) and frames.steps.shape == (3,)
    per_scenario = ScenarioCorrelation().score(truth, np.concatenate([truth[:1], np.conj(truth[1:])]), TRAJECTORY)
    assert per_scenario.steps[0] == pytest.approx(1.0) and per_scenario.steps[1] < 0.5


def test_common_mae_is_eq_4_3_per_frame():
    truth = np.zeros((2, 3, 4), complex)
    prediction = truth.copy()
    prediction[0, 1, :] = 3 + 4j  # |error| 5 on every point of frame 1 of scenario 0
    result = MeanAbsoluteError().score(truth, prediction, TRAJECTORY)
    # eq. 4.3 per frame: (1/Nx) ∑ |ψ̂ - ψ|, here averaged over the two scenarios.
    assert result.steps.tolist() == [0.0, 2.5, 0.0] and result.value == pytest.approx(2.5 / 3)


def test_registering_the_plugin_imports_no_heavy_library():
    code = ("import sys, workbench_quantum.plugin, workbench_quantum.commands; "
            "print([m for m in ('torch', 'sklearn', 'scipy', 'matplotlib', 'rdkit') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_documented_scenario_file_and_potentials_are_valid():
    import re
    import textwrap

    import yaml

    from workbench_quantum import read_scenario

    docs = (REPO / "docs" / "quantum.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", docs, flags=re.S)
    scenario = read_scenario(yaml.safe_load(next(b for b in blocks if "frames: 400" in b)))
    for path in (REPO / "studies" / "scenarios").glob("*.yaml"):  # the example scenario files
        assert read_scenario(path).potential.kind != "none"
    assert scenario.frames == 400 and [t.kind for t in scenario.potential.terms] == ["gaussian", "expression"]
    # The potentials block shows one form per `potential:` entry; each must validate and evaluate.
    forms = re.split(r"\n(?=potential:)", textwrap.dedent(next(b for b in blocks if "kind: array" in b)).strip())
    x = grid(100.0, 1024)
    for form in forms:
        spec = yaml.safe_load(form)["potential"]
        if isinstance(spec, dict) and spec.get("kind") == "array":
            continue  # its values are elided in the docs
        assert np.isfinite(potential_on_grid(Potential.model_validate(spec), x, 100.0)).all()


def test_correlation_vs_budget_plots_one_minus_the_family_mean_per_cell(tmp_path):
    from workbench.run_view import RunView
    from workbench_quantum.figures import CorrelationVsBudget

    rows = []
    for cell, (curriculum, budget, replicate, values) in enumerate([("uniform", 10, 0, (0.9, 0.7)), ("uniform", 10, 1, (0.8, 0.8)),
                                                                    ("uniform", 30, 0, (0.99, 0.97)), ("weighted", 10, 0, (0.95, 0.95))]):
        for family, value in zip(("a", "b"), values):
            rows.append({"cell": f"c{cell}", "curriculum": curriculum, "curriculum.with.budget": budget, "replicate": replicate,
                         "seed": 0, "evaluation": family, "metric": "normalized-correlation", "step_name": "", "step": np.nan, "value": value})
    run = RunView(tmp_path, results=pd.DataFrame(rows))
    fig = CorrelationVsBudget({"group_by": ["curriculum"]}).draw(run)
    uniform, weighted = (line for line in fig.axes[0].lines if len(line.get_xdata()) > 0 and line.get_marker() == "o")
    assert list(uniform.get_xdata()) == [10.0, 30.0] and np.allclose(uniform.get_ydata(), [0.2, 0.02])
    assert np.allclose(weighted.get_ydata(), [0.05])


# -- study ---------------------------------------------------------------------------------------


def test_test_families_mark_training_values():
    families = {f.name: f for f in evaluation_families("full")}
    assert families["sweep-hb"].trained[:3] == [1.0, 2.0, 3.0] and 20.0 in families["sweep-hb"].values
    assert {s.potential.kind for s in families["triangular"].scenarios} == {"triangular"}


def test_quick_study_runs_end_to_end(tmp_path):
    result = run_cli("run", str(REPO / "studies" / "quick" / "emulator.yaml"), "--runs-root", str(tmp_path / "runs"),
                     "--cache-dir", str(tmp_path / "cache"), "-q", timeout=600)
    assert result.returncode == 0, result.stderr
    [run_dir] = list((tmp_path / "runs" / "emulator").iterdir())
    results = pd.read_csv(run_dir / "results.csv", keep_default_na=False, na_values=[""])
    results["step_name"] = results["step_name"].fillna("")
    final = results[(results["metric"] == "normalized-correlation") & (results["step_name"] == "")]
    assert set(final["curriculum"]) == {"uniform", "barrier-weighted", "error-driven"}
    assert len(final) == 3 * 8
    # A few hundred windows already keep most of the 100-frame rollouts on track.
    assert final["value"].between(0.0, 1.0).all() and final["value"].median() > 0.8
    frames = results[(results["metric"] == "normalized-correlation") & (results["step_name"] == "frame")]
    assert frames["step"].max() == 99 and frames[frames["step"] == 0]["value"].min() > 0.99
    scen = results[(results["metric"] == "scenario-correlation") & (results["step_name"] == "scenario") & (results["evaluation"] == "sweep-e0")]
    assert sorted(scen["step"].unique()) == [0, 1]
    for name in ("curricula", "sweeps", "heatmaps", "snapshots", "correlation-vs-frame"):
        assert (run_dir / "figures" / f"{name}.png").stat().st_size > 10_000
