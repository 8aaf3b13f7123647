"""Finite tasks and hard instances with planted likelihoods (docs/theory.md §8).

One-hot contexts x = e_j (j < M, masses p_j) with the ``context_position`` block form a
combination lock: context j hides its own code c_j ∈ Y^N. A teacher with weight a on
(j, i, c_{j,i}) has margin 1/√(M·N) (R = 1). A base model with weight β_j on the same
entries gives per-token correct probability τ_j = e^β/(e^β + k − 1) and sequence likelihood
α_j = τ_j^N; so any α_j is planted exactly by τ_j = α_j^{1/N}, β_j = log((k−1)τ_j/(1−τ_j)).
α = k^−N (β = 0) is the uniform, off-support base.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from . import _core, _rng
from . import _validate as v
from .model import LinearARModel


class FiniteTask:
    """Contexts from a finite list with probability masses, each with its correct response.

    Parameters
    ----------
    contexts : (M, d) array
    y_star : (M, N) int array
    masses : (M,) array, optional
        Sampling probabilities (normalised here); uniform when omitted.
    vocab_size : int
    teacher : LinearARModel, optional
        A model whose greedy decoding is ``y_star`` (for margins).

    The arrays are copied and kept read-only: the engine holds its own copy.
    """

    def __init__(self, contexts: Any, y_star: Any, vocab_size: int, masses: Optional[Any] = None,
                 teacher: Optional[LinearARModel] = None) -> None:
        self.vocab_size = v.positive_int(vocab_size, "vocab_size")
        self.contexts = v.float_array(contexts, "contexts", (None, None)).copy()
        M, self.context_dim = self.contexts.shape
        ys = np.asarray(y_star)
        if ys.ndim != 2 or ys.shape[0] != M:
            raise ValueError(f"y_star must have shape ({M}, N), got {ys.shape}")
        self.seq_len = ys.shape[1]
        self.y_star = v.tokens(ys, (M, self.seq_len), self.vocab_size, "y_star").copy()
        mass = np.ones(M) if masses is None else v.float_array(masses, "masses", (M,))
        if np.any(mass < 0) or mass.sum() <= 0:
            raise ValueError("masses must be >= 0 and not all zero")
        self.masses = mass / mass.sum()
        self.teacher = teacher
        for a in (self.contexts, self.y_star, self.masses):
            a.flags.writeable = False
        self._h = _core.Task.finite(self.contexts, self.masses, self.y_star, self.vocab_size)

    @property
    def num_contexts(self) -> int:
        return len(self.masses)

    def sample(self, n: int, rng: _rng.RNGLike = None) -> Tuple[np.ndarray, np.ndarray]:
        """n i.i.d. pairs (x, y*(x)) drawn with the task's masses."""
        idx = _rng.generator(rng).choice(self.num_contexts, size=v.positive_int(n, "n"), p=self.masses)
        return self.contexts[idx], self.y_star[idx]

    def __getstate__(self) -> Dict[str, Any]:
        return {k: val for k, val in self.__dict__.items() if k != "_h"}  # the handle is rebuilt

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._h = _core.Task.finite(self.contexts, self.masses, self.y_star, self.vocab_size)

    def config(self) -> Dict[str, Any]:
        return {"kind": "finite", "num_contexts": self.num_contexts, "vocab_size": self.vocab_size,
                "seq_len": self.seq_len, "context_dim": self.context_dim}

    def __repr__(self) -> str:
        return f"FiniteTask(num_contexts={self.num_contexts}, vocab_size={self.vocab_size}, seq_len={self.seq_len})"


def planted_weight(alpha: Any, vocab_size: int, seq_len: int) -> np.ndarray:
    """β with τ = e^β/(e^β + k − 1) = α^{1/N}: the base weight that plants likelihood α."""
    a = v.real_values(alpha, "alphas")
    if np.any(~np.isfinite(a)) or np.any(a <= 0) or np.any(a >= 1):
        raise ValueError("alphas must lie in (0, 1)")
    log_tau = np.log(a) / seq_len
    # β = log(k−1) + log τ − log(1 − τ), with log(1 − τ) = log(−expm1(log τ)) for accuracy
    return np.log(vocab_size - 1) + log_tau - np.log(-np.expm1(log_tau)) if vocab_size > 1 else np.zeros_like(a)


def combination_lock(vocab_size: int, seq_len: int, num_contexts: int, alphas: Optional[Any] = None,
                     masses: Optional[Any] = None, teacher_weight: float = 1.0,
                     rng: _rng.RNGLike = None) -> Tuple[FiniteTask, LinearARModel]:
    """A combination lock: M one-hot contexts, each with a random code c_j ∈ Y^N.

    Returns ``(task, base)``: the task (teacher with margin 1/√(M·N)) and a base model with
    ``blocks=("context_position",)`` whose likelihood of c_j on context j is ``alphas[j]``
    exactly (default k^−N: the uniform, off-support base)."""
    k = v.positive_int(vocab_size, "vocab_size", minimum=2)
    N = v.positive_int(seq_len, "seq_len")
    M = v.positive_int(num_contexts, "num_contexts")
    a = v.finite_float(teacher_weight, "teacher_weight", 0.0)
    if a <= 0:
        raise ValueError("teacher_weight must be > 0")
    # two models (teacher and base) of M·N·k·M weights, and the M × M contexts
    v.check_bytes(8.0 * (2 * M * M * N * k + M * M), "the combination lock")
    codes = _rng.generator(rng).integers(0, k, size=(M, N)).astype(np.int32)
    contexts = np.eye(M)
    rows, pos = np.repeat(np.arange(M), N), np.tile(np.arange(N), M)
    teacher = LinearARModel(k, N, M, blocks=("context_position",))
    teacher.block("context_position")[rows, pos, codes.ravel()] = a
    base = LinearARModel(k, N, M, blocks=("context_position",))
    if alphas is not None:
        al = np.broadcast_to(v.real_values(alphas, "alphas"), (M,))
        beta = planted_weight(al, k, N)
        base.block("context_position")[rows, pos, codes.ravel()] = np.repeat(beta, N)
    return FiniteTask(contexts, codes, k, masses, teacher), base


def staircase(vocab_size: int, seq_len: int, alphas: Sequence[float], masses: Optional[Sequence[float]] = None,
              teacher_weight: float = 1.0, rng: _rng.RNGLike = None) -> Tuple[FiniteTask, LinearARModel]:
    """A combination lock with one context per entry of ``alphas`` (base likelihood α_j, mass
    p_j): the base model's likelihood CDF, and so its LQ, is a staircase."""
    al = v.real_values(alphas, "alphas")
    if al.ndim != 1 or al.size == 0:
        raise ValueError("alphas must be a non-empty 1-D sequence")
    return combination_lock(vocab_size, seq_len, al.size, alphas=al, masses=masses,
                            teacher_weight=teacher_weight, rng=rng)
