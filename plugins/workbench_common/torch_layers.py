"""Small torch building blocks shared by the plugins' networks. Imported only by the modules
that build networks, so that registering a plugin does not import torch."""

from __future__ import annotations

from torch import nn


def dense(widths: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers through ``widths`` with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)
