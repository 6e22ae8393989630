"""The official CIFAR-100 "python version" format: reading it safely, and writing small archives
in exactly that format (for tests, contract checks and the quick study).

The archive ``cifar-100-python.tar.gz`` unpacks to a folder ``cifar-100-python/`` holding three
pickles (written by Python 2, so their dict keys are bytes):

- ``train`` / ``test``: ``b'data'`` a ``(N, 3072)`` uint8 array, each row the red, green and blue
  32×32 planes in row-major order; ``b'fine_labels'`` and ``b'coarse_labels'`` lists of ints;
  ``b'filenames'``, ``b'batch_label'``.
- ``meta``: ``b'fine_label_names'`` (100) and ``b'coarse_label_names'`` (20), as byte strings.

Pickles can run code when loaded, so they are read with an unpickler that only rebuilds numpy
arrays and plain containers: a tampered archive fails instead of executing anything.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from workbench import DataCorruptError

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
ARCHIVE = "cifar-100-python.tar.gz"
FOLDER = "cifar-100-python"
MD5 = "eb9058c3a382ffc7106e4002c42a8d85"
SPLITS = ("train", "test")
IMAGE_SHAPE = (3, 32, 32)

COARSE_NAMES: tuple[str, ...] = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
    "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2",
)
"""The 20 superclasses, in the order of ``meta[b'coarse_label_names']`` (label i is name i)."""

SUPERCLASS_MEMBERS: dict[str, tuple[str, ...]] = {
    "aquatic_mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food_containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit_and_vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household_electrical_devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household_furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large_carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large_man-made_outdoor_things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large_natural_outdoor_scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large_omnivores_and_herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium_mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect_invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small_mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles_1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles_2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}

FINE_NAMES: tuple[str, ...] = tuple(sorted(name for members in SUPERCLASS_MEMBERS.values() for name in members))
"""The 100 classes, in the order of ``meta[b'fine_label_names']`` (alphabetical)."""

COARSE_OF_FINE: np.ndarray = np.array(
    [next(COARSE_NAMES.index(c) for c, members in SUPERCLASS_MEMBERS.items() if f in members) for f in FINE_NAMES], dtype=np.int64
)
"""CIFAR-100's own hierarchy: the superclass of each fine class."""

assert len(FINE_NAMES) == 100 and len(set(FINE_NAMES)) == 100 and len(COARSE_NAMES) == 20


# -- reading -----------------------------------------------------------------------------------

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("copy_reg", "_reconstructor"),
    ("copyreg", "_reconstructor"),
    ("__builtin__", "object"),
    ("builtins", "object"),
    ("_codecs", "encode"),  # how Python 3 writes bytes in protocol-2 pickles; encodes text only
}


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and builtin containers, nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of the CIFAR-100 format")


def _unpickle(raw: bytes, what: str) -> dict[bytes, Any]:
    try:
        obj = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as error:
        raise DataCorruptError(f"{what} is not a CIFAR-100 pickle ({type(error).__name__}: {error}); "
                               f"replace it with the original from {URL}") from None
    if not isinstance(obj, dict):
        raise DataCorruptError(f"{what} holds a {type(obj).__name__}, not the dict of the CIFAR-100 format")
    return obj


def _read_members(source: Path) -> dict[str, bytes]:
    """The raw bytes of ``train``, ``test`` and ``meta`` from the archive or extracted folder."""
    names = (*SPLITS, "meta")
    if source.is_dir():
        folder = source / FOLDER if (source / FOLDER).is_dir() else source
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise DataCorruptError(f"{folder} lacks {', '.join(missing)}: a complete extracted {FOLDER}/ folder holds train, test and meta")
        return {n: (folder / n).read_bytes() for n in names}
    try:
        with tarfile.open(source, "r:*") as archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile() and Path(m.name).parent.name == FOLDER}
            missing = [n for n in names if n not in members]
            if missing:
                raise DataCorruptError(f"{source} lacks {', '.join(f'{FOLDER}/{n}' for n in missing)}; it is not the CIFAR-100 python archive ({URL})")
            return {n: archive.extractfile(members[n]).read() for n in names}
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise DataCorruptError(f"{source} is not a readable tar.gz archive ({error}); download it again from {URL}") from None


