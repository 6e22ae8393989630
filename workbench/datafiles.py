"""Finding a dataset's files: explicit path, data directory, cache, checksummed download.

Datasets call :meth:`DataLocator.find`; when nothing is found the user gets one paragraph
saying which file is missing, every place that was tried, and where to put it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .cache import Cache, content_digest
from .errors import DataCorruptError, DataNotFoundError

DATA_ENV = "WORKBENCH_DATA_DIR"
OFFLINE_ENV = "WORKBENCH_OFFLINE"


@dataclass(frozen=True)
class Download:
    """A file's canonical source and the checksum that proves a copy is the real one."""

    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None


def file_checksum(path: Path, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def verify_checksum(path: Path, *, sha256: str | None = None, md5: str | None = None) -> None:
    """Raise :class:`DataCorruptError` unless ``path`` has the given checksum(s)."""
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected is None:
            continue
        actual = content_digest(path) if algorithm == "sha256" else file_checksum(path, algorithm)
        if actual.lower() != expected.lower():
            raise DataCorruptError(
                f"{path} does not have the expected {algorithm} checksum (expected {expected}, "
                f"found {actual}). The file is damaged or a different version: delete it and "
                "put the original file in its place."
            )


class DataLocator:
    """Looks for data files in the places a user may have put them."""

    def __init__(self, data_dir: Path | str | None = None, cache: Cache | None = None, offline: bool | None = None):
        if data_dir is None and os.environ.get(DATA_ENV):
            data_dir = os.environ[DATA_ENV]
        self.data_dir = Path(data_dir).expanduser() if data_dir else None
        self.cache = cache if cache is not None else Cache()
        self.offline = offline if offline is not None else os.environ.get(OFFLINE_ENV, "") not in ("", "0")
        self.files_read: dict[str, str] = {}
        """Every data file found (or digested) for this cell, with its sha256: the provenance
        that goes into the cell's result."""

    def digest(self, path: Path | str) -> str:
        """sha256 of a data file (or of every file of a folder, in order), recorded as read. Put
        it into cache keys so that an entry built from other data is never reused."""
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            combined = hashlib.sha256("".join(f"{p.relative_to(path)}:{self.digest(p)}\n" for p in files).encode()).hexdigest()
            return combined
        sha = content_digest(path)
        self.files_read[str(path.resolve())] = sha
        return sha

    @property
    def download_dir(self) -> Path:
        return self.cache.root / "data"

    def find(
        self,
        dataset: str,
        candidates: Sequence[str],
        *,
        explicit: Path | str | None = None,
        download: Download | None = None,
        sha256: str | None = None,
        md5: str | None = None,
        how_to_get: str = "",
    ) -> Path:
        """The first existing file among: ``explicit``; each of ``candidates`` (paths relative
        to a data directory laid out like ``shared/data``) under the data directory, then under
        the cache's ``data/``; then ``download`` into the cache. A file found is checked
        against ``sha256``/``md5`` when given (a download against its own checksum)."""
        tried: list[str] = []
        if explicit is not None:
            path = Path(explicit).expanduser()
            if path.exists():
                if path.is_file():
                    verify_checksum(path, sha256=sha256, md5=md5)
                self.digest(path)
                return path
            raise DataNotFoundError(
                f"The {dataset} dataset: the path given in the study, {path}, does not exist. "
                "Fix the path, or remove it to let workbench look in the data directory "
                f"(${DATA_ENV} or --data-dir)."
            )
        roots = [r for r in (self.data_dir, self.download_dir) if r is not None]
        for root in roots:
            for candidate in candidates:
                path = root / candidate
                tried.append(str(path))
                if path.exists():
                    if path.is_file():
                        verify_checksum(path, sha256=sha256, md5=md5)
                    self.digest(path)
                    return path
        if download is not None:
            target = self.download_dir / download.filename
            if self.offline:
                tried.append(f"download from {download.url} (skipped: ${OFFLINE_ENV} is set)")
            else:
                try:
                    found = self._download(download, target)
                    self.digest(found)
                    return found
                except DataCorruptError:
                    raise
                except Exception as error:  # network errors of any kind: say so and where to put the file
                    tried.append(f"download from {download.url} (failed: {type(error).__name__}: {error})")
        where = self.data_dir / candidates[0] if self.data_dir is not None else f"${DATA_ENV}/{candidates[0]}"
        lines = [
            f"The {dataset} dataset was not found.",
            "Looked in: " + ("; ".join(tried) if tried else "nowhere (no data directory is set)") + ".",
            f"Put the file at {where} (set the data directory with --data-dir or ${DATA_ENV}), "
            "or give its path in the study.",
        ]
        if how_to_get:
            lines.append(how_to_get)
        raise DataNotFoundError(" ".join(lines))

    def _download(self, download: Download, target: Path) -> Path:
        """Fetch ``download`` into ``target`` with pooch, which checks the pinned checksum and
        never leaves a partial file under the final name."""
        import pooch

        known = f"sha256:{download.sha256}" if download.sha256 else (f"md5:{download.md5}" if download.md5 else None)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            path = pooch.retrieve(download.url, known_hash=known, fname=target.name, path=target.parent, progressbar=False)
        except ValueError as error:  # pooch's checksum mismatch
            raise DataCorruptError(f"the file downloaded from {download.url} does not have its pinned checksum ({error}); "
                                   "it was not kept. Try again later, or put the original file in the data directory.") from None
        return Path(path)
