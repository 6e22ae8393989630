"""The hierarchical CNN of thesis §3.2.2.2, as a plain ``nn.Module`` that the ensemble trainer
stacks and vmaps.

Encoder: two blocks of 3×3 convolution (32, then 64 channels; padding 1), ReLU and 2×2
max-pooling: 32×32 → 16×16 → 8×8, so 64·8·8 = **4096** features, the number the thesis gives
(without padding it would be 2304). Heads:

- fine:   in → 512 → ReLU → dropout → 256 → ReLU → 100
- coarse: in → 512 → ReLU → dropout → 64 → ReLU → 20

where ``in`` is 4096 for the head whose prediction is fed (the *source*) and 4096 + the other
head's class count for the *receiving* head: 4096 + 20 for the fine head when coarse feeds fine,
4096 + 100 for the coarse head when fine feeds coarse. The fed values are the source head's
softmax (a prediction, never the label), multiplied by the curriculum's 0/1 feed factor for the
epoch, so a masked epoch feeds exact zeros. Gradients flow through the fed softmax into the
source head (the thesis concatenates the prediction and does not say it is detached).

Dropout masks are inputs rather than drawn inside the module, so that every member of a vmapped
ensemble draws its masks from its own generator and reproduces the same member trained alone.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Direction = Literal["fine-to-coarse", "coarse-to-fine"]

N_COARSE = 20
N_FINE = 100
FEATURES = 4096
FINE_HIDDEN = 512  # width of each head's first (dropout) layer
COARSE_HIDDEN = 512


class Dense(nn.Module):
    """A fully connected layer ``x @ weight + bias`` with the weight stored input-major,
    ``(in, out)``, initialised like ``nn.Linear`` (uniform in ±1/sqrt(in) for weight and bias).

    Why not ``nn.Linear``: its weight is ``(out, in)``, and under vmap the weight gradient comes
    out of the batched matmul as ``(in, out)`` in memory, so autograd copies every gradient into
    the parameter's layout; on the CPU that copy and the optimiser's arithmetic on the strided
    tensors cost more than the matrix products. Stored input-major, parameters, gradients and
    optimiser state are all contiguous.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / in_features**0.5
        self.weight = nn.Parameter(torch.empty(in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight + self.bias


class HierarchicalCnn(nn.Module):
    def __init__(self, direction: Direction):
        super().__init__()
        if direction not in ("fine-to-coarse", "coarse-to-fine"):
            raise ValueError(f"direction must be fine-to-coarse or coarse-to-fine, got {direction!r}")
        self.direction = direction
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        fine_in = FEATURES + (N_COARSE if direction == "coarse-to-fine" else 0)
        coarse_in = FEATURES + (N_FINE if direction == "fine-to-coarse" else 0)
        self.fine_head = nn.ModuleList([Dense(fine_in, FINE_HIDDEN), Dense(FINE_HIDDEN, 256), Dense(256, N_FINE)])
        self.coarse_head = nn.ModuleList([Dense(coarse_in, COARSE_HIDDEN), Dense(COARSE_HIDDEN, 64), Dense(64, N_COARSE)])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(n, 3, 32, 32) images → (n, 4096) features."""
        h = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        h = torch.max_pool2d(torch.relu(self.conv2(h)), 2)
        return h.flatten(1)

    @staticmethod
    def _head(layers: nn.ModuleList, h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        h = torch.relu(layers[0](h)) * keep  # dropout as a given (already rescaled) keep-mask
        h = torch.relu(layers[1](h))
        return layers[2](h)

    def forward(self, x: torch.Tensor, feed_scale: torch.Tensor, keep_fine: torch.Tensor, keep_coarse: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Coarse logits, fine logits, and the fed values (softmax of the source × feed factor)."""
        h = self.features(x)
        if self.direction == "coarse-to-fine":
            coarse = self._head(self.coarse_head, h, keep_coarse)
            fed = torch.softmax(coarse, dim=-1) * feed_scale
            fine = self._head(self.fine_head, torch.cat([h, fed], dim=-1), keep_fine)
        else:
            fine = self._head(self.fine_head, h, keep_fine)
            fed = torch.softmax(fine, dim=-1) * feed_scale
            coarse = self._head(self.coarse_head, torch.cat([h, fed], dim=-1), keep_coarse)
        return coarse, fine, fed
