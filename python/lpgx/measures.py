"""Likelihood measures of docs/theory.md §5: sequence error, coverage, Likelihood Quantiles (LQ),
token-level LQ, Monte-Carlo likelihood estimates and the unbiased pass@k estimator.

All likelihoods are exact per context (the model is tractable) and handled in log space.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Union

import numpy as np

from . import _rng
from . import _validate as v
from .model import LinearARModel, check_model
from .rewards import CorrectSet

ArrayLike = Any
#: Monte-Carlo draws per context that mc_hits accepts (2^40 draws of even one token take hours).
MAX_SAMPLES = 2**34
FloatOrArray = Union[float, np.ndarray]


def _log_liks(model: LinearARModel, x: Any, y: Any, n_threads: Optional[int], token: bool,
              correct: Optional[CorrectSet] = None) -> np.ndarray:
    model = check_model(model)
    if correct is not None or np.ndim(y) == 3:  # a correct set: q(S|x) (lpgx.correct_sets)
        if token:
            raise ValueError("the token-level LQ is defined for a single answer y*")
        from .correct_sets import set_log_likelihood
        return set_log_likelihood(model, x, y, correct, method="exact", n_threads=n_threads)
    if not token:
        return model.log_prob(x, y, n_threads)
    out: np.ndarray = model.token_log_prob(x, y, n_threads).min(axis=1)
    return out


def sequence_error(model: LinearARModel, x: ArrayLike, y: ArrayLike, n_threads: Optional[int] = None,
                   correct: Optional[CorrectSet] = None) -> float:
    """1 − mean_x q(y*|x), the expected probability of not producing y*. With ``correct`` (a
    :class:`lpgx.CorrectSet`) or answers y of shape (B, T, N): 1 − mean_x q(S|x) of the correct
    set (exact; lpgx.correct_sets.set_log_likelihood estimates the cases it cannot do exactly).
    The same two arguments generalise :func:`likelihood_quantile`, :func:`coverage` and
    :func:`alpha_tail`."""
    return float(1.0 - np.exp(_log_liks(model, x, y, n_threads, token=False, correct=correct)).mean())


def quantile_of_log_values(log_values: ArrayLike, eps: ArrayLike, log: bool = False) -> FloatOrArray:
    """Empirical LQ(ε) = sup{α : P(q ≤ α) ≤ ε} of the sample ``exp(log_values)``.

    With sorted values v_(1) ≤ … ≤ v_(n), P̂(q ≤ α) ≤ ε iff fewer than ⌊εn⌋ + 1 values are
    ≤ α, so the supremum is v_(⌊εn⌋+1) (and 1 when ⌊εn⌋ = n)."""
    lv = v.real_values(log_values, "log_values")
    if lv.ndim != 1 or lv.size == 0:
        raise ValueError(f"log_values must be a non-empty 1-D array, got shape {lv.shape}")
    if np.isnan(lv).any() or np.any(lv > 0):
        raise ValueError("log_values must be log-likelihoods: <= 0 and not NaN")
    e = v.real_values(eps, "eps")
    if not np.all(np.isfinite(e)) or np.any(e < 0) or np.any(e > 1):
        raise ValueError("eps must lie in [0, 1]")
    n = lv.size
    srt = np.sort(lv)
    m = np.floor(e * n + 1e-9).astype(np.int64)  # 1e-9 guards ε·n landing just below an integer
    out = np.where(m >= n, 0.0, srt[np.minimum(m, n - 1)])
    out = out if log else np.exp(out)
    return float(out) if out.ndim == 0 else out


def likelihood_quantile(model: LinearARModel, x: ArrayLike, y: ArrayLike, eps: ArrayLike,
                        log: bool = False, n_threads: Optional[int] = None,
                        correct: Optional[CorrectSet] = None) -> FloatOrArray:
    """Likelihood Quantile LQ(ε) = sup{α : P_x(q(y*|x) ≤ α) ≤ ε} over the contexts given.

    Scalar or array ``eps``; ``log=True`` returns log LQ (needed when LQ ≈ k^-N underflows)."""
    return quantile_of_log_values(_log_liks(model, x, y, n_threads, token=False, correct=correct), eps, log)


def token_likelihood_quantile(model: LinearARModel, x: ArrayLike, y: ArrayLike, eps: ArrayLike,
                              log: bool = False, n_threads: Optional[int] = None,
                              correct: Optional[CorrectSet] = None) -> FloatOrArray:
    """Token-level LQ: the LQ of min_i q(y*_i | x, y*_<i) instead of q(y*|x) (a single answer
    y*: ``correct`` is refused)."""
    return quantile_of_log_values(_log_liks(model, x, y, n_threads, token=True, correct=correct), eps, log)


def _alphas(alpha: ArrayLike, log_alpha: bool) -> np.ndarray:
    a = v.real_values(alpha, "alpha")
    if np.isnan(a).any():
        raise ValueError("alpha contains NaN")
    if log_alpha:
        if np.any(a > 0):
            raise ValueError("log alpha must be <= 0")
        return a
    if np.any(a < 0) or np.any(a > 1):
        raise ValueError("alpha must lie in [0, 1]")
    with np.errstate(divide="ignore"):
        log_a: np.ndarray = np.log(a)
    return log_a


def coverage(model: LinearARModel, x: ArrayLike, y: ArrayLike, alpha: ArrayLike, log_alpha: bool = False,
             n_threads: Optional[int] = None, correct: Optional[CorrectSet] = None) -> FloatOrArray:
    """Coverage profile P_x(q(y*|x) ≤ α) (the CDF of the correct-response likelihood)."""
    lq = np.sort(_log_liks(model, x, y, n_threads, token=False, correct=correct))
    la = _alphas(alpha, log_alpha)
    out = np.searchsorted(lq, la, side="right") / lq.size
    return float(out) if np.ndim(out) == 0 else out


def alpha_tail(model: LinearARModel, x: ArrayLike, y: ArrayLike, alpha: ArrayLike,
               n_threads: Optional[int] = None, correct: Optional[CorrectSet] = None) -> FloatOrArray:
    """α · P_x(q(y*|x) > α)."""
    a = v.real_values(alpha, "alpha")
    out = a * (1.0 - np.asarray(coverage(model, x, y, a, n_threads=n_threads, correct=correct)))
    return float(out) if np.ndim(out) == 0 else out


def pass_at_k(n: ArrayLike, c: ArrayLike, k: ArrayLike) -> FloatOrArray:
    """Unbiased pass@k from n samples with c correct: 1 − C(n−c, k)/C(n, k).

    Computed as 1 − Π_{i=n−c+1}^{n} (1 − k/i) or, with fewer factors, the equal
    1 − Π_{j=0}^{k−1} (1 − c/(n−j)): exact to rounding, in memory bounded whatever n; broadcasts."""
    n_, c_, k_ = (np.asarray(a) for a in (n, c, k))
    for name, a in (("n", n_), ("c", c_), ("k", k_)):
        if a.dtype.kind not in "iu":
            raise TypeError(f"{name} must be integers, got dtype {a.dtype}")
    if np.any(n_ < 1) or np.any(k_ < 1) or np.any(k_ > n_) or np.any(c_ < 0) or np.any(c_ > n_):
        raise ValueError("pass_at_k needs 1 <= k <= n and 0 <= c <= n")
    n_, c_, k_ = np.broadcast_arrays(n_, c_, k_)
    out = np.empty(n_.shape)
    for idx in np.ndindex(n_.shape):
        ni, ci, ki = int(n_[idx]), int(c_[idx]), int(k_[idx])
        out[idx] = 1.0 if ni - ci < ki else 1.0 - math.exp(_log_miss_ratio(ni, ci, ki))
    return float(out) if out.ndim == 0 else out


def _log_miss_ratio(n: int, c: int, k: int, chunk: int = 1 << 20) -> float:
    """log C(n−c, k)/C(n, k) as a sum of min(c, k) log-factors, in chunks."""
    if c == 0:
        return 0.0
    if min(c, k) > 10**9:
        raise ValueError("pass_at_k: min(c, k) above 1e9 is too large to evaluate exactly")
    total = 0.0
    if c <= k:  # Π_{i=n−c+1}^{n} (1 − k/i)
        for lo in range(n - c + 1, n + 1, chunk):
            i = np.arange(lo, min(lo + chunk, n + 1), dtype=float)
            total += float(np.log1p(-k / i).sum())
    else:       # Π_{j=0}^{k−1} (1 − c/(n−j))
        for lo in range(0, k, chunk):
            j = np.arange(lo, min(lo + chunk, k), dtype=float)
            total += float(np.log1p(-c / (n - j)).sum())
    return total


def mc_likelihood(model: LinearARModel, x: ArrayLike, y: ArrayLike, n_samples: int,
                  rng: _rng.RNGLike = None, n_threads: Optional[int] = None) -> np.ndarray:
    """Monte-Carlo estimate of q(y*|x): the fraction of ``n_samples`` draws per context
    equal to y* (all one has for a black-box model). Returns (B,) hit counts / n_samples."""
    return mc_hits(model, x, y, n_samples, rng, n_threads) / n_samples


def mc_hits(model: LinearARModel, x: ArrayLike, y: ArrayLike, n_samples: int,
            rng: _rng.RNGLike = None, n_threads: Optional[int] = None) -> np.ndarray:
    """How many of ``n_samples`` independent draws per context equal y* exactly, (B,) int64.
    Feed to :func:`pass_at_k` as c with n = n_samples."""
    model = check_model(model)
    x = v.contexts(x, model.context_dim)
    y = v.tokens(y, (x.shape[0], model.seq_len), model.vocab_size)
    n_samples = v.positive_int(n_samples, "n_samples", maximum=MAX_SAMPLES)
    return model._h.count_matches(x, y, n_samples, _rng.key(rng), v.n_threads(n_threads))
