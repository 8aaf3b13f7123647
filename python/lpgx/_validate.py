"""Argument checks shared by the public API.

Every public function converts its arguments here before they reach ``_core``: a bad
argument raises ``TypeError``/``ValueError`` naming it, never a crash or silent garbage.
"""
from __future__ import annotations

import numbers
import operator
import os
from typing import Any, Optional, Sequence

import numpy as np

from . import _core

# Refuse requests whose output alone would exceed this many bytes, before allocating.
MAX_BYTES = 1 << 34

INT32_MAX = 2**31 - 1  # sizes the core keeps in a C int
INT64_MAX = 2**63 - 1  # counts the core keeps in a 64-bit Index
# Arguments the core stores in a C int (sizes, mixture count, exploration budget); every
# other count (steps, batch sizes, sample counts, record intervals) is a 64-bit Index.
C_INT_ARGS = frozenset({"vocab_size", "seq_len", "context_dim", "num_mix", "num_contexts", "m"})
# More threads than this only adds overhead (results never depend on the count), and
# libgomp crashes when asked for ~1e5 threads: larger requests are clamped to it.
MAX_THREADS = max(64, 4 * (os.cpu_count() or 1))


def positive_int(value: Any, name: str, minimum: int = 1, maximum: Optional[int] = None) -> int:
    """An integer in [minimum, maximum]; ``maximum`` defaults to what the core can hold
    (INT32_MAX for the names in C_INT_ARGS, else INT64_MAX), so an oversized value is a
    ValueError naming the argument instead of a binding-level TypeError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is None:
        maximum = INT32_MAX if name in C_INT_ARGS else INT64_MAX
    if value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def finite_float(value: Any, name: str, low: float = -np.inf, high: float = np.inf) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}")
    return float(value)


def n_threads(value: Optional[int]) -> int:
    """``None`` means all cores; results never depend on the value."""
    if value is None:
        return min(int(_core.max_threads()), MAX_THREADS)
    return min(positive_int(value, "n_threads"), MAX_THREADS)


def check_bytes(nbytes: float, what: str) -> None:
    if nbytes > MAX_BYTES:
        raise MemoryError(f"{what} would need {nbytes / 2**30:.1f} GiB; refusing to allocate")


def _numeric_array(a: Any, name: str) -> np.ndarray:
    if isinstance(a, np.ma.MaskedArray):
        raise TypeError(f"{name} is a masked array: lpgx would ignore its mask; pass "
                        f"np.ma.filled({name}, value) or the unmasked rows instead")
    if isinstance(a, np.ndarray):
        arr = a
    else:
        try:
            arr = np.asarray(a)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{name} must be array-like: {exc}") from None
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return arr


def float_array(a: Any, name: str, shape: tuple[Optional[int], ...], allow_empty: bool = False) -> np.ndarray:
    """C-contiguous float64 array of the given shape (None: any size), all finite."""
    arr = _numeric_array(a, name)
    _check_shape(arr, name, shape, allow_empty)
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def contexts(x: Any, d: int, name: str = "x") -> np.ndarray:
    """Contexts of shape (B, d), B >= 1."""
    return float_array(x, name, (None, d))


def tokens(y: Any, shape: tuple[int, int], k: int, name: str = "y") -> np.ndarray:
    """Token array of the given shape with values in [0, k), as C-contiguous int32."""
    arr = _numeric_array(y, name)
    if arr.dtype.kind == "f":
        raise TypeError(f"{name} must be an integer array of tokens, got dtype {arr.dtype}")
    _check_shape(arr, name, shape, allow_empty=False)
    if arr.size and (arr.min() < 0 or arr.max() >= k):
        raise ValueError(f"{name} has tokens outside [0, {k}): min {arr.min()}, max {arr.max()}")
    return np.ascontiguousarray(arr, dtype=np.int32)


def _check_shape(arr: np.ndarray, name: str, shape: tuple[Optional[int], ...], allow_empty: bool) -> None:
    if arr.ndim != len(shape):
        want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    for got, want_n in zip(arr.shape, shape):
        if want_n is not None and got != want_n:
            want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if not allow_empty and arr.size == 0 and len(shape) > 0:
        raise ValueError(f"{name} is empty: need at least one row")


def option(value: Any, name: str, choices: Sequence[str]) -> str:
    """A string option, one of ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {tuple(choices)}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def flag(value: Any, name: str) -> bool:
    """A boolean switch (Python or numpy bool)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def real_values(a: Any, name: str) -> np.ndarray:
    """Any-shaped real (int or float, not bool/complex/str/object) values as float64."""
    arr = _numeric_array(a, name)
    return np.asarray(arr, dtype=np.float64)
