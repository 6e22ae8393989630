"""Benchmark: how fast the command line answers, and what it imports to do so.

    python benchmarks/startup.py [--repeat 5]

Times (median wall clock over ``--repeat`` runs, each a fresh process) of

* ``workbench --help``,
* ``workbench validate`` on every shipped study (``studies/*.yaml studies/quick/*.yaml``, 16
  files, 1,800 cells),
* ``workbench validate studies/emulator.yaml``, and ``workbench plugins``,

against the 1 s target, and lists the heavy modules (torch, scikit-learn, scipy, matplotlib,
RDKit, Dask) that ``python -X importtime -m workbench validate ...`` imported — there should be
none: components load those when a cell runs, not when a study is listed or checked.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 1.0
HEAVY = ("torch", "sklearn", "scipy", "matplotlib", "rdkit", "distributed", "dask")


def timed(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "workbench", *args], cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, "COLUMNS": "120"})
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"workbench {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return statistics.median(times)


def heavy_imports(args: list[str]) -> list[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "workbench", *args], cwd=REPO, capture_output=True, text=True)
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return sorted({m.split(".")[0] for m in imported} & set(HEAVY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (median reported)")
    args = parser.parse_args()
    studies = sorted(str(p.relative_to(REPO)) for p in (REPO / "studies").glob("*.yaml"))
    studies += sorted(str(p.relative_to(REPO)) for p in (REPO / "studies" / "quick").glob("*.yaml"))
    commands = {
        "workbench --help": ["--help"],
        f"workbench validate (all {len(studies)} shipped studies)": ["validate", *studies],
        "workbench validate studies/emulator.yaml": ["validate", "studies/emulator.yaml"],
        "workbench plugins": ["plugins"],
    }
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; median of {args.repeat} runs; target {TARGET_S:.1f} s wall")
    for label, command in commands.items():
        seconds = timed(command, args.repeat)
        print(f"  {label:<48} {seconds:6.2f} s   ratio to target {seconds / TARGET_S:5.2f}")
    heavy = heavy_imports(["validate", *studies])
    print("heavy modules imported by `workbench validate` on every study:", ", ".join(heavy) if heavy else "none")


if __name__ == "__main__":
    main()
