"""Exact objectives, policy gradients and expected updates, to check estimators against
(docs/theory.md §10).

For a unique correct response y*(x) with q = π(y*|x) and prefix likelihoods
Q_i = Π_{j≤i} π(y*_j | x, y*_<j), everything has a closed form; all functions average over the
contexts given (x: (B, d), y_star: (B, N)). A reward's verdicts are wrong with probability f+
when the truth is "wrong" (``false_positive``) and f− when it is "correct" (``false_negative``;
``flip_prob`` sets both to p), which scales every gradient by (1 − f+ − f−):

- outcome reward, values (a, b):  J = b + (a − b)(f+ + (1 − f+ − f−) q),
  ∇J = (a − b)(1 − f+ − f−) q ∇log q;
- process reward, values (a, b), summed over positions:
  J = Σ_i [b + (a − b)(f+ + (1 − f+ − f−) Q_i)],
  ∇J = (a − b)(1 − f+ − f−) Σ_j (Σ_{i≥j} Q_i) ∇log π(y*_j | y*_<j);
- pass@k (``reward="pass@k"``, noise-free):  J = 1 − (1 − q)^k,  ∇J = k (1 − q)^(k−1) q ∇log q.

:func:`expected_update` is what an estimator's step ascends on average, per response: for
outcome rewards Σ_x w(q_x) (a − b) ∇q_x / B with w(q) = E[A(a, c) − A(b, c)] over the other
G − 1 responses' rewards c (exact, by summing the binomial), so RLOO and Reinforce without a
baseline give w = 1 (∇J), PassAtK gives w = k(1 − q)^(k−1) (∇pass@k), Dr. GRPO w = 1 − 1/G and
GRPO a weight of about 1/√(q(1 − q)). Batch-level statistics (Reinforce's batch baseline,
GRPO's batch scale) are taken at their large-batch limits. The process reward's per-position
Reinforce ascends Σ_i Q_i ∇log π(y*_i | y*_<i), not ∇J: each token is credited with its own
prefix's reward only.

``method="enumerate"`` computes the outcome and process objectives and gradients by summing
over all k^N responses instead (tiny vocabularies and lengths only; a check of the closed forms).
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Dict, Optional, Tuple

import numpy as np

from . import _validate as v
from .estimators import Estimator, GRPO, PassAtK, Reinforce, RLOO
from .model import LinearARModel, check_model
from .rewards import RewardLike, make_reward

#: enumerate at most this many responses per context
MAX_ENUMERATION = 1 << 20


def _inputs(model: LinearARModel, x: Any, y_star: Any) -> Tuple[LinearARModel, np.ndarray, np.ndarray]:
    model = check_model(model)
    x = v.contexts(x, model.context_dim)
    y_star = v.tokens(y_star, (x.shape[0], model.seq_len), model.vocab_size, "y_star")
    return model, x, y_star


def _reward(reward: Any, k: Optional[int]) -> Tuple[str, float, float, Tuple[float, float], int]:
    """(kind, a, b, (f+, f−), k) of a reward given as a name, a reward object or "pass@k"."""
    if isinstance(reward, str) and reward == "pass@k":
        if k is None:
            raise ValueError("reward='pass@k' needs k")
        return "pass@k", 1.0, 0.0, (0.0, 0.0), v.positive_int(k, "k")
    if k is not None:
        raise ValueError("k is for reward='pass@k' only")
    r = make_reward(reward)
    if r.external or not r.correct.is_exact or r.jitter or r.window:
        raise ValueError("exact objectives need a built-in reward with the single answer y* as its correct set "
                         "(no jitter or window)")
    return r.kind, r.values[0], r.values[1], (r.false_positive, r.false_negative), 0


def _prefix_logs(model: LinearARModel, x: np.ndarray, y_star: np.ndarray) -> np.ndarray:
    """log Q_i, (B, N): the log-likelihoods of y*'s prefixes."""
    out: np.ndarray = np.cumsum(model.token_log_prob(x, y_star), axis=1)
    return out


