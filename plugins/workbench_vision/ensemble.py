"""Training many hierarchical CNNs in one pass over the data (a batched ensemble).

The members' parameters are stacked along a leading axis (``torch.func.stack_module_state``)
and one ``vmap`` of ``functional_call`` computes every member on the same mini-batch, so the
data is read, indexed and moved once for all members and the small per-member matrix products
become batched ones. Members may differ in

- initial weights: each member is built from its own ``seed``;
- curriculum: each has its own ``label-hierarchy`` curriculum (mask epochs K, loss weights);
  members of one ensemble share the *direction*, which fixes the network's shapes (a model
  with both directions trains one ensemble per direction);
- dropout: each member draws its masks from its own generator.

They share the data order (one permutation per epoch from ``order_seed``), which is what makes
one pass serve them all. Every operation is per member (AdamW is elementwise, the loss is a sum
of per-member losses), so a member's trajectory is the one it would have trained alone, to
floating-point rounding: ``tests/plugins/test_vision.py`` checks this.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from workbench_hierarchy.curriculum import LabelHierarchy, feed_scales

from .network import COARSE_HIDDEN, FINE_HIDDEN, Direction, HierarchicalCnn


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    dropout: float = 0.2


def build_member(direction: Direction, seed: int) -> HierarchicalCnn:
    """One network initialised (PyTorch's default initialisation) from ``seed`` alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return HierarchicalCnn(direction)


class CnnEnsemble:
    """Stacked members of one direction, trained together on shared mini-batches."""

    def __init__(self, direction: Direction, seeds: Sequence[int], curricula: Sequence[LabelHierarchy],
                 settings: TrainingSettings = TrainingSettings(), device: str | torch.device = "cpu"):
        if len(seeds) != len(curricula) or not seeds:
            raise ValueError("an ensemble needs one seed and one curriculum per member")
        for curriculum in curricula:
            if curriculum.params.direction != direction:
                raise ValueError(f"member curriculum {curriculum.params.direction!r} in a {direction!r} ensemble")
        self.direction = direction
        self.seeds = [int(s) for s in seeds]
        self.curricula = list(curricula)
        self.settings = settings
        self.device = torch.device(device)
        members = [build_member(direction, s).to(self.device) for s in self.seeds]
        self.params, self.buffers = stack_module_state(members)
        self.base = copy.deepcopy(members[0]).to("meta")  # shapes only; weights come from self.params
        self.optimizer = torch.optim.AdamW(list(self.params.values()), lr=settings.learning_rate, weight_decay=settings.weight_decay,
                                           fused=True)
        self.dropout_generators = [torch.Generator(device=self.device).manual_seed(s + 1) for s in self.seeds]
        self.epochs_done = 0

        def member(params, buffers, x, scale, keep_fine, keep_coarse):
            return functional_call(self.base, (params, buffers), (x, scale, keep_fine, keep_coarse))

        # x is shared (in_dims None); parameters, feed factor and dropout masks are per member.
        self._forward = vmap(member, in_dims=(0, 0, None, 0, 0, 0))

    def __len__(self) -> int:
        return len(self.seeds)

    # -- state ---------------------------------------------------------------------------------

    def member_state(self, index: int) -> dict[str, torch.Tensor]:
        """Member ``index``'s weights, as an ``nn.Module`` state dict on the CPU."""
        return {name: value[index].detach().cpu().clone() for name, value in self.params.items()}

    def load_member_states(self, states: Sequence[dict[str, torch.Tensor]]) -> None:
        with torch.no_grad():
            for name, value in self.params.items():
                value.copy_(torch.stack([s[name] for s in states]).to(self.device))

    def state_dict(self) -> dict:
        """Everything needed to resume training exactly: weights, AdamW moments, dropout
        generators and the epoch count."""
        return {
            "params": {k: v.detach().cpu() for k, v in self.params.items()},
            "optimizer": self.optimizer.state_dict(),
            "generators": [g.get_state() for g in self.dropout_generators],
            "epochs_done": self.epochs_done,
        }

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for name, value in self.params.items():
                value.copy_(state["params"][name].to(self.device))
        self.optimizer.load_state_dict(state["optimizer"])
        for generator, saved in zip(self.dropout_generators, state["generators"]):
            generator.set_state(saved)
        self.epochs_done = int(state["epochs_done"])

    # -- training --------------------------------------------------------------------------------

    def _keep_masks(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.settings.dropout
        if p == 0:
            ones = torch.ones(len(self), batch, FINE_HIDDEN, device=self.device)
            return ones, torch.ones(len(self), batch, COARSE_HIDDEN, device=self.device)
        keep = []
        for generator in self.dropout_generators:
            draws = torch.rand(batch, FINE_HIDDEN + COARSE_HIDDEN, generator=generator, device=self.device)
            keep.append((draws >= p).to(torch.float32) / (1.0 - p))
        stacked = torch.stack(keep)
        return stacked[..., :FINE_HIDDEN], stacked[..., FINE_HIDDEN:]

    def train_epoch(self, images: torch.Tensor, coarse: torch.Tensor, fine: torch.Tensor, order_seed: int,
                    on_batch: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
        """One epoch over ``images`` for every member. Returns per-member means over the epoch:
        ``loss`` (joint), ``coarse_loss``, ``fine_loss`` and ``fed_abs`` (mean |fed value|, 0 in
        masked epochs)."""
        epoch = self.epochs_done + 1
        n = len(images)
        order = torch.from_numpy(np.random.default_rng([order_seed, epoch]).permutation(n)).to(images.device)
        scale = torch.as_tensor(feed_scales(self.curricula, epoch), dtype=torch.float32, device=self.device)[:, None, None]
        totals = torch.zeros(4, len(self), dtype=torch.float64, device=self.device)
        bs = self.settings.batch_size
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            x = images[idx].to(self.device, non_blocking=True)
            yc = coarse[idx].to(self.device, non_blocking=True)
            yf = fine[idx].to(self.device, non_blocking=True)
            keep_fine, keep_coarse = self._keep_masks(len(idx))
            coarse_logits, fine_logits, fed = self._forward(self.params, self.buffers, x, scale, keep_fine, keep_coarse)
            coarse_loss = torch.nn.functional.cross_entropy(coarse_logits.transpose(1, 2), yc.expand(len(self), -1), reduction="none").mean(1)
            fine_loss = torch.nn.functional.cross_entropy(fine_logits.transpose(1, 2), yf.expand(len(self), -1), reduction="none").mean(1)
            joint = torch.stack([c.joint_loss(coarse_loss[m], fine_loss[m]) for m, c in enumerate(self.curricula)])
            self.optimizer.zero_grad(set_to_none=True)
            joint.sum().backward()  # members share no parameters, so each gets its own gradient
            self.optimizer.step()
            with torch.no_grad():
                weight = len(idx) / n
                totals += weight * torch.stack([joint, coarse_loss, fine_loss, fed.abs().mean(dim=(1, 2))]).double()
            if on_batch is not None:
                on_batch(len(idx))
        self.epochs_done = epoch
        values = totals.cpu().numpy()
        return {"loss": values[0], "coarse_loss": values[1], "fine_loss": values[2], "fed_abs": values[3]}

    # -- prediction ------------------------------------------------------------------------------

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities of every member, ``coarse (M, n, 20)`` and ``fine (M, n, 100)``,
        with each member's feed as its curriculum has it after the epochs trained (no dropout)."""
        scale = torch.as_tensor([float(c.feeds_after(self.epochs_done)) for c in self.curricula],
                                dtype=torch.float32, device=self.device)[:, None, None]
        coarse_out, fine_out = [], []
        for start in range(0, len(images), batch_size):
            x = images[start:start + batch_size].to(self.device)
            ones_f = torch.ones(len(self), len(x), FINE_HIDDEN, device=self.device)
            ones_c = torch.ones(len(self), len(x), COARSE_HIDDEN, device=self.device)
            coarse_logits, fine_logits, _ = self._forward(self.params, self.buffers, x, scale, ones_f, ones_c)
            coarse_out.append(torch.softmax(coarse_logits.double(), -1).cpu())
            fine_out.append(torch.softmax(fine_logits.double(), -1).cpu())
        return torch.cat(coarse_out, 1).numpy(), torch.cat(fine_out, 1).numpy()
