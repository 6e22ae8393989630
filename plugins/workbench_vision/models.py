"""The ``hierarchical-cnn`` model (thesis §3.2.2.2), and sibling cells fitted in one pass.

A study cell trains one network with one ``label-hierarchy`` curriculum. The thesis' grid trains
eight curricula (two directions × K ∈ {0, 10, 20, 30}) on the *same* drawn training set for each
size and seed. The model declares ``fit_together = ("curriculum",)``: cells whose plans differ
only in their curriculum (same data, seed and network settings — ``seed_axes`` must leave the
curriculum axes out, which is the default) reach :meth:`HierarchicalCnnModel.fit_group`
together, and the model trains all their curricula in one batched pass (:mod:`.ensemble`).
The kernel records each member's epochs and results as its own cell, so the cells, their seeds,
results and figures are those of a study without sharing; only the time changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

import workbench
from workbench import Bundle, ComponentError, Model, Table, TargetInfo
from workbench_hierarchy.curriculum import INTERFACE, LabelHierarchy

from . import cifar_format

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .ensemble import CnnEnsemble, TrainingSettings

N_COARSE = len(cifar_format.COARSE_NAMES)
N_FINE = len(cifar_format.FINE_NAMES)


def as_images(inputs: Any) -> torch.Tensor:
    import torch

    try:
        images = np.asarray(inputs, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ComponentError(f"hierarchical-cnn needs images as a float array (n, 3, 32, 32); got {type(inputs).__name__} ({error})") from None
    if images.ndim != 4 or images.shape[1:] != (3, 32, 32):
        raise ComponentError(f"hierarchical-cnn needs images of shape (n, 3, 32, 32) (CIFAR); got {images.shape}. "
                             "Use the cifar100 dataset without a representation, or a representation that keeps images.")
    return torch.from_numpy(np.ascontiguousarray(images))


def array_digest(*arrays: np.ndarray) -> str:
    """sha256 over arrays' shapes, dtypes and bytes (without copying them)."""
    hasher = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        hasher.update(f"{array.shape}{array.dtype}".encode())
        hasher.update(memoryview(array).cast("B"))
    return hasher.hexdigest()


def member_id(curriculum: LabelHierarchy) -> str:
    p = curriculum.params
    return f"{p.direction}-K{p.mask_epochs}-c{p.coarse_weight:g}-f{p.fine_weight:g}"


