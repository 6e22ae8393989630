"""The quantum plugin (thesis §4.2): solver physics, windows, curricula, emulator, metrics, study."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO, run_cli

from workbench import CellContext, ComponentError, TargetInfo
from workbench_quantum.curricula import BarrierWeightedWindows, ErrorDrivenWindows, UniformWindows, draw
from workbench_quantum.dataset import WavepacketWindows
from workbench_quantum.metrics import NormalizedCorrelation, ScenarioCorrelation
from workbench_quantum._network import EmulatorNet, combine_weights
from workbench_quantum.model import GruEmulator
from workbench_quantum.potentials import Potential, potential_on_grid
from workbench_quantum.scenarios import evaluation_families, training_scenarios
from workbench_quantum.simulator import SplitOperatorSimulator
from workbench_quantum.solver import SplitOperator, free_gaussian, gaussian_packets, grid, norms
from workbench_quantum.windows import WINDOW, build_pool, extend_potential, extend_psi
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


def test_training_grid_is_the_thesis_grid():
    scenarios = training_scenarios(*[WavepacketWindows.Params().__getattribute__(k) for k in ("x0s", "s0s", "e0s", "heights", "width")])
    assert len(scenarios) == 2835
    assert sum(s.potential.kind == "none" for s in scenarios) == 189


# -- windows and curricula ---------------------------------------------------------------------


def test_image_extension_is_odd_about_both_walls():
    psi = np.array([0.0, 2, 3, 4, 5])
    assert extend_psi(psi, 2).tolist() == [-3, -2, 0, 2, 3, 4, 5, 0, -5]
    assert extend_potential(np.array([0.0, 2, 3, 4, 5]), 2).tolist() == [3, 2, 0, 2, 3, 4, 5, 5, 5]


def small_pool(per_trajectory=40):
    sim = SplitOperatorSimulator({"nx": 256, "lx": 40.0, "frames": 30, "dt": 0.01})
    scenarios = training_scenarios([12.0], [1.5], [2.0, 5.0], [4.0], 5.0)
    pool = build_pool(lambda batch: sim.frames(batch), scenarios, sim.potentials(scenarios), 30, per_trajectory, 0.9, 3, 2)
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


@pytest.mark.parametrize("skip", ["none", "identity", "linear"])
def test_batched_rollout_equals_window_by_window_prediction(skip):
    torch.manual_seed(0)
    model = GruEmulator({"skip": skip, "conserve_norm": False})
    model.net_ = EmulatorNet(46, WINDOW, skip)
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
    assert np.abs(fast[:, 1:] - (slow[..., 0] + 1j * slow[..., 1])).max() < 1e-5
    assert np.all(fast[:, 0] == 0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small emulator trained on free packets and one barrier, for value checks."""
    sim = SplitOperatorSimulator({"frames": 64})
    data = WavepacketWindows({"x0s": [30.0], "s0s": [2.0, 3.0], "e0s": [2.0, 4.0], "heights": [3.0], "per_trajectory": 600,
                              "tests": "quick", "families": ["rect-seen", "sweep-e0"]})
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
    contexts[1].epoch_hook = None
    resumed = GruEmulator({"epochs_per_round": 2, "artifacts": False})
    resumed.fit(bundle.train, contexts[1])
    assert np.array_equal(resumed.drawn_, whole.drawn_)
    for a, b in zip(resumed.net_.parameters(), whole.net_.parameters()):
        assert torch.equal(a, b)


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
