"""Benchmark: generating the thesis' 2,835 training trajectories (§4.2.2.2) against the floor set
by the transforms themselves; batched vs one scenario at a time; one 400-frame emulator rollout.

    python benchmarks/quantum_generation.py [--loop-subset 30] [--workers 2] [--frames 404]

Run it on a quiet machine: every figure is a wall-clock time.

A Strang step of the `ssm` solver is two type-I sine transforms of the Nx-1 = 1023 interior
points and two elementwise phase products. The *floor* is the time of the two transforms alone
on the whole (2835, 1023) complex64 batch, per scenario and step, measured every way available
here: scipy.fft.dst on the complex array, on its real and imaginary float32 parts, and the same
transform as a complex FFT of the 2048-point odd extension (scipy.fft.fft and torch.fft.fft),
each with 1 and ``--workers`` threads, on the whole batch at once and in chunks of the
solver's ``batch_size`` rows (which fit the CPU caches), after a warm-up call (scipy and torch
cache their FFT plans; the cold first call is printed too). The generator (the solver as the
window pool runs it: frames streamed and discarded) is then timed the same ways, and its time
per scenario-step is divided by the fastest floor: the ratio printed is how far it is from the
transforms' own cost. The one-scenario-at-a-time loop is timed on a
subset of scenarios spread over the grid and extrapolated linearly — said so in the output.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import fft  # noqa: E402

from workbench_quantum._network import EmulatorNet  # noqa: E402
from workbench_quantum.dataset import WavepacketWindows  # noqa: E402
from workbench_quantum.model import GruEmulator  # noqa: E402
from workbench_quantum.scenarios import training_scenarios  # noqa: E402
from workbench_quantum.simulator import SplitOperatorSimulator  # noqa: E402
from workbench_quantum.windows import WINDOW  # noqa: E402


def per_call(function, repeats: int) -> tuple[float, float]:
    """(cold first call, mean of ``repeats`` warm calls) in seconds."""
    started = time.perf_counter()
    function()
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return cold, (time.perf_counter() - started) / repeats


def transform_floor(batch: int, nx: int, chunks: list[int], workers: int, repeats: int) -> dict[str, float]:
    """Seconds per scenario for one sine transform of the interior points of ``batch`` scenarios,
    transformed ``chunk`` rows at a time, by each method."""
    rng = np.random.default_rng(0)
    psi = (rng.normal(size=(batch, nx - 1)) + 1j * rng.normal(size=(batch, nx - 1))).astype(np.complex64)
    real, imag = np.ascontiguousarray(psi.real), np.ascontiguousarray(psi.imag)
    odd = np.zeros((batch, 2 * nx), dtype=np.complex64)  # the odd extension, whose FFT holds the sine transform
    odd[:, 1:nx] = psi
    odd[:, nx + 1:] = -psi[:, ::-1]
    odd_t = torch.from_numpy(odd)

    def chunked(transform, chunk):
        return lambda: [transform(lo, lo + chunk) for lo in range(0, batch, chunk)]

    def torch_fft(lo, hi, threads):
        torch.set_num_threads(threads)
        return torch.fft.fft(odd_t[lo:hi])

    out = {}
    for chunk in chunks:
        for threads in sorted({1, workers}):
            methods = {
                "scipy.fft.dst type 1, complex64": lambda lo, hi, t=threads: fft.dst(psi[lo:hi], type=1, norm="ortho", workers=t),
                "scipy.fft.dst type 1, real and imaginary float32 parts": lambda lo, hi, t=threads: (
                    fft.dst(real[lo:hi], type=1, norm="ortho", workers=t), fft.dst(imag[lo:hi], type=1, norm="ortho", workers=t)),
                f"scipy.fft.fft, {2 * nx}-point odd extension, complex64": lambda lo, hi, t=threads: fft.fft(odd[lo:hi], workers=t),
                f"torch.fft.fft, {2 * nx}-point odd extension, complex64": lambda lo, hi, t=threads: torch_fft(lo, hi, t),
            }
            for name, transform in methods.items():
                cold, warm = per_call(chunked(transform, chunk), repeats)
                label = f"{name}, {chunk} rows at a time, {threads} thread(s)"
                out[label] = warm / batch
                print(f"  {label:96s}: {warm / batch * 1e6:6.2f} µs/scenario (cold first call {cold / batch * 1e6:6.2f})")
    torch.set_num_threads(1)
    return out


def generate(sim: SplitOperatorSimulator, scenarios, workers: int) -> float:
    started = time.perf_counter()
    checksum = 0.0
    for frame in sim.frames(scenarios, workers):
        checksum += float(np.abs(frame[:, 512]).sum())  # touch every frame so nothing is skipped
    elapsed = time.perf_counter() - started
    assert np.isfinite(checksum)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop-subset", type=int, default=30, help="scenarios timed in the one-at-a-time loop")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training scenarios (smoke tests)")
    parser.add_argument("--workers", type=int, default=2, help="threads for the multi-threaded runs (also timed with 1)")
    parser.add_argument("--frames", type=int, default=None, help="frames per trajectory (default: the solver's 404)")
    parser.add_argument("--repeats", type=int, default=10, help="warm calls per transform timing")
    args = parser.parse_args()
    torch.set_num_threads(1)

    p = WavepacketWindows.Params()
    scenarios = training_scenarios(p.x0s, p.s0s, p.e0s, p.heights, p.width)[: args.limit]
    sim = SplitOperatorSimulator({} if args.frames is None else {"frames": args.frames})
    steps = (sim.params.frames - 1) * sim.params.steps_per_frame
    scenario_steps = len(scenarios) * steps
    print(f"{len(scenarios)} trajectories × {sim.params.frames} frames × {sim.params.nx} points, "
          f"{steps} Strang steps each (Δt = {sim.params.dt}), {sim.params.precision}")

    print(f"Floor: one sine transform of {len(scenarios)} rows of {sim.params.nx - 1} complex64 points (a Strang step needs two):")
    chunks = sorted({min(sim.params.batch_size, len(scenarios)), len(scenarios)})
    floors = transform_floor(len(scenarios), sim.params.nx, chunks, args.workers, args.repeats)
    best_name, best = min(floors.items(), key=lambda item: item[1])
    floor_total = 2 * best * scenario_steps
    print(f"  fastest: {best_name} → floor for the whole set: 2 × {best * 1e6:.2f} µs × {scenario_steps:,} "
          f"scenario-steps = {floor_total:.1f} s")

    subset = [scenarios[i] for i in np.linspace(0, len(scenarios) - 1, min(args.loop_subset, len(scenarios))).round().astype(int)]
    loop_subset = sum(generate(sim, [s], 1) for s in subset)
    loop = loop_subset * len(scenarios) / len(subset)
    print(f"one scenario at a time: {loop:8.1f} s  (timed on {len(subset)} scenarios: {loop_subset:.1f} s, "
          f"extrapolated ×{len(scenarios) / len(subset):.1f}) = {loop / floor_total:4.1f}× the floor")
    for batch in chunks:
        for threads in sorted({1, args.workers}):
            batched = sum(generate(sim, scenarios[lo:lo + batch], threads) for lo in range(0, len(scenarios), batch))
            print(f"batched, {batch:4d} scenarios at a time, {threads} thread(s): {batched:7.1f} s → {loop / batched:4.1f}× faster than "
                  f"the loop; {batched / scenario_steps * 1e6:.2f} µs per scenario-step = {batched / floor_total:4.2f}× the floor")

    model = GruEmulator()
    torch.manual_seed(0)
    model.net_ = EmulatorNet(46, WINDOW, model.params.skip)  # timing does not depend on trained values
    run = sim.simulate([scenarios[min(200, len(scenarios) - 1)]])  # X0 = 40 before an Hb = 1 barrier
    initial, potential = run["psi"][:, :4], run["potential"]
    rollout_steps = min(400, sim.params.frames - 4)
    for label, emulator in (("today's network", model), ("hybrid (coarse step + correction)", hybrid_model(sim))):
        emulator.rollout(initial, potential, 5)  # warm-up
        started = time.perf_counter()
        emulator.rollout(initial, potential, rollout_steps)
        print(f"one {rollout_steps}-frame rollout over {sim.params.nx} points, {label} (1 thread): "
              f"{time.perf_counter() - started:.2f} s (target ≤ 2 s)")


def hybrid_model(sim: SplitOperatorSimulator) -> GruEmulator:
    from workbench_quantum._network import build_network

    model = GruEmulator({"coarse_step": "split-operator", "skip": "none", "input_noise": 0.0})
    torch.manual_seed(0)
    model.net_, model.grid_ = build_network(model.params), (sim.dx, sim.frame_interval)
    return model


if __name__ == "__main__":
    main()
