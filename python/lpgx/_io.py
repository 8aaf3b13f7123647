"""Atomic, checked persistence: a temporary file in the target folder, then a rename, so a
crash never leaves a half-written file under the final name.

The target is the file a path leads to: a symlink is followed (the link stays, its target is
replaced). A target that exists and is not a regular file (a device such as /dev/null, a FIFO)
is written directly, with its errors reported; a directory is refused. An open binary file
object is written to as it is. Errors name the path the caller gave."""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Tuple, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]
FORMAT_VERSION = 1


def _umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # the portable way: set and restore
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every OS/filesystem allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _named(exc: OSError, path: Any) -> OSError:
    """The same error, naming the caller's path instead of a temporary file."""
    new = type(exc)(exc.errno, exc.strerror or str(exc), str(path)) if exc.errno else type(exc)(f"{exc}: {path}")
    new.__cause__ = exc
    return new


def atomic_write(path: Any, write: Callable[[Any], None], mode: str = "wb") -> Any:
    if hasattr(path, "write"):  # an open file object: written as it is
        write(path)
        return path
    given = path
    try:
        target = Path(os.path.realpath(os.fspath(path)))  # through symlinks: the link is kept
    except TypeError:
        raise TypeError(f"path must be a str, os.PathLike or a writable file object, got "
                        f"{type(path).__name__}") from None
    try:
        st = target.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _named(exc, given) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(given))
    if st is not None and not stat.S_ISREG(st.st_mode):  # a device or a FIFO: no rename over it
        buf = io.BytesIO() if "b" in mode else io.StringIO()
        write(buf)  # formed in memory first: an archive needs a file that can seek
        try:
            with open(target, mode) as f:
                f.write(buf.getvalue())
                f.flush()
        except OSError as exc:
            raise _named(exc, given) from None
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _named(exc, given) from None
    try:
        # mkstemp creates the file 0600; give the result the mode a plain open() would
        # (or keep the mode of the file being replaced).
        perms = st.st_mode & 0o7777 if st is not None else 0o666 & ~_umask()
        try:
            os.fchmod(fd, perms)
        except (OSError, AttributeError):  # pragma: no cover - e.g. no fchmod on the platform
            pass
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise _named(exc, given) from None
        raise
    _fsync_dir(target.parent)
    return target


def digest(arrays: Dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _meta_digest(meta: Dict[str, Any]) -> str:
    """SHA-256 of the metadata (without its checksums) in canonical JSON form."""
    body = {k: val for k, val in meta.items() if k not in ("sha256", "meta_sha256")}
    canonical = json.dumps(json.loads(json.dumps(body)), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def save_npz(path: Any, arrays: Dict[str, np.ndarray], meta: Dict[str, Any]) -> Any:
    """Arrays plus JSON metadata (with a format version, a SHA-256 of the arrays and one of
    the metadata itself)."""
    meta = dict(meta, format_version=FORMAT_VERSION, sha256=digest(arrays))
    meta["meta_sha256"] = _meta_digest(meta)
    payload = dict(arrays, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    return atomic_write(path, lambda f: np.savez(f, **payload))  # type: ignore[arg-type, unused-ignore]


def load_npz(path: PathLike, kind: str) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
    """Inverse of save_npz; a truncated, tampered, foreign or incompatible file raises
    ValueError (a missing one FileNotFoundError)."""
    if not hasattr(path, "read"):
        try:
            os.fspath(path)  # an int would be taken for a file descriptor by open()
        except TypeError:
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}") from None
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"a single {type(data).__name__}, not an .npz archive")
        with data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # damaged zip/npy structures raise many types (BadZipFile,
        # NotImplementedError for a bad compression method, RuntimeError for a bad
        # encryption flag, zlib.error, EOFError, ...): all mean "not a valid file"
        raise ValueError(f"{path}: not a readable lpgx {kind} file ({type(exc).__name__}: {exc})") from None
    if "__meta__" not in arrays:
        raise ValueError(f"{path}: not an lpgx {kind} file (no metadata)")
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: corrupt metadata ({exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: corrupt metadata (not a JSON object)")
    if meta.get("kind") != kind:
        raise ValueError(f"{path}: holds a {meta.get('kind')!r}, not a {kind!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format version {meta.get('format_version')} is not supported "
                         f"(this lpgx reads version {FORMAT_VERSION})")
    if meta.get("sha256") != digest(arrays):
        raise ValueError(f"{path}: checksum mismatch: the file was modified or damaged")
    # Files written before the metadata checksum existed lack it; every newer file has it.
    if "meta_sha256" in meta and meta["meta_sha256"] != _meta_digest(meta):
        raise ValueError(f"{path}: metadata checksum mismatch: the file was modified or damaged")
    return arrays, meta