class HierarchicalCnnModel(Model):
    name = "hierarchical-cnn"
    summary = "Two-block CNN (4096 features) with a coarse and a fine head, one head's prediction fed to the other (thesis §3.2)."
    tasks = frozenset({"classification"})
    curricula = frozenset({INTERFACE})
    frameworks = ("torch",)
    fit_together = ("curriculum",)

    class Params(workbench.Params):
        epochs: int = Field(default=30, ge=1, description="training epochs (thesis: 30)")
        batch_size: int = Field(default=16, ge=1, description="mini-batch size (thesis: 16)")
        learning_rate: float = Field(default=1e-3, gt=0, description="AdamW learning rate (PyTorch's default)")
        weight_decay: float = Field(default=0.01, ge=0, description="AdamW weight decay (PyTorch's default)")
        dropout: float = Field(default=0.2, ge=0, lt=1, description="dropout after each head's first layer (thesis: 0.2)")
        coarse_target: str = Field(default="coarse", description="target of the 20-class coarse head")
        fine_target: str = Field(default="fine", description="target of the 100-class fine head")
        device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="where to train: auto takes a GPU when there is one")
        stack_members: Literal["auto", "always", "never"] = Field(
            default="auto", description="sibling cells fitted together: train each direction's curricula as one vmapped ensemble "
                                        "('always'), one after another ('never'), or stacked on a GPU only ('auto': on the CPU "
                                        "stacking is not faster, see docs/results.md)")

    @classmethod
    def contract_params(cls) -> list[dict[str, Any]]:
        return [{"epochs": 1}, {"epochs": 2, "dropout": 0.5, "stack_members": "always"}]

    @classmethod
    def contract_bundle(cls, task: str, rng: np.random.Generator) -> tuple[Bundle, str] | None:
        def table(n: int, seed: int) -> Table:
            pixels, fine = cifar_format.synthetic_split(n, seed)
            images = (pixels.astype(np.float32) - 128.0) / 64.0
            return Table(images, {"coarse": cifar_format.COARSE_OF_FINE[fine], "fine": fine})

        targets = {"coarse": TargetInfo("classification", classes=cifar_format.COARSE_NAMES),
                   "fine": TargetInfo("classification", classes=cifar_format.FINE_NAMES, parent="coarse")}
        return Bundle(train=table(48, 1), validation=table(16, 2), evaluations={"test": table(16, 3)}, targets=targets), "coarse"

    def required_targets(self) -> frozenset[str]:
        return frozenset({self.params.coarse_target, self.params.fine_target})

    # -- fitting -------------------------------------------------------------------------------

    def settings(self) -> TrainingSettings:
        from .ensemble import TrainingSettings

        p = self.params
        return TrainingSettings(epochs=p.epochs, batch_size=p.batch_size, learning_rate=p.learning_rate,
                                weight_decay=p.weight_decay, dropout=p.dropout)

    def device(self) -> torch.device:
        import torch

        if self.params.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.params.device == "cuda" and not torch.cuda.is_available():
            raise ComponentError("hierarchical-cnn: device 'cuda' was asked for but no GPU is available; use device: auto or cpu")
        return torch.device(self.params.device)

    def _curriculum(self, context: workbench.CellContext) -> LabelHierarchy:
        """The cell's curriculum, checked against this network's reading of the hierarchy."""
        p = self.params
        own = context.curriculum if context.curriculum is not None else LabelHierarchy.default()
        if not isinstance(own, LabelHierarchy):
            raise ComponentError(f"hierarchical-cnn follows the {INTERFACE!r} curriculum; got {type(own).__name__}")
        # The curriculum's own reading of which head feeds which (from the targets' parent links)
        # must agree with this network's: the fine head is the 100-class one.
        aux = p.fine_target if context.target == p.coarse_target else p.coarse_target
        source, _ = own.heads(context.target, aux, dict(context.targets))
        expected = p.fine_target if own.params.direction == "fine-to-coarse" else p.coarse_target
        if source != expected:
            raise ComponentError(f"the curriculum ({own.params.direction}) would feed target {source!r}, but this network feeds "
                                 f"{expected!r}; check that target {p.fine_target!r} names {p.coarse_target!r} as its parent")
        return own

    def _data(self, train: Table, context: workbench.CellContext):
        import torch

        p = self.params
        if context.target not in (p.coarse_target, p.fine_target):
            raise ComponentError(f"hierarchical-cnn predicts {p.coarse_target!r} or {p.fine_target!r}, not {context.target!r}")
        for name, classes in ((p.coarse_target, N_COARSE), (p.fine_target, N_FINE)):
            if name not in train.targets:
                raise ComponentError(f"hierarchical-cnn trains on target {name!r}, which the training table lacks")
            info = context.targets.get(name)
            if info is not None and info.n_classes not in (None, classes):
                raise ComponentError(f"hierarchical-cnn's {name!r} head has {classes} classes; the target has {info.n_classes}")
        images = as_images(train.inputs)
        coarse = torch.as_tensor(np.asarray(train.targets[p.coarse_target], dtype=np.int64))
        fine = torch.as_tensor(np.asarray(train.targets[p.fine_target], dtype=np.int64))
        if self.device().type != "cpu":  # the whole training set moves once, not batch by batch
            images, coarse, fine = images.to(self.device()), coarse.to(self.device()), fine.to(self.device())
        seeds = context.derive_seed("hierarchical-cnn", "init"), context.derive_seed("hierarchical-cnn", "order")
        return images, coarse, fine, seeds

    def fit(self, train: Table, context: workbench.CellContext) -> None:
        own = self._curriculum(context)
        images, coarse, fine, (init_seed, order_seed) = self._data(train, context)
        state, history = self._train_alone(own, images, coarse, fine, init_seed, order_seed, context)
        self._keep(own, state, history, context)

    def fit_group(self, train: Table, contexts: Sequence[workbench.CellContext]) -> list[HierarchicalCnnModel]:
        """Train every sibling cell's curriculum in one pass over the shared training set."""
        curricula = [self._curriculum(context) for context in contexts]
        if len({member_id(c) for c in curricula}) < len(curricula):
            raise ComponentError("hierarchical-cnn: two sibling cells have the same curriculum; they cannot be told apart")
        images, coarse, fine, (init_seed, order_seed) = self._data(train, contexts[0])
        trained = self._train_group(curricula, images, coarse, fine, init_seed, order_seed, contexts)
        fitted = []
        for curriculum, context, (state, history) in zip(curricula, contexts, trained):
            model = HierarchicalCnnModel(self.params)
            model._keep(curriculum, state, history, context)
            fitted.append(model)
        return fitted

    def _keep(self, curriculum: LabelHierarchy, state: dict, history: list[dict[str, float]], context: workbench.CellContext) -> None:
        self.direction_ = curriculum.params.direction
        self.curriculum_ = curriculum
        self.state_ = state
        for epoch, row in enumerate(history, start=1):
            for metric, value in row.items():
                context.record(metric, value, step=epoch, step_name="epoch")

    def _progress(self, context: workbench.CellContext, total: int):
        bar = context.progress("training", total=total)
        pending = [0]
        chunk = max(1, total // 200)

        def on_batch(n: int) -> None:
            pending[0] += n
            if pending[0] >= chunk:
                bar.advance(pending[0])
                pending[0] = 0

        return bar, on_batch

    def _train_alone(self, own, images, coarse, fine, init_seed, order_seed, context):
        """One member, with per-epoch ``end_epoch`` and a checkpoint after every epoch."""
        from .ensemble import CnnEnsemble

        engine = CnnEnsemble(own.params.direction, [init_seed], [own], self.settings(), self.device())
        history: list[dict[str, float]] = []
        saved = context.load_checkpoint()
        if saved is not None and saved.get("kind") == "alone":
            engine.load_state_dict(saved["engine"])
            history = list(saved["history"])
        bar, on_batch = self._progress(context, self.params.epochs * len(images))
        with bar:
            bar.advance(engine.epochs_done * len(images))
            while engine.epochs_done < self.params.epochs:
                stats = engine.train_epoch(images, coarse, fine, order_seed, on_batch)
                history.append(epoch_row(stats, 0))
                context.end_epoch(engine.epochs_done, lambda table: self._predict_with(engine, 0, table))
                context.save_checkpoint({"kind": "alone", "engine": engine.state_dict(), "history": history})
        return engine.member_state(0), history

    def _train_group(self, curricula, images, coarse, fine, init_seed, order_seed, contexts):
        """Every member's final weights and history. Members are stacked per direction (or
        trained one after another); the first cell's checkpoint holds the pass's progress."""
        from .ensemble import CnnEnsemble

        stack = self.params.stack_members == "always" or (self.params.stack_members == "auto" and self.device().type == "cuda")
        passes: dict[str, list[int]] = {}
        for index, curriculum in enumerate(curricula):
            passes.setdefault(curriculum.params.direction if stack else member_id(curriculum), []).append(index)
        ids = [member_id(c) for c in curricula]
        lead = contexts[0]
        saved = lead.load_checkpoint()
        progress = saved if saved is not None and saved.get("kind") == "group" and saved.get("members") == ids else None
        done: dict[str, Any] = dict(progress["done"]) if progress is not None else {}
        bar, on_batch = self._progress(lead, self.params.epochs * len(images) * len(passes))
        with bar:
            for index, members in enumerate(passes.values()):
                if all(ids[m] in done for m in members):
                    bar.advance(self.params.epochs * len(images))
                    continue
                group = [curricula[m] for m in members]
                engine = CnnEnsemble(group[0].params.direction, [init_seed] * len(group), group, self.settings(), self.device())
                history: list[list[dict[str, float]]] = [[] for _ in group]
                if progress is not None and progress.get("pass") == index and progress.get("engine") is not None:
                    engine.load_state_dict(progress["engine"])
                    history = [list(h) for h in progress["history"]]
                bar.advance(engine.epochs_done * len(images))
                while engine.epochs_done < self.params.epochs:
                    stats = engine.train_epoch(images, coarse, fine, order_seed, on_batch)
                    for slot, member in enumerate(members):
                        history[slot].append(epoch_row(stats, slot))
                        contexts[member].end_epoch(engine.epochs_done, lambda table, _s=slot: self._predict_with(engine, _s, table))
                    lead.save_checkpoint({"kind": "group", "members": ids, "done": done, "pass": index,
                                          "engine": engine.state_dict(), "history": history})
                for slot, member in enumerate(members):
                    done[ids[member]] = {"state": engine.member_state(slot), "history": history[slot]}
                lead.save_checkpoint({"kind": "group", "members": ids, "done": done, "pass": index + 1, "engine": None, "history": None})
        return [(done[i]["state"], done[i]["history"]) for i in ids]

    # -- prediction --------------------------------------------------------------------------------

    def _predict_with(self, engine: CnnEnsemble, member: int, table: Table) -> dict[str, np.ndarray]:
        coarse, fine = engine.predict(as_images(table.inputs))
        return {self.params.coarse_target: coarse[member], self.params.fine_target: fine[member]}

    def predict(self, table: Table) -> dict[str, np.ndarray]:
        from .ensemble import CnnEnsemble

        if not hasattr(self, "state_"):
            raise ComponentError("hierarchical-cnn: predict() before fit()")
        engine = CnnEnsemble(self.direction_, [0], [self.curriculum_], self.settings(), self.device())
        engine.load_member_states([self.state_])
        engine.epochs_done = self.params.epochs
        return self._predict_with(engine, 0, table)


def epoch_row(stats: dict[str, np.ndarray], member: int) -> dict[str, float]:
    """The per-epoch training records of one member."""
    return {"train_loss": float(stats["loss"][member]), "train_coarse_loss": float(stats["coarse_loss"][member]),
            "train_fine_loss": float(stats["fine_loss"][member]), "fed_mean_abs": float(stats["fed_abs"][member])}
