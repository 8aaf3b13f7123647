"""Many correct answers (docs/theory.md §4, §5): likelihoods and measures of a correct set, and a
task with several teachers.

A context's correct set S is given by its answers y* (one, shape (B, N), or several, shape
(B, T, N)) and a :class:`lpgx.CorrectSet` rule: agree with an answer on the checked positions up
to a tolerance. Its likelihood q(S|x) = Σ_{y∈S} π(y|x) replaces q(y*|x) in every measure (error,
LQ, coverage, pass@k).

How it is computed:

- one answer, any rule: exactly, by a forward pass over (previous token, mismatches so far)
  (the policy's next-token distribution depends on the prefix only through the previous token
  and the position), in O(N·k²·(tolerance+1)) per context;
- several answers with the exact rule: exactly, Σ over the distinct answers of π(y*_t|x);
- several answers with a wider rule (the balls may overlap): by Monte Carlo, the fraction of
  ``n_samples`` responses drawn from the policy that fall in the set (an unbiased estimate of
  q(S|x); its standard error is √(q(1−q)/n)). ``method="mc"`` forces it for any set, to check it.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from . import _rng
from . import _validate as v
from .model import LinearARModel, check_model
from .rewards import CallableReward, CorrectSet, KINDS
from .tasks import TeacherTask


def _answers(y_star: Any, model: LinearARModel, B: int) -> np.ndarray:
    arr = np.asarray(y_star)
    if arr.ndim == 2:
        arr = arr[:, None, :]
    if arr.ndim != 3 or arr.shape[0] != B or arr.shape[1] < 1 or arr.shape[2] != model.seq_len:
        raise ValueError(f"y_star must have shape ({B}, N) or ({B}, T, N) with N = {model.seq_len}, got "
                         f"{np.shape(y_star)}")
    return v.tokens(arr.reshape(B * arr.shape[1], -1), (B * arr.shape[1], model.seq_len), model.vocab_size,
                    "y_star").reshape(arr.shape)


def in_set(y: np.ndarray, answers: np.ndarray, correct: CorrectSet) -> np.ndarray:
    """Whether each response y (n, N) lies in the correct set of its answers (n, T, N)."""
    N = y.shape[1]
    cols = correct.checked(N) or list(range(N))
    misses = (y[:, None, cols] != answers[:, :, cols]).sum(-1)
    out: np.ndarray = (misses <= correct.tolerance).any(1)
    return out


def set_log_likelihood(model: LinearARModel, x: Any, y_star: Any, correct: Optional[CorrectSet] = None, *,
                       method: str = "auto", n_samples: Optional[int] = None, rng: _rng.RNGLike = None,
                       n_threads: Optional[int] = None) -> np.ndarray:
    """log q(S|x) per context, (B,) (module docstring). ``method``: ``"auto"`` (exact where the
    module docstring says, else Monte Carlo with ``n_samples``), ``"exact"`` or ``"mc"``."""
    model = check_model(model)
    x = v.contexts(x, model.context_dim)
    B = x.shape[0]
    answers = _answers(y_star, model, B)
    correct = CorrectSet() if correct is None else correct
    if not isinstance(correct, CorrectSet):
        raise TypeError(f"correct must be an lpgx.CorrectSet, got {type(correct).__name__}")
    method = v.option(method, "method", ("auto", "exact", "mc"))
    T = answers.shape[1]
    exact_ok = T == 1 or correct.is_exact
    if method == "exact" and not exact_ok:
        raise ValueError("several answers with a wider correct set have no exact form here: use method='mc'")
    nt = v.n_threads(n_threads)
    if method != "mc" and exact_ok:
        if T == 1:
            if correct.is_exact:
                return model.log_prob(x, answers[:, 0], n_threads=nt)
            out: np.ndarray = model._h.set_log_prob(x, np.ascontiguousarray(answers[:, 0]), correct.checked(model.seq_len),
                                                    correct.tolerance, nt)
            return out
        logs = np.stack([model.log_prob(x, np.ascontiguousarray(answers[:, t]), n_threads=nt) for t in range(T)], 1)
        distinct = np.ones((B, T), dtype=bool)  # count an answer repeated by several teachers once
        for t in range(1, T):
            distinct[:, t] = ~(answers[:, :t] == answers[:, t:t + 1]).all(-1).any(1)
        logs = np.where(distinct, logs, -np.inf)
        top = logs.max(1)
        union: np.ndarray = top + np.log(np.exp(logs - top[:, None]).sum(1))
        return union
    if n_samples is None:
        raise ValueError("a Monte-Carlo estimate needs n_samples")
    n = v.positive_int(n_samples, "n_samples")
    v.check_bytes(4.0 * n * B * model.seq_len, "the Monte-Carlo samples")
    y = np.asarray(model.sample(np.repeat(x, n, axis=0), rng=rng, n_threads=nt))
    hits = in_set(y, np.repeat(answers, n, axis=0), correct).reshape(B, n).sum(1)
    with np.errstate(divide="ignore"):
        est: np.ndarray = np.log(hits / n)
    return est


def set_pass_at_k(model: LinearARModel, x: Any, y_star: Any, k: int, correct: Optional[CorrectSet] = None,
                  **kwargs: Any) -> np.ndarray:
    """pass@k of the correct set per context, 1 − (1 − q(S|x))^k (B,), exact where
    :func:`set_log_likelihood` is."""
    k = v.positive_int(k, "k")
    q = np.exp(set_log_likelihood(model, x, y_star, correct, **kwargs))
    out: np.ndarray = -np.expm1(k * np.log1p(-np.minimum(q, 1.0)))
    return out


class MultiTeacherTask(TeacherTask):
    """The authors' generator with T teachers: a response is correct when it is one of their
    greedy decodings (or, with ``correct``, within that rule of one). ``sample`` returns the first
    teacher's answer (what pre-training imitates); :meth:`answers` gives all T, and
    :meth:`reward` a verifier that accepts any of them (one query per response)."""

    def __init__(self, context_dim: int, vocab_size: int, seq_len: int, num_teachers: int = 2,
                 inputs: str = "rademacher", num_mix: int = 32, sigma: float = 0.05, rng: _rng.RNGLike = None,
                 correct: Optional[CorrectSet] = None) -> None:
        T = v.positive_int(num_teachers, "num_teachers", maximum=1024)
        gen = _rng.generator(rng)
        super().__init__(context_dim, vocab_size, seq_len, inputs=inputs, num_mix=num_mix, sigma=sigma, rng=gen)
        self.others = [TeacherTask(context_dim, vocab_size, seq_len, inputs=inputs, num_mix=num_mix, sigma=sigma,
                                   rng=gen).teacher for _ in range(T - 1)]
        self.correct_set = CorrectSet() if correct is None else correct

    @property
    def num_teachers(self) -> int:
        return 1 + len(self.others)

    def answers(self, x: Any, n_threads: Optional[int] = None) -> np.ndarray:
        """Every teacher's greedy decoding, (B, T, N)."""
        return np.stack([t.greedy(x, n_threads=n_threads) for t in [self.teacher, *self.others]], 1)

    def reward(self, kind: str = "outcome", values: Sequence[float] = (1.0, -1.0)) -> CallableReward:
        """A verifier accepting any teacher's answer: outcome r = values[0] if y is in the set,
        process r_i = values[0] while the prefix y_1..i is still completable into the set."""
        kind = v.option(kind, "kind", KINDS)
        pos, neg = (v.finite_float(values[0], "values[0]"), v.finite_float(values[1], "values[1]"))
        correct, N = self.correct_set, self.seq_len
        cols = np.zeros(N, dtype=bool)
        cols[correct.checked(N) or list(range(N))] = True

        def verify(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            ans = self.answers(x)                                         # (B, T, N)
            miss = np.cumsum((y[:, None, :] != ans) & cols, axis=-1)      # mismatches so far, per teacher
            ok: np.ndarray = np.asarray((miss <= correct.tolerance).any(1))  # prefix completable: (B, N)
            return np.where(ok[:, -1] if kind == "outcome" else ok, pos, neg).astype(float)
        reward = CallableReward(verify, kind=kind)
        reward.values = (pos, neg)  # what the verifier pays, as on the built-in rewards
        return reward

    def config(self) -> dict:  # type: ignore[type-arg]
        return dict(super().config(), num_teachers=self.num_teachers, correct=self.correct_set.config())


__all__ = ["MultiTeacherTask", "in_set", "set_log_likelihood", "set_pass_at_k"]