def objective(model: LinearARModel, x: Any, y_star: Any, reward: RewardLike = "outcome", *,
              k: Optional[int] = None, method: str = "closed") -> float:
    """The expected reward J per context (module docstring), averaged over the contexts."""
    model, x, y_star = _inputs(model, x, y_star)
    kind, a, b, (fp, fn), kk = _reward(reward, k)
    if v.option(method, "method", ("closed", "enumerate")) == "enumerate":
        return _enumerate(model, x, y_star, kind, a, b, (fp, fn), kk)[0]
    logQ = _prefix_logs(model, x, y_star)
    q = np.exp(logQ[:, -1])
    if kind == "pass@k":
        return float(np.mean(-np.expm1(kk * np.log1p(-np.minimum(q, 1.0)))))
    width = 1 if kind == "outcome" else model.seq_len
    correct = q if kind == "outcome" else np.exp(logQ).sum(1)  # expected correct verdicts before noise
    return float(np.mean(width * b + (a - b) * (width * fp + (1 - fp - fn) * correct)))


def policy_gradient(model: LinearARModel, x: Any, y_star: Any, reward: RewardLike = "outcome", *,
                    k: Optional[int] = None, method: str = "closed") -> np.ndarray:
    """∇_w J (module docstring), averaged over the contexts: a flat vector like ``model.w``."""
    model, x, y_star = _inputs(model, x, y_star)
    kind, a, b, (fp, fn), kk = _reward(reward, k)
    if v.option(method, "method", ("closed", "enumerate")) == "enumerate":
        return _enumerate(model, x, y_star, kind, a, b, (fp, fn), kk)[1]
    B = x.shape[0]
    Q = np.exp(_prefix_logs(model, x, y_star))
    q = Q[:, -1]
    if kind == "pass@k":
        weights = kk * (1 - q) ** (kk - 1) * q
    elif kind == "outcome":
        weights = (a - b) * (1 - fp - fn) * q
    else:  # token j is weighted by Σ_{i≥j} Q_i
        weights = (a - b) * (1 - fp - fn) * np.cumsum(Q[:, ::-1], axis=1)[:, ::-1]
    out: np.ndarray = model.grad_log_prob(x, y_star, weights=np.ascontiguousarray(weights)) / B
    return out


def group_weight(estimator: Estimator, q: Any, values: Tuple[float, float] = (1.0, 0.0)) -> np.ndarray:
    """w(q) of an estimator on outcome rewards (module docstring): its expected ascent
    direction per response is w(q)·(a − b)·∇q, for success probabilities q (any shape)."""
    if not isinstance(estimator, Estimator):
        raise TypeError(f"estimator must be an lpgx estimator, got {type(estimator).__name__}")
    qq = np.asarray(v.real_values(q, "q"), dtype=float)
    if np.any(qq < 0) or np.any(qq > 1):
        raise ValueError("q must lie in [0, 1]")
    a, b = values
    G = estimator.group_size
    c = np.arange(G)  # correct among the other G − 1: Binomial(G − 1, q)
    binom = np.array([math.comb(G - 1, int(ci)) for ci in c], dtype=float)[:, None]
    prob = binom * qq.ravel()[None, :] ** c[:, None] * (1 - qq.ravel()[None, :]) ** (G - 1 - c[:, None])
    diff = np.array([_advantage_of_first(estimator, a, int(ci), G, a, b) -
                     _advantage_of_first(estimator, b, int(ci), G, a, b) for ci in c])
    return np.asarray((prob * diff[:, None]).sum(0).reshape(qq.shape) / (a - b) if a != b else np.zeros(qq.shape))


def _advantage_of_first(est: Estimator, r0: float, correct_others: int, G: int, a: float, b: float) -> float:
    """A of a response with reward r0 when c of the other G − 1 have reward a (the rest b)."""
    r = np.array([r0] + [a] * correct_others + [b] * (G - 1 - correct_others), dtype=float)
    if isinstance(est, Reinforce):
        return float(r[0])  # a batch baseline is a constant in the large-batch limit
    if isinstance(est, RLOO):
        return float(r[0] - r[1:].mean())
    if isinstance(est, GRPO):
        A = r[0] - r.mean()
        if est.scale == "group" and np.any(r != r[0]):  # an all-equal group has A = 0
            A /= r.std(ddof=1) + est.eps
        return float(A)  # "batch": a constant positive scale in the large-batch limit
    if isinstance(est, PassAtK):
        c0, c_others = float(r0 == a), correct_others
        n, k = G - 1, est.k
        out = c0 * k * _miss(n, c_others, k - 1)
        if est.baseline == "loo":
            out -= 1.0 - _miss(n, c_others, k)
        return out
    raise TypeError(f"no exact expected update for {type(est).__name__}")


def _miss(n: int, c: int, j: int) -> float:
    return 0.0 if n - c < j else math.comb(n - c, j) / math.comb(n, j)