def read_cifar100(source: Path) -> dict[str, np.ndarray]:
    """Decoded arrays: ``{split}_images`` uint8 ``(N, 3, 32, 32)``, ``{split}_fine``,
    ``{split}_coarse`` int64, for split in train/test. Checks the format as it goes."""
    raw = _read_members(source)
    meta = _unpickle(raw["meta"], f"{source}: meta")
    fine_names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(b"fine_label_names", ()))
    coarse_names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(b"coarse_label_names", ()))
    if fine_names != FINE_NAMES or coarse_names != COARSE_NAMES:
        raise DataCorruptError(f"{source}: the class names in meta are not CIFAR-100's 100 fine and 20 coarse classes; "
                               f"this is a different data set (CIFAR-100 is {URL})")
    out: dict[str, np.ndarray] = {}
    for split in SPLITS:
        batch = _unpickle(raw[split], f"{source}: {split}")
        try:
            data = np.asarray(batch[b"data"])
            fine = np.asarray(batch[b"fine_labels"], dtype=np.int64)
            coarse = np.asarray(batch[b"coarse_labels"], dtype=np.int64)
        except KeyError as error:
            raise DataCorruptError(f"{source}: {split} lacks the key {error.args[0]!r} of the CIFAR-100 format") from None
        n = len(data)
        if data.dtype != np.uint8 or data.shape != (n, int(np.prod(IMAGE_SHAPE))) or fine.shape != (n,) or coarse.shape != (n,):
            raise DataCorruptError(f"{source}: {split} has data {data.dtype}{data.shape}, {len(fine)} fine and {len(coarse)} coarse "
                                   "labels; expected uint8 (N, 3072) and N labels of each")
        if fine.min(initial=0) < 0 or fine.max(initial=0) >= 100 or coarse.min(initial=0) < 0 or coarse.max(initial=0) >= 20:
            raise DataCorruptError(f"{source}: {split} has labels outside 0..99 (fine) or 0..19 (coarse)")
        if not np.array_equal(COARSE_OF_FINE[fine], coarse):
            raise DataCorruptError(f"{source}: {split} pairs some fine labels with the wrong superclass; the file is damaged")
        out[f"{split}_images"] = data.reshape((n, *IMAGE_SHAPE))
        out[f"{split}_fine"] = fine
        out[f"{split}_coarse"] = coarse
    return out


# -- writing (small archives in the official format) ------------------------------------------


def synthetic_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` labelled images that a small CNN can learn: every fine class has its own colour
    pattern (a per-class mean image) plus pixel noise. Returns uint8 ``(n, 3, 32, 32)`` and the
    fine labels (every class present when ``n >= 100``)."""
    rng = np.random.default_rng(seed)
    prototypes = np.random.default_rng(12345).uniform(40, 215, size=(100, 3, 4, 4))
    fine = np.arange(n) % 100
    rng.shuffle(fine)
    means = np.repeat(np.repeat(prototypes[fine], 8, axis=2), 8, axis=3)  # 4×4 blocks of 8×8 pixels
    images = np.clip(means + rng.normal(0, 25, size=means.shape), 0, 255).astype(np.uint8)
    return images, fine.astype(np.int64)


def write_archive(path: Path | str, n_train: int = 500, n_test: int = 200, seed: int = 0,
                  images: dict[str, tuple[np.ndarray, np.ndarray]] | None = None, folder: bool = False) -> Path:
    """Write a CIFAR-100 archive (``.tar.gz``), or with ``folder`` the extracted folder, in
    exactly the official layout, from ``images`` (``split -> (uint8 images (N,3,32,32), fine
    labels)``) or from :func:`synthetic_split`. Returns the path written."""
    path = Path(path)
    if images is None:
        images = {"train": synthetic_split(n_train, seed), "test": synthetic_split(n_test, seed + 1)}
    payload: dict[str, bytes] = {
        "meta": pickle.dumps({b"fine_label_names": [n.encode() for n in FINE_NAMES],
                              b"coarse_label_names": [n.encode() for n in COARSE_NAMES]}, protocol=2),
    }
    for split in SPLITS:
        pixels, fine = images[split]
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        fine = np.asarray(fine, dtype=np.int64)
        payload[split] = pickle.dumps({
            b"filenames": [f"synthetic_{i}.png".encode() for i in range(len(fine))],
            b"batch_label": f"{split}ing batch 1 of 1".encode(),
            b"fine_labels": fine.tolist(),
            b"coarse_labels": COARSE_OF_FINE[fine].tolist(),
            b"data": pixels.reshape(len(fine), -1),
        }, protocol=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        path.mkdir(parents=True, exist_ok=True)
        for name, raw in payload.items():
            (path / name).write_bytes(raw)
        return path
    with tarfile.open(path, "w:gz") as archive:
        for name, raw in payload.items():
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
    return path


def main(argv: list[str] | None = None) -> None:
    """``python -m workbench_vision.cifar_format PATH [N_TRAIN N_TEST]``: write a small synthetic
    archive in the official format (for the quick study; it is not CIFAR-100)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or len(args) > 3:
        raise SystemExit("usage: python -m workbench_vision.cifar_format PATH [N_TRAIN N_TEST]")
    n_train, n_test = (int(args[1]), int(args[2])) if len(args) == 3 else (400, 400)
    print(write_archive(args[0], n_train=n_train, n_test=n_test))


if __name__ == "__main__":
    main()
