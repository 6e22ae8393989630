"""Arrays and plain data in one file that is never unpickled.

Checkpoints and trained weights may come from someone else's run directory, so they are stored
the way safetensors stores weights: the arrays as raw buffers in an ``.npz`` archive (read with
``allow_pickle=False``), and everything around them — dicts, lists, strings, numbers — as JSON.
Loading such a file cannot run code.

Supported values: dicts with string keys, lists, tuples, strings, ints, floats (NaN and ±inf
included), bools, ``None``, numpy arrays and scalars, and torch tensors (returned as torch
tensors on the CPU; torch is imported only when the file holds tensors).
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic

STRUCTURE = "__structure__"
FORMAT = "workbench-tensorfile-1"


class TensorFileError(ValueError):
    """A file that is not a readable tensor file (damaged, truncated, or of another format)."""


def dumps(obj: Any) -> bytes:
    """``obj`` as the bytes of a tensor file."""
    arrays: dict[str, np.ndarray] = {}
    structure = {"format": FORMAT, "value": _encode(obj, arrays, "$")}
    text = json.dumps(structure, allow_nan=True, separators=(",", ":"))
    arrays[STRUCTURE] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def dump(obj: Any, path: Path | str) -> None:
    """Write ``obj`` to ``path`` atomically."""
    atomic.write_bytes(Path(path), dumps(obj))


def load(path: Path | str) -> Any:
    """The value stored in ``path``; :class:`TensorFileError` if it is not a whole tensor file."""
    try:
        with np.load(Path(path), allow_pickle=False) as stored:
            if STRUCTURE not in stored.files:
                raise TensorFileError(f"{path} is not a workbench tensor file (no {STRUCTURE} entry)")
            structure = json.loads(stored[STRUCTURE].tobytes().decode("utf-8"))
            if not isinstance(structure, dict) or structure.get("format") != FORMAT:
                raise TensorFileError(f"{path} is a tensor file of an unknown format")
            arrays = {name: stored[name] for name in stored.files if name != STRUCTURE}
    except TensorFileError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        raise TensorFileError(f"{path} is damaged or not a tensor file ({type(error).__name__}: {error})") from None
    return _decode(structure["value"], arrays, str(path))


def _encode(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError(f"{where}: object arrays cannot be stored safely; convert to numbers or strings")
        key = f"a{len(arrays)}"
        arrays[key] = np.ascontiguousarray(value)
        return {"$array": key}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"$dict": {k: _encode(v, arrays, f"{where}.{k}") for k, v in value.items()}}
        bad = [k for k in value if not isinstance(k, (str, int, float, bool)) and k is not None]
        if bad:
            raise TypeError(f"{where}: dict keys must be strings or numbers, got {bad[0]!r}")
        # e.g. an optimizer's state, keyed by parameter index
        return {"$items": [[k, _encode(v, arrays, f"{where}[{k!r}]")] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
        return {"$tuple": items} if isinstance(value, tuple) else items
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        dtype = str(tensor.dtype).removeprefix("torch.")
        if tensor.dtype == torch.bfloat16:
            array = tensor.view(torch.int16).numpy()
        else:
            array = tensor.numpy()
        key = f"a{len(arrays)}"
        arrays[key] = array.copy()
        return {"$tensor": key, "dtype": dtype}
    raise TypeError(f"{where}: a {type(value).__name__} cannot be stored in a tensor file; use arrays, tensors, numbers, "
                    "strings, lists and dicts")


def _decode(value: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays, path) for v in value]
    if not isinstance(value, dict):
        return value
    try:
        if "$array" in value:
            return arrays[value["$array"]]
        if "$tensor" in value:
            import torch

            array = arrays[value["$tensor"]]
            if value.get("dtype") == "bfloat16":
                return torch.from_numpy(array.copy()).view(torch.bfloat16)
            return torch.from_numpy(array.copy())
        if "$tuple" in value:
            return tuple(_decode(v, arrays, path) for v in value["$tuple"])
        if "$dict" in value:
            return {k: _decode(v, arrays, path) for k, v in value["$dict"].items()}
        if "$items" in value:
            return {k: _decode(v, arrays, path) for k, v in value["$items"]}
    except KeyError as error:
        raise TensorFileError(f"{path} refers to an array {error} it does not hold (damaged)") from None
    raise TensorFileError(f"{path} holds an entry of unknown type ({sorted(value)})")
