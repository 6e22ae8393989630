"""A directory of expensive intermediates (simulations, pretrained encoders, fingerprints,
downloads), each stored under a digest of the parameters that produced it.

The root is, in order: the ``--cache-dir`` flag, ``$WORKBENCH_CACHE_DIR``,
``$XDG_CACHE_HOME/workbench``, ``~/.cache/workbench``. Entries are written atomically and
guarded by a file lock, so parallel cells never compute the same entry twice and an
interrupted computation leaves nothing behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic

CACHE_ENV = "WORKBENCH_CACHE_DIR"


def default_cache_root() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "workbench"


def canonical_json(obj: Any) -> str:
    """The JSON text a key is hashed from: sorted keys, pydantic models and arrays expanded."""

    def convert(value: Any) -> Any:
        if hasattr(value, "model_dump"):
            return convert(value.model_dump(mode="json"))
        if isinstance(value, Mapping):
            return {str(k): convert(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if isinstance(value, np.ndarray):
            return {"__array_sha256__": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest(),
                    "shape": list(value.shape), "dtype": str(value.dtype)}
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, Path):
            return str(value)
        return value

    return json.dumps(convert(obj), sort_keys=True, separators=(",", ":"))


def digest(obj: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


class Cache:
    """Parameter-keyed storage under one root directory."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root).expanduser() if root is not None else default_cache_root()

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    def entry(self, namespace: str, key: Mapping[str, Any]) -> Path:
        """The path reserved for ``key`` in ``namespace`` (it may not exist yet)."""
        return self.root / namespace / digest(key)

    @contextmanager
    def locked(self, path: Path) -> Iterator[None]:
        """Hold an exclusive lock on ``path`` (usually an :meth:`entry`) across processes, so
        that concurrent cells compute a shared intermediate once."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def arrays(
        self,
        namespace: str,
        key: Mapping[str, Any],
        compute: Callable[[], Mapping[str, np.ndarray]],
    ) -> dict[str, np.ndarray]:
        """Arrays stored for ``key``, computing and storing them first if absent."""
        path = self.entry(namespace, key).with_suffix(".npz")
        with self.locked(path):
            if path.exists():
                try:
                    with np.load(path, allow_pickle=False) as stored:
                        return {name: stored[name] for name in stored.files}
                except (OSError, ValueError):
                    path.unlink()  # a damaged entry is recomputed, never trusted
            result = {k: np.asarray(v) for k, v in compute().items()}
            atomic.write_npz(path, result)
            atomic.write_text(path.with_suffix(".key.json"), canonical_json(key) + "\n")
            return result

    def directory(self, namespace: str, key: Mapping[str, Any], build: Callable[[Path], None]) -> Path:
        """A directory stored for ``key``; ``build(scratch_dir)`` fills it the first time."""
        path = self.entry(namespace, key)
        with self.locked(path):
            if not path.exists():
                with atomic.directory(path) as scratch:
                    build(scratch)
                    atomic.write_text(scratch / "key.json", canonical_json(key) + "\n")
            return path
