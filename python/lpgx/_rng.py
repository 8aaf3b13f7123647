"""Randomness per SPEC 7 of Scientific Python: ``rng`` is an int, a Generator, a
SeedSequence or None. The C++ core needs one 64-bit key; each sequence then gets its own
counter-based stream derived from the key and its index."""
from __future__ import annotations

import numbers
from typing import Any, Union

import numpy as np

RNGLike = Union[None, int, np.integer, np.random.Generator, np.random.SeedSequence, np.random.BitGenerator]


def generator(rng: Any) -> np.random.Generator:
    if rng is None or isinstance(rng, (np.random.Generator, np.random.SeedSequence, np.random.BitGenerator)):
        return np.random.default_rng(rng)
    if isinstance(rng, (numbers.Integral, np.integer)) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"rng: a seed must be non-negative, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be None, an int, a numpy.random.Generator or a SeedSequence, got {type(rng).__name__}"
    )


def key(rng: Any) -> int:
    """A 64-bit key drawn from ``rng`` (consumes one draw from a Generator)."""
    return int(generator(rng).integers(0, 2**64, dtype=np.uint64))
