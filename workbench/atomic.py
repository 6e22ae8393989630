"""Writes that either happen whole or not at all, so a crash never leaves a half-written file
that a resumed run would mistake for a finished one.

Public API for plugins: :func:`write_bytes`, :func:`write_text`, :func:`write_json`,
:func:`write_npz` and :func:`directory` (a folder that appears whole or not at all). Files get
the mode the process umask gives, so results can be shared in group directories."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


_umask: int | None = None


def current_umask() -> int:
    """The process umask (read once; setting it to read it is not thread-safe, so /proc first)."""
    global _umask
    if _umask is None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("Umask:"):
                    _umask = int(line.split()[1], 8)
                    break
        except (OSError, ValueError):
            pass
        if _umask is None:
            _umask = os.umask(0o022)
            os.umask(_umask)
    return _umask


def write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; give it the mode a plain open() would, so that results
        # can be shared in group or cluster directories.
        os.chmod(tmp, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


CHECKSUM_KEY = "sha256"


def _content_digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_json_checked(path: Path, obj: dict[str, Any]) -> None:
    """Write ``obj`` with a sha256 of its content, so that :func:`read_json_checked` can tell
    a damaged file (truncated, edited, bit-flipped) from a whole one."""
    data = json.loads(json.dumps(obj, default=_json_default))
    data[CHECKSUM_KEY] = _content_digest(data)
    write_json(path, data)


def read_json_checked(path: Path) -> dict[str, Any] | None:
    """The content written by :func:`write_json_checked`; ``None`` if the file is absent;
    :class:`DamagedFileError` if it is damaged."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise DamagedFileError(f"{path} cannot be read ({error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DamagedFileError(f"{path} is not valid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict) or CHECKSUM_KEY not in data:
        raise DamagedFileError(f"{path} has no checksum")
    expected = data.pop(CHECKSUM_KEY)
    if _content_digest(data) != expected:
        raise DamagedFileError(f"{path} does not match its checksum (edited or damaged)")
    return data


class DamagedFileError(ValueError):
    """A file the workbench wrote that is no longer whole."""


def write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    write_bytes(path, buffer.getvalue())


@contextmanager
def directory(final: Path) -> Iterator[Path]:
    """Yield a scratch directory that becomes ``final`` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    os.chmod(scratch, 0o777 & ~current_umask())
    try:
        yield scratch
        if final.exists():
            shutil.rmtree(final)
        os.replace(scratch, final)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
