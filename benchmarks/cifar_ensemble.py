"""Training throughput of the hierarchical CNN (thesis §3.2): one model vs a batched ensemble.

    python benchmarks/cifar_ensemble.py [--members 8] [--batch 16] [--steps 40] [--device cpu|cuda] [--threads 1]

Trains on random tensors of CIFAR shape (3×32×32, 20 coarse / 100 fine labels) and prints

- one model: a plain ``nn.Module`` training loop (AdamW, dropout), images/s;
- the batched ensemble (``workbench_vision.ensemble.CnnEnsemble``, vmapped stacked members with
  their own seeds and curricula), in model-images/s (images/s × members);
- the ratio ensemble / one model: how much faster a study's grid trains per model.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from workbench_hierarchy.curriculum import LabelHierarchy
from workbench_vision.ensemble import CnnEnsemble, TrainingSettings
from workbench_vision.network import HierarchicalCnn


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def one_model(images, coarse, fine, batch: int, steps: int, device: torch.device) -> float:
    """images/s of the plain single-model loop."""
    torch.manual_seed(0)
    net = HierarchicalCnn("fine-to-coarse").to(device)
    optimizer = torch.optim.AdamW(net.parameters(), fused=True)
    dropout = torch.nn.Dropout(0.2)
    scale = torch.tensor(1.0, device=device)

    def step(i: int) -> None:
        idx = torch.randint(0, len(images), (batch,), device=device)
        keep = dropout(torch.ones(batch, 512, device=device))
        c, f, _ = net(images[idx], scale, keep, keep)
        loss = torch.nn.functional.cross_entropy(c, coarse[idx]) + torch.nn.functional.cross_entropy(f, fine[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for i in range(3):  # warm-up
        step(i)
    sync(device)
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    sync(device)
    return steps * batch / (time.perf_counter() - start)


def ensemble(images, coarse, fine, members: int, batch: int, steps: int, device: torch.device) -> float:
    """model-images/s of the batched ensemble (members × images/s)."""
    ks = [0, 10, 20, 30]
    curricula = [LabelHierarchy({"direction": "fine-to-coarse", "mask_epochs": ks[m % len(ks)]}) for m in range(members)]
    engine = CnnEnsemble("fine-to-coarse", list(range(members)), curricula, TrainingSettings(batch_size=batch), device)
    warm = images[: 3 * batch]
    engine.train_epoch(warm, coarse[: 3 * batch], fine[: 3 * batch], order_seed=0)
    sync(device)
    n = steps * batch
    start = time.perf_counter()
    engine.train_epoch(images[:n], coarse[:n], fine[:n], order_seed=1)
    sync(device)
    return members * n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    n = max(args.steps, 3) * args.batch
    images = torch.randn(n, 3, 32, 32, generator=generator).to(device)
    coarse = torch.randint(0, 20, (n,), generator=generator).to(device)
    fine = torch.randint(0, 100, (n,), generator=generator).to(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or platform.machine()}, {args.threads} thread(s)"
    print(f"hierarchical CNN training throughput, batch {args.batch}, {args.steps} steps, on {device.type} ({name}), torch {torch.__version__}")
    single = one_model(images, coarse, fine, args.batch, args.steps, device)
    print(f"one model:                {single:10.0f} images/s")
    together = ensemble(images, coarse, fine, args.members, args.batch, args.steps, device)
    print(f"ensemble of {args.members:2d} (vmapped): {together:10.0f} model-images/s ({together / args.members:.0f} images/s per pass)")
    print(f"ratio ensemble / one model: {together / single:.2f}x")


if __name__ == "__main__":
    main()
