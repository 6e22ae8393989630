"""The torch side of ``hierarchical-mlp``: the network and a thread-count guard. Kept apart so
that registering the component does not import torch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from workbench_common.torch_layers import dense


class HierarchicalNet(nn.Module):
    """Encoder, source head and receiving head; ``forward`` returns raw outputs by role."""

    def __init__(self, n_inputs: int, encoder: list[int], embedding: int, main_out: int, aux_out: int | None,
                 aux_is_classifier: bool, main_is_classifier: bool, aux_feeds_main: bool):
        super().__init__()
        self.encoder = dense([n_inputs, *encoder, embedding])
        self.aux_feeds_main = aux_feeds_main
        self.main_is_classifier = main_is_classifier
        self.aux_is_classifier = aux_is_classifier
        fed_into_main = aux_out if (aux_out is not None and aux_feeds_main) else 0
        fed_into_aux = main_out if (aux_out is not None and not aux_feeds_main) else 0
        self.main = dense([embedding + fed_into_main, *self.head_widths(main_is_classifier, fed_into_main, main=True), main_out])
        self.aux = None if aux_out is None else dense(
            [embedding + fed_into_aux, *self.head_widths(aux_is_classifier, fed_into_aux, main=False), aux_out]
        )

    @staticmethod
    def head_widths(classifier: bool, fed: int, main: bool) -> list[int]:
        # Thesis §3.3.2.2: the coarse head is 32 → 16 unless it takes the 2 K-bin probabilities
        # (then 64 → 32); the regression head is 32 → 16 → 1; the binned head 64 → 64 → bins.
        if main:
            return [64, 32] if fed > 1 else [32, 16]
        return [64, 64] if classifier else [32, 16]

    @staticmethod
    def as_fed(raw: torch.Tensor, classifier: bool) -> torch.Tensor:
        return torch.softmax(raw, dim=1) if classifier else raw

    def forward(self, x: torch.Tensor, feed) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``feed`` maps the source head's prediction to what the receiving head sees (the
        curriculum's ``feed`` for this epoch: the prediction itself, or zeros)."""
        z = self.encoder(x)
        if self.aux is None:
            return self.main(z), None
        if self.aux_feeds_main:
            aux = self.aux(z)
            main = self.main(torch.cat([z, feed(self.as_fed(aux, self.aux_is_classifier))], dim=1))
        else:
            main = self.main(z)
            aux = self.aux(torch.cat([z, feed(self.as_fed(main, self.main_is_classifier))], dim=1))
        return main, aux


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads, then restore. Batches of 64 through 128-wide
    layers are too small to split: on a busy machine two spinning threads made a step 25×
    slower than one (measured, docs/hierarchy.md)."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
