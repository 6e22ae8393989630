"""``hierarchical-mlp``: a dense encoder with a study-target head and an optional auxiliary
head whose prediction feeds it, trained under the ``label-hierarchy`` curriculum (thesis
§3.3.2.2, the three SuperCon pipelines).

Architecture (widths as in the thesis):

- encoder: ``inputs → w1 → ReLU → w2 → ReLU → 64`` (three dense layers, the last one linear);
- auxiliary head (``aux_target``): regression → ``64 → 32 → 16 → 1`` (the Tc regression head);
  classification → ``64 → 64 → 64 → n_fine`` (the 2 K-bin head);
- study-target head: ``64 (+ fed) → 32 → 16 → n_coarse``, or ``64 + n_fine → 64 → 32 →
  n_coarse`` when it receives class probabilities;
- ``aux_target: null`` is the baseline: no auxiliary head.

With ``direction: coarse-to-fine`` the study-target head is the source and the auxiliary head
receives instead. The fed prediction is the source head's softmax (classification) or its
standardised value (regression), masked to zeros by the curriculum for the first K epochs. The
joint loss is cross-entropy for classification heads and mean squared error on the
standardised value for a regression head, weighted by the curriculum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

import workbench
from workbench import Bundle, CellContext, ComponentError, Model, Table, TargetInfo

from .curriculum import INTERFACE, LabelHierarchy

if TYPE_CHECKING:  # pragma: no cover
    import torch


class HierarchicalMLP(Model):
    name = "hierarchical-mlp"
    frameworks = ("torch",)
    summary = "Dense encoder (→ 64) with a study-target head fed by an auxiliary head's prediction (label-hierarchy curriculum)."
    tasks = frozenset({"classification"})
    curricula = frozenset({INTERFACE})

    class Params(workbench.Params):
        aux_target: str | None = Field(
            default=None, description="target of the auxiliary head (regression → 1 node, classification → one node per class); null: no auxiliary head (baseline)"
        )
        encoder_widths: list[int] = Field(default=[128, 128], min_length=1, description="widths of the encoder's hidden dense layers (before the 64-dim embedding)")
        embedding: int = Field(default=64, ge=1, description="width of the encoder's output")
        epochs: int = Field(default=50, ge=1, description="training epochs")
        batch_size: int = Field(default=64, ge=1, description="minibatch size")
        learning_rate: float = Field(default=1e-3, gt=0, description="Adam learning rate")
        weight_decay: float = Field(default=0.0, ge=0, description="Adam weight decay")
        detach_feed: bool = Field(default=False, description="stop the receiving head's loss from training the source head through the fed prediction")
        checkpoint_every: int = Field(default=10, ge=1, description="save a resumable checkpoint every this many epochs")
        threads: int | None = Field(
            default=1, ge=1,
            description="torch intra-op threads while fitting and predicting (null: the cell's share); one suits this small network",
        )

    @classmethod
    def contract_params(cls) -> list[dict[str, Any]]:
        return [{"epochs": 2, "encoder_widths": [16]}, {"epochs": 2, "aux_target": "fine", "encoder_widths": [16]},
                {"epochs": 2, "aux_target": "value", "encoder_widths": [16]}]

    @classmethod
    def contract_bundle(cls, task: str, rng: np.random.Generator) -> tuple[Bundle, str]:
        n = 120
        X = rng.normal(size=(n, 6))
        value = X[:, 0] + 0.5 * X[:, 1]
        fine = np.digitize(value, np.quantile(value, [0.2, 0.4, 0.6, 0.8])).astype(float)
        coarse = (fine >= 2).astype(float) + (fine >= 4)
        table = Table(X, {"coarse": coarse, "fine": fine, "value": value})
        targets = {"coarse": TargetInfo("classification", ("a", "b", "c")),
                   "fine": TargetInfo("classification", tuple("vwxyz"), parent="coarse"),
                   "value": TargetInfo("regression", parent="coarse")}
        return Bundle(train=table.take(np.arange(90)), evaluations={"test": table.take(np.arange(90, n))}, targets=targets), "coarse"

    def required_targets(self) -> frozenset[str]:
        return frozenset({self.params.aux_target}) if self.params.aux_target else frozenset()

    # -- fitting ------------------------------------------------------------------------------

    def _prepare(self, train: Table, context: CellContext) -> None:
        p = self.params
        self.target_ = context.target
        info = context.targets[self.target_]
        if info.task != "classification":
            raise ComponentError(f"hierarchical-mlp predicts a classification target; {self.target_!r} is {info.task!r}")
        self.n_main_ = info.n_classes
        self.curriculum_ = context.curriculum if context.curriculum is not None else LabelHierarchy.default()
        X = np.asarray(train.inputs, dtype=np.float64).reshape(len(train), -1)
        if not np.isfinite(X).all():
            raise ComponentError("hierarchical-mlp: the inputs contain NaN or infinite values")
        self.x_mean_ = X.mean(axis=0)
        self.x_scale_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        self.aux_ = p.aux_target
        self.aux_info_: TargetInfo | None = None
        aux_feeds_main = True
        if self.aux_ is not None:
            if self.aux_ not in context.targets or self.aux_ not in train.targets:
                raise ComponentError(f"hierarchical-mlp: auxiliary target {self.aux_!r} is not in the data; targets: {sorted(context.targets)}")
            self.aux_info_ = context.targets[self.aux_]
            if self.aux_info_.task not in ("classification", "regression"):
                raise ComponentError(f"hierarchical-mlp: the auxiliary head fits classification or regression, not {self.aux_info_.task!r}")
            source, _ = self.curriculum_.heads(self.target_, self.aux_, context.targets)
            aux_feeds_main = source == self.aux_
            self.main_is_coarse_ = self.curriculum_.levels(self.target_, self.aux_, context.targets)[0] == self.target_
            if self.aux_info_.task == "regression":
                y = np.asarray(train.targets[self.aux_], dtype=np.float64)
                y = y[np.isfinite(y)]
                self.y_mean_, self.y_scale_ = float(y.mean()), float(y.std() or 1.0)
        aux_classifier = self.aux_info_ is not None and self.aux_info_.task == "classification"
        aux_out = None if self.aux_info_ is None else (self.aux_info_.n_classes if aux_classifier else 1)
        self.net_args_ = dict(n_inputs=X.shape[1], encoder=list(p.encoder_widths), embedding=p.embedding, main_out=self.n_main_,
                              aux_out=aux_out, aux_is_classifier=aux_classifier, main_is_classifier=True, aux_feeds_main=aux_feeds_main)

    def _tensors(self, table: Table) -> torch.Tensor:
        import torch

        X = np.asarray(table.inputs, dtype=np.float64).reshape(len(table), -1)
        return torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float32)

    def _feed(self, epoch: int):
        curriculum, detach = self.curriculum_, self.params.detach_feed
        return lambda prediction: curriculum.feed(prediction.detach() if detach else prediction, epoch)

    def fit(self, train: Table, context: CellContext) -> None:
        from ._network import torch_threads

        with torch_threads(self.params.threads):
            self._fit(train, context)

    def _fit(self, train: Table, context: CellContext) -> None:
        import torch

        from ._network import HierarchicalNet

        p = self.params
        self._prepare(train, context)
        torch.manual_seed(context.derive_seed("hierarchical-mlp-init"))
        self.net_ = HierarchicalNet(**self.net_args_)
        optimizer = torch.optim.Adam(self.net_.parameters(), lr=p.learning_rate, weight_decay=p.weight_decay)
        shuffler = torch.Generator().manual_seed(context.derive_seed("hierarchical-mlp-batches"))
        X = self._tensors(train)
        y_main = torch.as_tensor(np.asarray(train.targets[self.target_]), dtype=torch.long)
        y_aux, aux_present = self._aux_labels(train)
        start = 1
        saved = context.load_checkpoint()
        if saved is not None:
            self.net_.load_state_dict(saved["net"])
            optimizer.load_state_dict(saved["optimizer"])
            shuffler.set_state(saved["shuffler"])
            start = saved["epoch"] + 1
        n = len(train)
        with context.progress("epochs", total=p.epochs) as bar:
            bar.advance(start - 1)
            for epoch in range(start, p.epochs + 1):
                self.net_.train()
                feed = self._feed(epoch)
                order = torch.randperm(n, generator=shuffler)
                total = 0.0
                for batch in order.split(p.batch_size):
                    main, aux = self.net_(X[batch], feed)
                    loss = self._loss(main, aux, y_main[batch], None if y_aux is None else y_aux[batch],
                                      None if aux_present is None else aux_present[batch])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    total += float(loss.detach()) * len(batch)
                self.epochs_trained_ = epoch
                context.record("train_loss", total / n, step=epoch, step_name="epoch")
                context.end_epoch(epoch, self.predict)
                if epoch % p.checkpoint_every == 0 and epoch < p.epochs:
                    context.save_checkpoint({"net": self.net_.state_dict(), "optimizer": optimizer.state_dict(),
                                             "shuffler": shuffler.get_state(), "epoch": epoch})
                bar.advance(1)
        self.epochs_trained_ = p.epochs
        self.net_.eval()

    def _aux_labels(self, train: Table) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        import torch

        if self.aux_ is None:
            return None, None
        values = np.asarray(train.targets[self.aux_], dtype=np.float64)
        present = np.isfinite(values)  # a missing auxiliary label only drops that sample's auxiliary loss
        if self.aux_info_.task == "classification":
            return torch.as_tensor(np.where(present, values, 0).astype(np.int64)), torch.as_tensor(present)
        return torch.as_tensor(np.where(present, (values - self.y_mean_) / self.y_scale_, 0.0), dtype=torch.float32), torch.as_tensor(present)

    def _loss(self, main, aux, y_main, y_aux, present) -> torch.Tensor:
        from torch import nn

        main_loss = nn.functional.cross_entropy(main, y_main)
        if aux is None:
            return main_loss
        if self.aux_info_.task == "classification":
            per_sample = nn.functional.cross_entropy(aux, y_aux, reduction="none")
        else:
            per_sample = (aux[:, 0] - y_aux) ** 2
        aux_loss = (per_sample * present).sum() / present.sum().clamp(min=1)
        if self.main_is_coarse_:
            return self.curriculum_.joint_loss(main_loss, aux_loss)
        return self.curriculum_.joint_loss(aux_loss, main_loss)

    # -- predicting ---------------------------------------------------------------------------

    def predict(self, table: Table) -> dict[str, np.ndarray]:
        """Class probabilities of the study target and the auxiliary head's prediction
        (probabilities, or the value in the target's units), with the fed prediction masked
        as in the last epoch trained."""
        import torch

        from ._network import torch_threads

        was_training = self.net_.training
        self.net_.eval()
        with torch.no_grad(), torch_threads(self.params.threads):
            main, aux = self.net_(self._tensors(table), self._feed(max(1, self.epochs_trained_)))
        self.net_.train(was_training)
        out = {self.target_: torch.softmax(main, dim=1).double().numpy()}
        if aux is not None:
            if self.aux_info_.task == "classification":
                out[self.aux_] = torch.softmax(aux, dim=1).double().numpy()
            else:
                out[self.aux_] = aux[:, 0].double().numpy() * self.y_scale_ + self.y_mean_
        return out
