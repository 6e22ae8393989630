"""The ``hierarchical-cnn`` model (thesis §3.2.2.2) and how sibling cells share one batched pass.

A study cell trains one network with one ``label-hierarchy`` curriculum. The thesis' grid trains
eight curricula (two directions × K ∈ {0, 10, 20, 30}) on the *same* drawn training set for each
size and seed. With ``ensemble_directions`` / ``ensemble_mask_epochs`` the model trains all those
variants together, as a vmapped ensemble (:mod:`.ensemble`), the first time any of the sibling
cells fits, and stores each member's final weights in the cache under a key made of everything
that determines them (training images and labels, seed, settings, members). Each sibling cell
then takes its own member's weights from there (and removes them: every member is used once).
The cells, their seeds, results and figures are exactly those of a study without sharing; only
the time changes. For siblings to share, they must draw the same training set and seed:
``seed_axes`` must leave the curriculum axes out (e.g. ``[replicate, train_size]``).
"""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

import workbench
from workbench import Bundle, ComponentError, Model, Table, TargetInfo
from workbench_hierarchy.curriculum import INTERFACE, LabelHierarchy

from . import cifar_format
from .ensemble import CnnEnsemble, TrainingSettings
from .network import N_COARSE, N_FINE

ENSEMBLE_NAMESPACE = "hierarchical-cnn-members"
ENSEMBLE_FORMAT = 1  # bump when what is stored for members changes


