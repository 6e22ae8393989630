"""Finding a dataset's files: explicit path, data directory, cache, checksummed download.

Datasets call :meth:`DataLocator.find`; when nothing is found the user gets one paragraph
saying which file is missing, every place that was tried, and where to put it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .cache import Cache
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
        actual = file_checksum(path, algorithm)
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
                verify_checksum(path, sha256=sha256, md5=md5) if path.is_file() else None
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
                    return path
        if download is not None:
            target = self.download_dir / download.filename
            if self.offline:
                tried.append(f"download from {download.url} (skipped: ${OFFLINE_ENV} is set)")
            else:
                try:
                    return self._download(download, target)
                except (urllib.error.URLError, OSError, TimeoutError) as error:
                    tried.append(f"download from {download.url} (failed: {error})")
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
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(download.url, timeout=30) as response:
                shutil.copyfileobj(response, out)
            verify_checksum(Path(tmp), sha256=download.sha256, md5=download.md5)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return target