def expected_update(model: LinearARModel, x: Any, y_star: Any, reward: RewardLike = "outcome",
                    estimator: Optional[Estimator] = None) -> np.ndarray:
    """The mean ascent direction per response of an estimator's step (module docstring),
    averaged over the contexts (flip noise is not modelled here: flip_prob must be 0)."""
    model, x, y_star = _inputs(model, x, y_star)
    r = make_reward(reward)
    if r.external or r.false_positive or r.false_negative or not r.correct.is_exact or r.jitter or r.window:
        raise ValueError("expected_update needs a built-in, noise-free reward with the single answer y*")
    est = Reinforce() if estimator is None else estimator
    a, b = r.values
    Q = np.exp(_prefix_logs(model, x, y_star))
    if r.kind == "process":
        if not isinstance(est, Reinforce) or est.group_size != 1:
            raise ValueError("expected_update for process rewards: Reinforce with group_size 1 only")
        weights = (a - b) * Q  # Σ_i Q_i ∇log π(y*_i | y*_<i)
    else:
        q = Q[:, -1]
        weights = group_weight(est, q, (a, b)) * (a - b) * q
    out: np.ndarray = model.grad_log_prob(x, y_star, weights=np.ascontiguousarray(weights)) / x.shape[0]
    return out


def token_kl(model: LinearARModel, reference: LinearARModel, x: Any, y: Any) -> Dict[str, np.ndarray]:
    """Along given responses y (B, N): the exact per-token KL(π(·|s) ‖ π_ref(·|s)) and the sampled
    estimators at the drawn tokens, k1 = −log ρ, k2 = ½(log ρ)², k3 = ρ − 1 − log ρ
    (ρ = π_ref(y|s)/π(y|s)); each (B, N). Along responses drawn from the model, each k has the
    exact KL as its mean at every prefix (k3, k1) or approximates it (k2)."""
    model = check_model(model)
    reference = check_model(reference, "reference")
    if reference.config() != model.config():
        raise ValueError(f"reference has {reference.config()}, the model {model.config()}")
    x = v.contexts(x, model.context_dim)
    y = v.tokens(y, (x.shape[0], model.seq_len), model.vocab_size)
    kl, log_rho = model._h.kl_along(reference._h, x, y, v.n_threads(None))
    return {"kl": kl, "k1": -log_rho, "k2": 0.5 * log_rho ** 2, "k3": np.expm1(log_rho) - log_rho}


def _enumerate(model: LinearARModel, x: np.ndarray, y_star: np.ndarray, kind: str, a: float, b: float,
               noise: Tuple[float, float], kk: int) -> Tuple[float, np.ndarray]:
    """J and ∇J by summing over all k^N responses of every context."""
    k, N, B = model.vocab_size, model.seq_len, x.shape[0]
    if k ** N > MAX_ENUMERATION:
        raise ValueError(f"enumeration of {k}^{N} responses is too large (at most {MAX_ENUMERATION})")
    if kind == "pass@k":
        raise ValueError("method='enumerate' covers the outcome and process rewards")
    fp, fn = noise
    ys = np.array(list(itertools.product(range(k), repeat=N)), dtype=np.int32)
    J, grad = 0.0, np.zeros(model.num_params)
    for bi in range(B):
        xb = np.repeat(x[bi:bi + 1], len(ys), axis=0)
        pi = np.exp(model.log_prob(xb, ys))
        wrong = ys != y_star[bi]
        first = np.where(wrong.any(1), wrong.argmax(1), N)
        if kind == "outcome":
            er = b + (a - b) * (fp + (1 - fp - fn) * (first == N))        # E[r(y)]
            J += float(pi @ er)
            weights = (pi * er)[:, None] * np.ones((1, N))                # π(y) E[r] ∇log π(y)
        else:
            eri = b + (a - b) * (fp + (1 - fp - fn) * (np.arange(N)[None, :] < first[:, None]))  # E[r_i(y)]
            J += float(pi @ eri.sum(1))
            weights = pi[:, None] * np.cumsum(eri[:, ::-1], axis=1)[:, ::-1]  # token j: Σ_{i≥j} E[r_i]
        grad += model.grad_log_prob(xb, ys, weights=np.ascontiguousarray(weights))
    return J / B, grad / B


__all__ = ["expected_update", "group_weight", "objective", "policy_gradient", "token_kl"]