def as_images(inputs: Any) -> torch.Tensor:
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

    class Params(workbench.Params):
        epochs: int = Field(default=30, ge=1, description="training epochs (thesis: 30)")
        batch_size: int = Field(default=16, ge=1, description="mini-batch size (thesis: 16)")
        learning_rate: float = Field(default=1e-3, gt=0, description="AdamW learning rate (PyTorch's default)")
        weight_decay: float = Field(default=0.01, ge=0, description="AdamW weight decay (PyTorch's default)")
        dropout: float = Field(default=0.2, ge=0, lt=1, description="dropout after each head's first layer (thesis: 0.2)")
        coarse_target: str = Field(default="coarse", description="target of the 20-class coarse head")
        fine_target: str = Field(default="fine", description="target of the 100-class fine head")
        ensemble_directions: list[Literal["fine-to-coarse", "coarse-to-fine"]] = Field(
            default_factory=list, description="curriculum directions trained together with this cell's (sibling cells); "
                                              "empty: only this cell's")
        ensemble_mask_epochs: list[int | Literal["all"]] = Field(
            default_factory=list, description="curriculum mask epochs K trained together with this cell's; empty: only this cell's")
        device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="where to train: auto takes a GPU when there is one")
        stack_members: Literal["auto", "always", "never"] = Field(
            default="auto", description="train the shared pass's members as one vmapped ensemble per direction ('always'), "
                                        "one after another ('never'), or stacked on a GPU only ('auto': on the CPU stacking "
                                        "is not faster, see docs/results.md)")

    @classmethod
    def contract_params(cls) -> list[dict[str, Any]]:
        return [{"epochs": 1}, {"epochs": 2, "ensemble_mask_epochs": [0, 1], "dropout": 0.5, "stack_members": "always"}]

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
        p = self.params
        return TrainingSettings(epochs=p.epochs, batch_size=p.batch_size, learning_rate=p.learning_rate,
                                weight_decay=p.weight_decay, dropout=p.dropout)

    def device(self) -> torch.device:
        if self.params.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.params.device == "cuda" and not torch.cuda.is_available():
            raise ComponentError("hierarchical-cnn: device 'cuda' was asked for but no GPU is available; use device: auto or cpu")
        return torch.device(self.params.device)

    def members(self, own: LabelHierarchy) -> list[LabelHierarchy]:
        """The curricula trained in this cell's pass: the product of the ensemble lists (each
        defaulting to this cell's own value), with this cell's loss weights."""
        p = self.params
        directions = p.ensemble_directions or [own.params.direction]
        ks = p.ensemble_mask_epochs or [own.params.mask_epochs]
        members = [own.__class__(own.params.model_copy(update={"direction": d, "mask_epochs": k}))
                   for d, k in itertools.product(dict.fromkeys(directions), dict.fromkeys(ks))]
        if member_id(own) not in [member_id(m) for m in members]:
            raise ComponentError(
                f"this cell's curriculum ({own.params.direction}, mask_epochs {own.params.mask_epochs}) is not among the "
                f"ensemble the model trains (directions {directions}, mask_epochs {ks}); add it to ensemble_directions / "
                "ensemble_mask_epochs, or empty those lists")
        return members

    def fit(self, train: Table, context: workbench.CellContext) -> None:
        p = self.params
        if context.target not in (p.coarse_target, p.fine_target):
            raise ComponentError(f"hierarchical-cnn predicts {p.coarse_target!r} or {p.fine_target!r}, not {context.target!r}")
        for name, classes in ((p.coarse_target, N_COARSE), (p.fine_target, N_FINE)):
            if name not in train.targets:
                raise ComponentError(f"hierarchical-cnn trains on target {name!r}, which the training table lacks")
            info = context.targets.get(name)
            if info is not None and info.n_classes not in (None, classes):
                raise ComponentError(f"hierarchical-cnn's {name!r} head has {classes} classes; the target has {info.n_classes}")
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
        images = as_images(train.inputs)
        coarse = torch.as_tensor(np.asarray(train.targets[p.coarse_target], dtype=np.int64))
        fine = torch.as_tensor(np.asarray(train.targets[p.fine_target], dtype=np.int64))
        digest = array_digest(images.numpy(), coarse.numpy(), fine.numpy())
        if self.device().type != "cpu":  # the whole training set moves once, not batch by batch
            images, coarse, fine = images.to(self.device()), coarse.to(self.device()), fine.to(self.device())
        members = self.members(own)
        init_seed = context.derive_seed("hierarchical-cnn", "init")
        order_seed = context.derive_seed("hierarchical-cnn", "order")
        if len(members) == 1:
            state, history = self._train_alone(own, images, coarse, fine, init_seed, order_seed, context)
        else:
            state, history = self._member_from_shared_pass(own, members, images, coarse, fine, init_seed, order_seed, context, digest)
        self.direction_ = own.params.direction
        self.curriculum_ = own
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

    def _member_from_shared_pass(self, own, members, images, coarse, fine, init_seed, order_seed, context, digest: str):
        key = {
            "format": ENSEMBLE_FORMAT,
            "settings": self.settings().__dict__,
            "members": [m.params.model_dump(mode="json") for m in members],
            "init_seed": init_seed,
            "order_seed": order_seed,
            "device": self.device().type,
            "train": digest,
        }
        entry = context.cache.entry(ENSEMBLE_NAMESPACE, key)
        mine = entry / f"{member_id(own)}.pt"
        with context.cache.locked(entry):
            if not mine.exists():
                context.log.info("training %d curricula together (%s)", len(members), ", ".join(map(member_id, members)))
                self._train_shared(members, images, coarse, fine, init_seed, order_seed, context, entry)
            else:
                context.log.info("taking this cell's member from the shared pass in %s", entry)
            saved = torch.load(mine, weights_only=False)
            mine.unlink()  # each member is used by exactly one cell; a later run retrains the pass
        return saved["state"], saved["history"]

    def _train_shared(self, members, images, coarse, fine, init_seed, order_seed, context, entry: Path) -> None:
        stack = self.params.stack_members == "always" or (self.params.stack_members == "auto" and self.device().type == "cuda")
        groups: dict[str, list[LabelHierarchy]] = {}
        for member in members:
            groups.setdefault(member.params.direction if stack else member_id(member), []).append(member)
        saved = context.load_checkpoint()
        progress = saved if saved is not None and saved.get("kind") == "shared" and saved.get("entry") == entry.name else None
        bar, on_batch = self._progress(context, self.params.epochs * len(images) * len(groups))
        entry.mkdir(parents=True, exist_ok=True)
        with bar:
            for index, curricula in enumerate(groups.values()):
                direction = curricula[0].params.direction
                engine = CnnEnsemble(direction, [init_seed] * len(curricula), curricula, self.settings(), self.device())
                history: list[list[dict[str, float]]] = [[] for _ in curricula]
                if progress is not None and progress["group"] == index:
                    engine.load_state_dict(progress["engine"])
                    history = progress["history"]
                elif progress is not None and progress["group"] > index and all(
                        (entry / f"{member_id(c)}.pt").exists() for c in curricula):
                    bar.advance(self.params.epochs * len(images))
                    continue  # this direction's members were written before the interruption
                bar.advance(engine.epochs_done * len(images))
                while engine.epochs_done < self.params.epochs:
                    stats = engine.train_epoch(images, coarse, fine, order_seed, on_batch)
                    for m in range(len(curricula)):
                        history[m].append(epoch_row(stats, m))
                    context.save_checkpoint({"kind": "shared", "entry": entry.name, "group": index,
                                             "engine": engine.state_dict(), "history": history})
                for m, curriculum in enumerate(curricula):
                    target = entry / f"{member_id(curriculum)}.pt"
                    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
                    torch.save({"state": engine.member_state(m), "history": history[m]}, tmp)
                    tmp.replace(target)
                context.save_checkpoint({"kind": "shared", "entry": entry.name, "group": index + 1, "engine": None, "history": None})
        context.clear_checkpoint()  # every member is in the cache now; the checkpoint has served

    # -- prediction --------------------------------------------------------------------------------

    def _predict_with(self, engine: CnnEnsemble, member: int, table: Table) -> dict[str, np.ndarray]:
        coarse, fine = engine.predict(as_images(table.inputs))
        return {self.params.coarse_target: coarse[member], self.params.fine_target: fine[member]}

    def predict(self, table: Table) -> dict[str, np.ndarray]:
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
