"""Across-seed statistics: bootstrap confidence intervals of a mean, and seed counts of claims.

Every interval is a percentile bootstrap over seeds (resampling whole seeds with
replacement) from a fixed random stream, so a report regenerates digit for digit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

N_BOOT = 10_000
LEVEL = 0.95


@dataclass(frozen=True)
class MeanCI:
    """The mean of n values with a bootstrap confidence interval [low, high]."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return self.format()

    def format(self, fmt: str = ".3f") -> str:
        return f"{self.mean:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}]"


def _values(values: Any, name: str) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return a


def bootstrap_means(values: Any, n_boot: int = N_BOOT, seed: int = 0, axis_name: str = "values") -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement) of ``values``; a fixed ``seed``.

    ``values`` may be (n,) or (n, T): rows are the resampled units (seeds), and the result is
    (n_boot,) or (n_boot, T), each resample drawing whole rows."""
    a = np.asarray(values, dtype=float)
    if a.ndim not in (1, 2) or a.shape[0] == 0:
        raise ValueError(f"{axis_name} must be a non-empty (n,) or (n, T) array, got shape {a.shape}")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    idx = np.random.default_rng(seed).integers(0, a.shape[0], size=(int(n_boot), a.shape[0]))
    out: np.ndarray = a[idx].mean(axis=1)
    return out


def mean_ci(values: Any, level: float = LEVEL, n_boot: int = N_BOOT, seed: int = 0) -> MeanCI:
    """Mean of ``values`` (one per seed) with its ``level`` percentile-bootstrap interval.

    Raises
    ------
    ValueError
        If ``values`` is empty, not one-dimensional or not finite, or ``level`` is not in (0, 1).
    """
    a = _values(values, "values")
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    boots = bootstrap_means(a, n_boot, seed)
    tail = 50.0 * (1.0 - float(level))
    low, high = np.percentile(boots, [tail, 100.0 - tail])
    return MeanCI(float(a.mean()), float(low), float(high), int(a.size))


def curve_band(curves: Any, level: float = LEVEL, n_boot: int = N_BOOT, seed: int = 0
               ) -> "tuple[np.ndarray, np.ndarray, np.ndarray]":
    """Pointwise mean of (n_seeds, T) ``curves`` with a bootstrap band (seeds resampled whole)."""
    a = np.asarray(curves, dtype=float)
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"curves must be a non-empty (n_seeds, T) array, got shape {a.shape}")
    boots = bootstrap_means(a, n_boot, seed, "curves")
    tail = 50.0 * (1.0 - float(level))
    low, high = np.percentile(boots, [tail, 100.0 - tail], axis=0)
    return a.mean(0), low, high


@dataclass(frozen=True)
class Claim:
    """A qualitative claim checked seed by seed: it holds in ``holds`` of ``of`` seeds."""

    text: str
    holds: int
    of: int
    seeds_failing: Sequence[int] = ()

    def __str__(self) -> str:
        fail = "" if not self.seeds_failing else f" (not in seeds {', '.join(map(str, self.seeds_failing))})"
        return f"{self.text}: {self.holds}/{self.of} seeds{fail}"


def claim(text: str, holds: Any, seeds: Optional[Sequence[int]] = None) -> Claim:
    """Count the seeds in which a claim holds; ``holds`` is one bool per seed (None: the claim
    does not apply to that seed and is not counted)."""
    flags = list(holds)
    seeds = list(range(len(flags))) if seeds is None else list(seeds)
    if len(seeds) != len(flags):
        raise ValueError(f"seeds has {len(seeds)} entries, holds {len(flags)}")
    counted = [(s, bool(f)) for s, f in zip(seeds, flags) if f is not None]
    return Claim(text, sum(f for _, f in counted), len(counted), tuple(s for s, f in counted if not f))
