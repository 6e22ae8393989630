"""A directory of expensive intermediates (simulations, pretrained encoders, fingerprints,
downloads), each stored under a digest of what produced it.

The root is, in order: the ``--cache-dir`` flag, ``$WORKBENCH_CACHE_DIR``, the user cache
directory (``platformdirs``: ``$XDG_CACHE_HOME/workbench`` or ``~/.cache/workbench`` on Linux).

Keys hold the parameters that produced an entry *and* the content of its inputs: put
``context.data.digest(path)`` of every file read into the key, so a changed data file never
reuses a stale entry. Entries are written atomically and guarded by a file lock, so parallel
cells never compute the same entry twice and an interrupted computation leaves nothing behind.
Every entry carries the sha256 of its content; an entry that no longer matches (truncated,
damaged, edited) is reported in the log, deleted and recomputed — never trusted.

Locks are ``filelock`` locks (``flock`` on POSIX). They work on local disks and on cluster
filesystems that support ``flock`` (NFSv4; Lustre and GPFS mounted with locking). Where the
filesystem does not, set ``WORKBENCH_CACHE_LOCK=soft``: lock files whose existence is the lock
(portable, but a crashed process leaves its lock behind until it is older than
``WORKBENCH_CACHE_LOCK_STALE`` seconds, default 6 hours).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .errors import WorkbenchError

CACHE_ENV = "WORKBENCH_CACHE_DIR"
LOCK_ENV = "WORKBENCH_CACHE_LOCK"
STALE_ENV = "WORKBENCH_CACHE_LOCK_STALE"
MANIFEST = "manifest.json"
log = logging.getLogger("workbench.cache")


def default_cache_root() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("workbench", appauthor=False))


def canonical_json(obj: Any) -> str:
    """The JSON text a key is hashed from: sorted keys, pydantic models and arrays expanded."""

    # Study validation digests every cell's plan: plain values return at once. Keys are made
    # strings here and sorted by json.dumps.
    plain = (str, int, float, bool, type(None))

    def convert(value: Any) -> Any:
        if type(value) in plain:
            return value
        if isinstance(value, (dict, Mapping)):  # dict first: a plain dict skips the ABC check
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if hasattr(value, "model_dump"):
            return convert(value.model_dump(mode="json"))
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


def file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


_file_digests: dict[tuple[str, int, int], str] = {}


def content_digest(path: Path | str) -> str:
    """sha256 of a file's content, remembered per (path, size, modification time) so a file is
    read once per process."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _file_digests:
        _file_digests[key] = file_sha256(path)
    return _file_digests[key]


class Cache:
    """Content- and parameter-keyed storage under one root directory."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root).expanduser() if root is not None else default_cache_root()

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    def check_writable(self) -> None:
        """Refuse, with the fix, a cache directory this process cannot write."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise WorkbenchError(f"the cache directory {self.root} is not writable ({error.strerror or error}). "
                                 f"Choose another with --cache-dir or ${CACHE_ENV}.") from None

    def entry(self, namespace: str, key: Mapping[str, Any]) -> Path:
        """The path reserved for ``key`` in ``namespace`` (it may not exist yet)."""
        return self.root / namespace / digest(key)

    @contextmanager
    def locked(self, path: Path) -> Iterator[None]:
        """Hold an exclusive lock on ``path`` (usually an :meth:`entry`) across processes and
        machines sharing the cache, so that concurrent cells compute a shared intermediate once."""
        import filelock

        path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = path.with_name(path.name + ".lock")
        if os.environ.get(LOCK_ENV, "") == "soft":
            _break_stale(lock_path)
            lock: Any = filelock.SoftFileLock(lock_path)
        else:
            lock = filelock.FileLock(lock_path)
        with lock:
            yield

    def arrays(
        self,
        namespace: str,
        key: Mapping[str, Any],
        compute: Callable[[], Mapping[str, np.ndarray]],
    ) -> dict[str, np.ndarray]:
        """Arrays stored for ``key``, computing and storing them first if absent or damaged."""
        path = self.entry(namespace, key).with_suffix(".npz")
        checksum = path.with_suffix(".sha256")
        with self.locked(path):
            if path.exists():
                stored = self._read_arrays(path, checksum)
                if stored is not None:
                    return stored
            result = {k: np.asarray(v) for k, v in compute().items()}
            atomic.write_npz(path, result)
            atomic.write_text(checksum, file_sha256(path) + "\n")
            atomic.write_text(path.with_suffix(".key.json"), canonical_json(key) + "\n")
            return result

    @staticmethod
    def _read_arrays(path: Path, checksum: Path) -> dict[str, np.ndarray] | None:
        try:
            expected = checksum.read_text().strip()
            if file_sha256(path) != expected:
                raise ValueError("its content does not match the checksum stored with it")
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
            log.warning("cache entry %s is damaged (%s); recomputing it", path, error)
            path.unlink(missing_ok=True)
            checksum.unlink(missing_ok=True)
            return None

    def directory(self, namespace: str, key: Mapping[str, Any], build: Callable[[Path], None]) -> Path:
        """A directory stored for ``key``; ``build(scratch_dir)`` fills it the first time (and
        again if the stored one is damaged)."""
        path = self.entry(namespace, key)
        with self.locked(path):
            if path.exists() and not _directory_intact(path):
                log.warning("cache entry %s is damaged or incomplete; rebuilding it", path)
                shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                with atomic.directory(path) as scratch:
                    build(scratch)
                    atomic.write_text(scratch / "key.json", canonical_json(key) + "\n")
                    files = {str(p.relative_to(scratch)): file_sha256(p) for p in sorted(scratch.rglob("*")) if p.is_file()}
                    atomic.write_text(scratch / MANIFEST, json.dumps(files, indent=1) + "\n")
            return path


def _directory_intact(path: Path) -> bool:
    """Whether every file listed in the directory's manifest is there with its checksum."""
    try:
        files = json.loads((path / MANIFEST).read_text())
        return isinstance(files, dict) and all(file_sha256(path / name) == sha for name, sha in files.items())
    except (OSError, ValueError):
        return False


def _break_stale(lock_path: Path) -> None:
    """A soft lock left behind by a crashed process is removed once it is old enough."""
    stale_after = float(os.environ.get(STALE_ENV, 6 * 3600))
    try:
        if time.time() - lock_path.stat().st_mtime > stale_after:
            log.warning("removing stale cache lock %s (older than %.0f s)", lock_path, stale_after)
            lock_path.unlink(missing_ok=True)
    except OSError:
        pass
