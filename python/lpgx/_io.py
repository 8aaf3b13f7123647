"""Atomic, checked persistence: a temporary file in the target folder, then a rename, so a
crash never leaves a half-written file under the final name."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, Tuple, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]
FORMAT_VERSION = 1


def atomic_write(path: PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def digest(arrays: Dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_npz(path: PathLike, arrays: Dict[str, np.ndarray], meta: Dict[str, Any]) -> Path:
    """Arrays plus JSON metadata (with a format version and a SHA-256 of the arrays)."""
    meta = dict(meta, format_version=FORMAT_VERSION, sha256=digest(arrays))
    payload = dict(arrays, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    return atomic_write(path, lambda f: np.savez(f, **payload))


def load_npz(path: PathLike, kind: str) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
    """Inverse of save_npz; a truncated, tampered or incompatible file raises ValueError."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not a readable lpgx {kind} file ({exc})") from None
    if "__meta__" not in arrays:
        raise ValueError(f"{path}: not an lpgx {kind} file (no metadata)")
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: corrupt metadata ({exc})") from None
    if meta.get("kind") != kind:
        raise ValueError(f"{path}: holds a {meta.get('kind')!r}, not a {kind!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format version {meta.get('format_version')} is not supported "
                         f"(this lpgx reads version {FORMAT_VERSION})")
    if meta.get("sha256") != digest(arrays):
        raise ValueError(f"{path}: checksum mismatch: the file was modified or damaged")
    return arrays, meta
