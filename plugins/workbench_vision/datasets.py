"""The CIFAR-100 dataset (thesis §3.2.2.1): 50,000 training images; the 10,000 official test
images split, with a fixed seed, into validation and test halves."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

import workbench
from workbench import Bundle, Dataset, Download, Table, TargetInfo

from . import cifar_format
from .cifar_format import ARCHIVE, FOLDER, MD5, URL

HOW_TO_GET = (
    f"Download the CIFAR-100 python version, {URL} (161 MB, md5 {MD5}), and put the file "
    f"{ARCHIVE} (or the folder {FOLDER}/ it unpacks to) in the folder cifar100/ of the data "
    f"directory, i.e. at $WORKBENCH_DATA_DIR/cifar100/{ARCHIVE}; or give its path as the "
    "dataset's `path` parameter. workbench downloads it itself when the machine is online."
)
CANDIDATES = (f"cifar100/{ARCHIVE}", f"cifar100/{FOLDER}", ARCHIVE, FOLDER)
DECODER_VERSION = 1  # bump when the decoded arrays change, so cached entries are rebuilt


def _source_key(path: Path) -> dict[str, Any]:
    """What identifies the files read: their resolved paths, sizes and modification times."""
    files = [path] if path.is_file() else sorted(p for p in (path / FOLDER if (path / FOLDER).is_dir() else path).iterdir() if p.is_file())
    return {"decoder": DECODER_VERSION,
            "files": [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files]}


class Cifar100(Dataset):
    name = "cifar100"
    summary = "CIFAR-100 (official python archive): 32×32 colour images with 20 coarse and 100 fine labels."

    class Params(workbench.Params):
        path: str | None = Field(default=None, description=f"the {ARCHIVE} archive or the extracted {FOLDER}/ folder "
                                                           "(default: looked up in the data directory, the cache, then downloaded)")
        md5: str | None = Field(default=MD5, description="md5 the archive must have (the official one); null accepts any archive "
                                                         "in the official format, e.g. a generated test archive")
        validation_fraction: float = Field(default=0.5, ge=0.0, lt=1.0, description="fraction of the official test images used "
                                                                                      "for validation; the rest is the test set (thesis: 0.5)")
        split_seed: int = Field(default=0, description="seed of the validation/test split (fixed, so every cell shares one test set)")
        normalise: bool = Field(default=True, description="scale pixels by the training images' per-channel mean and std "
                                                          "(else to [0, 1])")

    @classmethod
    def contract_params(cls) -> list[dict[str, Any]]:
        # A tiny generated archive in the official format, so the contract runs without the data.
        folder = Path(tempfile.gettempdir()) / "workbench-vision-contract"
        archive = folder / ARCHIVE
        if not archive.exists():
            cifar_format.write_archive(folder / f".{ARCHIVE}.{os.getpid()}.tmp", n_train=120, n_test=40, seed=3).replace(archive)
        return [{"path": str(archive), "md5": None}]

    def describe_targets(self) -> dict[str, TargetInfo]:
        return {
            "coarse": TargetInfo("classification", classes=cifar_format.COARSE_NAMES, description="the 20 superclasses"),
            "fine": TargetInfo("classification", classes=cifar_format.FINE_NAMES, parent="coarse",
                               description="the 100 classes, five per superclass"),
        }

    def locate(self, context: workbench.CellContext) -> Path:
        p = self.params
        explicit = context.resolve_path(p.path) if p.path is not None else None
        return context.data.find("CIFAR-100", CANDIDATES, explicit=explicit, md5=p.md5,
                                 download=Download(URL, ARCHIVE, md5=MD5), how_to_get=HOW_TO_GET)

    def decoded(self, context: workbench.CellContext) -> dict[str, np.ndarray]:
        """The archive's arrays (uint8 images, int labels), decoded once and kept in the cache."""
        source = self.locate(context)
        return context.cache.arrays("cifar100-decoded", _source_key(source), lambda: cifar_format.read_cifar100(source))

    def load(self, context: workbench.CellContext) -> Bundle:
        p = self.params
        arrays = self.decoded(context)
        train_pixels = arrays["train_images"]
        if p.normalise:
            mean = train_pixels.mean(axis=(0, 2, 3), dtype=np.float64)
            std = train_pixels.std(axis=(0, 2, 3), dtype=np.float64)
        else:
            mean, std = np.zeros(3), np.full(3, 255.0)
        scale = (1.0 / std).astype(np.float32)[None, :, None, None]
        offset = mean.astype(np.float32)[None, :, None, None]

        def table(split: str, indices: np.ndarray) -> Table:
            images = (arrays[f"{split}_images"][indices].astype(np.float32) - offset) * scale
            return Table(
                inputs=images,
                targets={"coarse": arrays[f"{split}_coarse"][indices], "fine": arrays[f"{split}_fine"][indices]},
                samples=pd.DataFrame({"official_split": split, "official_index": indices}),
            )

        n_test = len(arrays["test_fine"])
        order = np.random.default_rng(p.split_seed).permutation(n_test)
        n_validation = int(round(p.validation_fraction * n_test))
        validation = table("test", np.sort(order[:n_validation])) if n_validation else None
        return Bundle(
            train=table("train", np.arange(len(arrays["train_fine"]))),
            validation=validation,
            evaluations={"test": table("test", np.sort(order[n_validation:]))},
            targets=self.describe_targets(),
            description=f"CIFAR-100 from {self.locate(context).name}",
        )
