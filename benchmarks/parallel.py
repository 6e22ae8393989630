"""Benchmark: running cells one at a time vs two at a time (``--jobs 2``).

    python benchmarks/parallel.py [--repeat 3] [--studies tabular emulator]

For each quick study, one untimed run fills the cache (simulated trajectories, ...); then the
command ``workbench run studies/quick/<study>.yaml -q`` is timed with ``--jobs 1`` and
``--jobs 2`` alternately, ``--repeat`` times each, every time into a fresh runs folder. It prints
the median wall-clock time of each, and the speed-up (jobs 1 / jobs 2; above 1 means two
workers are faster), and checks that both give the same results table.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(study: Path, jobs: int, runs: Path, cache: Path) -> tuple[float, Path]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "workbench", "run", str(study), "-q", "--jobs", str(jobs), "--runs-root", str(runs),
                           "--cache-dir", str(cache)], capture_output=True, text=True, cwd=REPO, env={**os.environ, "COLUMNS": "120"})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{study.name} --jobs {jobs} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    [table] = list(runs.glob("*/*/results.csv"))
    return seconds, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per setting (median reported)")
    parser.add_argument("--studies", nargs="+", default=["tabular", "emulator"], help="quick studies to time")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; median of {args.repeat} runs each")
    with tempfile.TemporaryDirectory(prefix="workbench-parallel-") as scratch:
        root = Path(scratch)
        for name in args.studies:
            study = REPO / "studies" / "quick" / f"{name}.yaml"
            cache = root / f"cache-{name}"
            run(study, 1, root / f"{name}-warm", cache)
            times: dict[int, list[float]] = {1: [], 2: []}
            tables: dict[int, Path] = {}
            for attempt in range(args.repeat):
                for jobs in (1, 2):
                    seconds, tables[jobs] = run(study, jobs, root / f"{name}-{jobs}-{attempt}", cache)
                    times[jobs].append(seconds)
            one, two = statistics.median(times[1]), statistics.median(times[2])
            same = filecmp.cmp(tables[1], tables[2], shallow=False)
            print(f"  studies/quick/{name}.yaml: --jobs 1 {one:6.1f} s   --jobs 2 {two:6.1f} s   speed-up {one / two:4.2f}x   "
                  f"results {'identical' if same else 'DIFFER'}")


if __name__ == "__main__":
    main()
