"""The ``label-hierarchy`` curriculum (thesis §3.2.2.3 and §3.3.2.2).

A model that understands the ``label-hierarchy`` interface has two heads on one encoder: a
*coarse* head and a *fine* head. One head's **prediction** (never the true label) is
concatenated into the other head's input. The curriculum decides

- ``direction``: ``fine-to-coarse`` (the fine head's prediction feeds the coarse head, thesis
  Fig. 3.2 and Fig. 3.3) or ``coarse-to-fine`` (the coarse head feeds the fine head, Fig. 3.1);
- ``mask_epochs`` K: for epochs 1..K the fed prediction is replaced by zeros of the same shape,
  so the receiving head learns without it; from epoch K+1 on it receives the prediction.
  K = 0 feeds from the start; K ≥ the number of epochs (or ``"all"``) never feeds — the
  thesis' baseline curve in Figs. 3.1/3.2;
- ``coarse_weight`` / ``fine_weight``: the joint loss is
  ``coarse_weight * loss(coarse head) + fine_weight * loss(fine head)`` over both heads,
  every epoch (masking changes what a head sees, not what it is trained on).

Protocol for a model (any architecture, any package) — the curriculum holds no weights, only
the schedule, so the same object drives an MLP, a CNN or a batched ensemble:

1. ``curriculum.heads(target, aux_target, targets)`` → ``(source, receiver)``: which of the
   study target and the model's auxiliary target feeds which, and
   ``curriculum.levels(...)`` → ``(coarse, fine)``. The fine target is the one whose
   ``TargetInfo.parent`` names the other; without such a relation the study target is coarse.
2. Epochs are numbered from 1. In each epoch ``e``, compute the source head first, then
   ``fed = curriculum.feed(source_prediction, e)`` and give ``concat(encoded, fed)`` to the
   receiving head. ``feed`` returns exact zeros while ``mask_active(e)``; zeros multiply every
   weight that reads the fed columns, so no gradient reaches them either. ``feeds(e)`` is the
   opposite of ``mask_active(e)``; ``feed_scale(e)`` gives 0.0/1.0 for code that multiplies
   itself, and :func:`feed_scales` stacks it over several curricula (a vmap'ed ensemble whose
   members use different K).
3. The fed prediction is the source head's *output* (class probabilities from a softmax, or the
   regression value), computed from the inputs only. Labels enter only the loss:
   ``curriculum.joint_loss(coarse_loss, fine_loss)``.
4. After training, predict with the schedule of the last epoch: ``feeds_after(epochs)``.
   A model fitted for fewer epochs than K therefore never uses the fed columns.

A model that finds ``context.curriculum`` is ``None`` uses :meth:`LabelHierarchy.default`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

import workbench
from workbench import ComponentError, Curriculum, TargetInfo

INTERFACE = "label-hierarchy"


class LabelHierarchy(Curriculum):
    name = "label-hierarchy"
    summary = "Feed one head's prediction (fine→coarse or coarse→fine) into the other, masked to zeros for the first K epochs; joint loss."
    interface = INTERFACE

    class Params(workbench.Params):
        direction: Literal["fine-to-coarse", "coarse-to-fine"] = Field(
            default="fine-to-coarse", description="which head's prediction is fed into the other head's input"
        )
        mask_epochs: int | Literal["all"] = Field(
            default=0, description="K: the fed prediction is zeros for epochs 1..K (0: fed from the start; 'all': never fed)"
        )
        coarse_weight: float = Field(default=1.0, ge=0, description="weight of the coarse head's loss in the joint loss")
        fine_weight: float = Field(default=1.0, ge=0, description="weight of the fine head's loss in the joint loss")

    @classmethod
    def default(cls) -> LabelHierarchy:
        return cls()

    @classmethod
    def contract_params(cls) -> list[dict[str, Any]]:
        return [{}, {"direction": "coarse-to-fine", "mask_epochs": 10, "fine_weight": 0.5}, {"mask_epochs": "all"}]

    # -- the schedule ------------------------------------------------------------------------

    def mask_active(self, epoch: int) -> bool:
        """True when the fed prediction is zeros in ``epoch`` (numbered from 1)."""
        if epoch < 1:
            raise ComponentError(f"epochs are numbered from 1, got {epoch}")
        return self.params.mask_epochs == "all" or epoch <= self.params.mask_epochs

    def feeds(self, epoch: int) -> bool:
        """True when the receiving head sees the source head's prediction in ``epoch``."""
        return not self.mask_active(epoch)

    def feeds_after(self, epochs: int) -> bool:
        """Whether a model trained for ``epochs`` epochs predicts with the fed prediction."""
        return epochs >= 1 and self.feeds(epochs)

    def feed_scale(self, epoch: int) -> float:
        return 1.0 if self.feeds(epoch) else 0.0

    def feed(self, prediction: Any, epoch: int) -> Any:
        """``prediction`` (numpy array or torch tensor) in epochs that feed it, exact zeros of
        the same shape and type in masked epochs."""
        if self.feeds(epoch):
            return prediction
        if hasattr(prediction, "new_zeros"):  # a torch tensor: stay on its device and dtype
            return prediction.new_zeros(prediction.shape)
        return np.zeros_like(prediction)

    def joint_loss(self, coarse_loss: Any, fine_loss: Any) -> Any:
        """The loss over both heads, weighted as the parameters say."""
        return self.params.coarse_weight * coarse_loss + self.params.fine_weight * fine_loss

    # -- which head feeds which --------------------------------------------------------------

    @property
    def source_level(self) -> str:
        """``"fine"`` or ``"coarse"``: the level whose head's prediction is fed."""
        return "fine" if self.params.direction == "fine-to-coarse" else "coarse"

    def levels(self, target: str, aux_target: str, targets: dict[str, TargetInfo]) -> tuple[str, str]:
        """``(coarse, fine)`` among the study ``target`` and the model's ``aux_target``.

        Which one is fine is read from ``TargetInfo.parent`` (a fine target names its coarse
        parent). When neither names the other, the study target is taken as coarse and the
        auxiliary target as fine — the thesis' SuperCon setup.
        """
        if target == aux_target:
            raise ComponentError(f"the auxiliary head's target must differ from the study target ({target!r})")
        if targets.get(target) is not None and targets[target].parent == aux_target:
            return aux_target, target
        return target, aux_target

    def heads(self, target: str, aux_target: str, targets: dict[str, TargetInfo]) -> tuple[str, str]:
        """``(source, receiver)``: the target whose head's prediction is fed, and the target
        whose head receives it, as ``direction`` says."""
        coarse, fine = self.levels(target, aux_target, targets)
        return (fine, coarse) if self.source_level == "fine" else (coarse, fine)


def feed_scales(curricula: Sequence[LabelHierarchy], epoch: int) -> np.ndarray:
    """0/1 feed factor of each curriculum in ``epoch``: one factor per member of an ensemble
    trained together, to multiply its fed prediction by (shape ``(len(curricula),)``)."""
    return np.array([c.feed_scale(epoch) for c in curricula], dtype=np.float64)
