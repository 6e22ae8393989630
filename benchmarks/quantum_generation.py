"""Benchmark: generating the thesis' 2,835 training trajectories (§4.2.2.2), batched vs one
scenario at a time, and one 400-frame emulator rollout over 1024 points.

    python benchmarks/quantum_generation.py [--loop-subset 30] [--workers 2]

Both generators run the same Strang split-operator solver (404 frames × 1024 points, Δt and
frame interval of the `ssm` defaults, complex64) and discard the frames as they come, as the
window pool does. The batched run advances all 2,835 scenarios as one (2835, 1024) array; the
loop advances one (1, 1024) scenario at a time. The loop is timed on a subset of scenarios
(spread over the whole grid) and extrapolated linearly to 2,835 — it is said so in the output.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from workbench_quantum.dataset import WavepacketWindows  # noqa: E402
from workbench_quantum._network import EmulatorNet  # noqa: E402
from workbench_quantum.model import GruEmulator  # noqa: E402
from workbench_quantum.scenarios import training_scenarios  # noqa: E402
from workbench_quantum.simulator import SplitOperatorSimulator  # noqa: E402
from workbench_quantum.windows import WINDOW  # noqa: E402


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
    parser.add_argument("--workers", type=int, default=2, help="threads of the batched run's sine transforms (also timed with 1)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    p = WavepacketWindows.Params()
    scenarios = training_scenarios(p.x0s, p.s0s, p.e0s, p.heights, p.width)[: args.limit]
    sim = SplitOperatorSimulator()
    steps = (sim.params.frames - 1) * sim.params.steps_per_frame
    print(f"{len(scenarios)} trajectories × {sim.params.frames} frames × {sim.params.nx} points, "
          f"{steps} Strang steps each (Δt = {sim.params.dt}), {sim.params.precision}")

    subset = [scenarios[i] for i in np.linspace(0, len(scenarios) - 1, args.loop_subset).round().astype(int)]
    loop_subset = sum(generate(sim, [s], 1) for s in subset)
    loop = loop_subset * len(scenarios) / len(subset)
    print(f"one scenario at a time : {loop:8.1f} s  (timed on {len(subset)} scenarios: {loop_subset:.1f} s, extrapolated ×{len(scenarios) / len(subset):.1f})")

    batched_1 = generate(sim, scenarios, 1)
    print(f"batched, 1 thread      : {batched_1:8.1f} s  → {loop / batched_1:5.1f}× faster than the loop")
    if args.workers > 1:
        batched_n = generate(sim, scenarios, args.workers)
        print(f"batched, {args.workers} threads     : {batched_n:8.1f} s  → {loop / batched_n:5.1f}× faster than the loop")

    model = GruEmulator()
    torch.manual_seed(0)
    model.net_ = EmulatorNet(46, WINDOW, model.params.skip)  # timing does not depend on trained values
    run = sim.simulate([scenarios[min(200, len(scenarios) - 1)]])  # X0 = 40 before an Hb = 1 barrier
    initial, potential = run["psi"][:, :4], run["potential"]
    model.rollout(initial, potential, 5)  # warm-up
    started = time.perf_counter()
    model.rollout(initial, potential, 400)
    rollout = time.perf_counter() - started
    print(f"one 400-frame rollout over {sim.params.nx} points (1 thread): {rollout:.2f} s (target ≤ 2 s)")


if __name__ == "__main__":
    main()
