"""Pretrain the study's fragment VAE (default parameters: 100k MOSES molecules) into the cache and
print its time and quality report, against the ≤ 15 CPU-minute budget of the issue.

    WORKBENCH_DATA_DIR=/work/shared/data flock /work/wt/cpu.lock \\
        python benchmarks/fragment_vae_pretraining.py --cache-dir /tmp/molcache_full --threads 2

The studies then find the encoder in the same cache (pass the same --cache-dir to `workbench run`).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from workbench import CellContext
from workbench_molecules.fragment_vae import FragmentVAE

BUDGET_MINUTES = 15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache-dir", default=None, help="workbench cache (default: $WORKBENCH_CACHE_DIR or ~/.cache/workbench)")
    parser.add_argument("--data-dir", default=None, help="data directory holding moses/train.csv.gz (default: $WORKBENCH_DATA_DIR)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    context = CellContext.standalone(0, cache_dir=args.cache_dir, data_dir=args.data_dir)
    started = time.perf_counter()
    directory = FragmentVAE().pretrained(context)
    seconds = time.perf_counter() - started
    report = json.loads((directory / "report.json").read_text())
    print(f"fragment VAE: {directory} ({'cached' if seconds < report['seconds'] / 2 else 'trained now'})")
    how = f"now, on {args.threads} torch threads" if seconds >= report["seconds"] / 2 else "when it was trained (from the cache entry)"
    print(f"pretraining took {report['seconds'] / 60:.1f} min ({report['featurize_seconds']:.0f} s featurising), measured {how}; "
          f"budget {BUDGET_MINUTES} min")
    print(f"held-out fragment-count error {report['fragment_count_mae']:.2f} vs chance {report['fragment_count_mae_chance']:.2f}; "
          f"connectivity {report['connectivity_count_mae']:.2f} vs {report['connectivity_count_mae_chance']:.2f}")
    print(f"linear-probe R² for Crippen logP on the latent means: {report['logp_probe_r2']:.3f}")


if __name__ == "__main__":
    main()
