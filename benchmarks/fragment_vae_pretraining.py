"""Pretrain the study's fragment VAE (default parameters: 100k MOSES molecules) into the cache and
print its time and quality report, against the ≤ 20 CPU-minute budget of the issue.

    python benchmarks/fragment_vae_pretraining.py --data-dir DATA_DIR --cache-dir CACHE_DIR --threads 1

The studies then find the encoder in the same cache (pass the same --cache-dir to `workbench run`).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from workbench import CellContext
from workbench_molecules.fragment_vae import FragmentVAE

BUDGET_MINUTES = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache-dir", default=None, help="workbench cache (default: $WORKBENCH_CACHE_DIR or ~/.cache/workbench)")
    parser.add_argument("--data-dir", default=None, help="data directory holding moses/train.csv.gz (default: $WORKBENCH_DATA_DIR)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--figure", default=None, help="also draw the loss curve into this PNG file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    context = CellContext.standalone(0, cache_dir=args.cache_dir, data_dir=args.data_dir)
    started = time.perf_counter()
    directory = FragmentVAE().pretrained(context)
    seconds = time.perf_counter() - started
    report = json.loads((directory / "report.json").read_text())
    print(f"fragment VAE: {directory} ({'cached' if seconds < report['seconds'] / 2 else 'trained now'})")
    how = f"now, on {args.threads} torch threads" if seconds >= report["seconds"] / 2 else "when it was trained (from the cache entry)"
    print(f"pretraining took {report['seconds'] / 60:.1f} min ({report['prepare_seconds']:.0f} s featurising and computing properties), "
          f"measured {how}; budget {BUDGET_MINUTES} min")
    history = report["loss_history"]
    last = history[-1]
    print(f"{len(history)} epochs: training loss {history[0]['train_loss']:.2f} → {last['train_loss']:.2f}; held-out loss "
          f"{history[0]['held_out_loss']:.2f} → {last['held_out_loss']:.2f} (change over the last 5 epochs: "
          f"{last['held_out_loss'] - history[-6]['held_out_loss']:+.3f})" if len(history) > 5 else "")
    print(f"held-out fragment-count error {report['fragment_count_mae']:.2f} vs chance {report['fragment_count_mae_chance']:.2f}; "
          f"connectivity {report['connectivity_count_mae']:.2f} vs {report['connectivity_count_mae_chance']:.2f}")
    print(f"linear-probe R² for Crippen logP on the latent means: {report['logp_probe_r2']:.3f} (logP is not among the head's "
          f"properties; those alone give R² {report.get('logp_probe_r2_from_head_properties', float('nan')):.3f})")
    print(f"inactive latent dimensions (mean KL < 0.01 nats): {report['inactive_dimensions_esol']} of {report['latent_dimensions']} on ESOL, "
          f"{report['inactive_dimensions']} on the held-out corpus molecules")
    if args.figure:
        draw_loss_curve(history, report, args.figure)
        print(f"loss curve: {args.figure}")


def draw_loss_curve(history: list[dict], report: dict, path: str) -> None:
    from matplotlib.figure import Figure

    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    ax.plot(epochs, [h["train_loss"] for h in history], label="training objective (incl. free bits and property head)")
    ax.plot(epochs, [h["held_out_loss"] for h in history], label="held-out reconstruction + β·KL")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per molecule")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    ax.set_title(f"Fragment VAE pretraining on {report['corpus_molecules']:,} MOSES molecules "
                 f"({report['corpus_molecules'] - report['held_out']:,} train, {report['held_out']:,} held out)", fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
