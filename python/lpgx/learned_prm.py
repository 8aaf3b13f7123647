"""A process reward learned from outcome labels (docs/theory.md §4): the imperfect PRM that
practice has, bought with a budget of ORM queries.

``budget`` contexts x_n are drawn from the task, one response y_n ~ π(·|x_n) each from the
model, and an outcome reward labels them ℓ_n ∈ {0, 1} (one query each). For every position i
and token c a logistic model on the model's own context features,

    s_{i,c}(x) = σ(θ_{i,c} · [x, 1]),

is fitted on the samples with y_{n,i} = c, with class-balanced weights (each class weighs
half) and an L2 penalty: per group g = (i, c) it minimises

    (1/n) Σ_{n ∈ g} w_n [log(1 + e^{z_n}) − ℓ_n z_n] + (λ/2)‖θ_g‖²,     z_n = θ_g · [x_n, 1].

A wrong token is never in a correct response, so its label is always 0; a correct token is in
one with the probability that the rest is right, which balanced weights compare with the base
rate. Where that probability stays above the base rate and the model can express it (a
combination lock, say), the rule "s_{j,y_j}(x) ≥ 1/2 for every j ≤ i" approaches the exact
PRM's verdict on the prefix y_1..i as the budget grows; elsewhere it errs systematically
(correct tokens of contexts the policy usually fails are rejected), and with a small budget
(or no correct sample, when every prefix is rejected) it errs both ways. Fitted by
accelerated gradient descent (each group's step 1/L_g from its own smoothness bound).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from . import _rng
from . import _validate as v
from .model import LinearARModel, check_model
from .rewards import CallableReward, OutcomeReward, _Reward
from .tasks import check_task


class LearnedPRM:
    """A fitted per-position logistic PRM (module docstring). ``coef`` has shape (N, k, d + 1)
    (the last entry is the intercept)."""

    def __init__(self, coef: Any, budget: int = 0, positives: int = 0) -> None:
        c = np.asarray(coef, dtype=np.float64)
        if c.ndim != 3 or c.shape[2] < 2:
            raise ValueError(f"coef must have shape (N, k, d + 1), got {c.shape}")
        if not np.all(np.isfinite(c)):
            raise ValueError("coef must be finite")
        self.coef = c
        self.coef.flags.writeable = False
        self.budget, self.positives = int(budget), int(positives)

    @property
    def seq_len(self) -> int:
        return int(self.coef.shape[0])

    @property
    def vocab_size(self) -> int:
        return int(self.coef.shape[1])

    @property
    def context_dim(self) -> int:
        return int(self.coef.shape[2] - 1)

    def scores(self, x: Any, y: Any) -> np.ndarray:
        """s_{i,y_i}(x) per response and position, (B, N)."""
        xx = v.contexts(x, self.context_dim)
        yy = v.tokens(y, (xx.shape[0], self.seq_len), self.vocab_size, "y")
        x1 = np.concatenate([xx, np.ones((xx.shape[0], 1))], 1)
        theta = self.coef[np.arange(self.seq_len)[None, :], yy]           # (B, N, d + 1)
        z = np.einsum("bd,bnd->bn", x1, theta)
        out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z) without overflow
        return out

    def verdicts(self, x: Any, y: Any) -> np.ndarray:
        """Whether each prefix y_1..i is judged correct, (B, N): every token so far scores ≥ 1/2."""
        out: np.ndarray = np.logical_and.accumulate(self.scores(x, y) >= 0.5, axis=1)
        return out

    def reward(self, values: Sequence[float] = (1.0, -1.0)) -> CallableReward:
        """The learned PRM as a process reward for :func:`lpgx.post_train`: r_i = values[0] where
        the prefix is judged correct, else values[1] (one query per response)."""
        pos, neg = v.finite_float(values[0], "values[0]"), v.finite_float(values[1], "values[1]")

        def judge(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return np.where(self.verdicts(x, y), pos, neg)
        reward = CallableReward(judge, kind="process")
        reward.values = (pos, neg)
        return reward

    def agreement(self, x: Any, y: Any, y_star: Any) -> Dict[str, float]:
        """How the verdicts on responses y compare with the exact PRM's against y*: the fraction
        of prefixes judged right, and the rates of accepted wrong prefixes (false_positive) and
        rejected correct ones (false_negative; NaN where a kind is absent)."""
        said = self.verdicts(x, y)
        ys = v.tokens(y_star, said.shape, self.vocab_size, "y_star")
        truth = np.logical_and.accumulate(np.asarray(y) == ys, axis=1)
        fp = float(said[~truth].mean()) if (~truth).any() else float("nan")
        fn = float((~said[truth]).mean()) if truth.any() else float("nan")
        return {"accuracy": float((said == truth).mean()), "false_positive": fp, "false_negative": fn}

    def config(self) -> Dict[str, Any]:
        return {"kind": "learned_prm", "seq_len": self.seq_len, "vocab_size": self.vocab_size,
                "context_dim": self.context_dim, "budget": self.budget, "positives": self.positives}

    def __repr__(self) -> str:
        return (f"LearnedPRM(seq_len={self.seq_len}, vocab_size={self.vocab_size}, context_dim={self.context_dim}, "
                f"budget={self.budget}, positives={self.positives})")


def fit_groups(features: np.ndarray, groups: np.ndarray, labels: np.ndarray, weights: np.ndarray, n_groups: int,
               l2: float, iters: int) -> np.ndarray:
    """θ_g for every group: the weighted, L2-penalised logistic fits of the module docstring.
    Row r has features x̃_r (D,), group g_r < n_groups, label ℓ_r ∈ {0, 1} and weight w_r (the
    w_n/n of the module docstring). Returns (n_groups, D); a group without rows stays at 0."""
    D = features.shape[1]
    order = np.argsort(groups, kind="stable")
    g, X, lab, w = groups[order], features[order], labels[order], weights[order]
    counts = np.bincount(g, minlength=n_groups)
    present = np.flatnonzero(counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[present]
    # ∇² ≤ (1/4) Σ w x xᵀ + λ ≤ ((1/4) Σ w ‖x‖² + λ) I: each group's own step size
    lipschitz = 0.25 * np.bincount(g, w * (X * X).sum(1), minlength=n_groups) + l2
    theta = np.zeros((n_groups, D))
    look = theta.copy()
    t = 1.0
    for _ in range(iters):
        z = np.einsum("rd,rd->r", X, np.repeat(look, counts, axis=0))
        res = w * (0.5 * (1.0 + np.tanh(0.5 * z)) - lab)
        grad = l2 * look
        if len(present):
            grad[present] += np.add.reduceat(res[:, None] * X, starts, axis=0)
        new = look - grad / lipschitz[:, None]
        t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        look = new + ((t - 1.0) / t_next) * (new - theta)
        theta, t = new, t_next
    return theta


def learn_prm(model: LinearARModel, task: Any, budget: int, reward: Optional[_Reward] = None, l2: float = 1e-3,
              iters: int = 100, rng: _rng.RNGLike = None, n_threads: Optional[int] = None) -> LearnedPRM:
    """Learn a process reward from ``budget`` outcome-labelled responses of ``model`` (module
    docstring).

    Parameters
    ----------
    model : LinearARModel
        The policy whose own samples are labelled (usually the base model).
    task : TeacherTask or FiniteTask
        Draws the contexts and their answers y*.
    budget : int
        Responses labelled, one ORM query each (``reward.queries`` grows by it).
    reward : OutcomeReward, optional
        The labelling verifier (its noise and correct set apply); exact by default.
    l2 : float
        λ, the L2 penalty of each logistic fit.
    iters : int
        Accelerated gradient steps.
    rng : int, Generator, SeedSequence or None
        Draws the contexts, the responses and the labels' noise.
    """
    model = check_model(model)
    task = check_task(task, model)
    n = v.positive_int(budget, "budget")
    lam = v.finite_float(l2, "l2", 0.0)
    if lam <= 0:
        raise ValueError(f"l2 must be > 0 (it keeps a group without both labels bounded), got {lam}")
    iters = v.positive_int(iters, "iters")
    rew = OutcomeReward(values=(1.0, 0.0)) if reward is None else reward
    if not isinstance(rew, _Reward) or rew.external or rew.kind != "outcome":
        raise TypeError("reward must be a built-in lpgx.OutcomeReward (the labels are outcome verdicts)")
    N, k, d = model.seq_len, model.vocab_size, model.context_dim
    v.check_bytes(8.0 * n * N * (d + 4), "the learned PRM's training rows")
    gen = _rng.generator(rng)
    draw, sample, noise = gen.spawn(3)
    x, y_star = task.sample(n, rng=draw)
    y = np.asarray(model.sample(x, rng=sample, n_threads=n_threads))
    verdict = np.asarray(rew(y, y_star, rng=noise))
    label = (verdict == rew.values[0]).astype(float)
    positives = int(label.sum())
    # each class weighs half of the loss (a class that is absent weighs nothing)
    frac = np.array([1.0 - label.mean(), label.mean()])
    per_class = np.where(frac > 0, 0.5 / np.maximum(frac, 1e-300), 0.0)
    w = per_class[label.astype(int)] / n
    x1 = np.concatenate([x, np.ones((n, 1))], 1)
    rows = np.repeat(np.arange(n), N)
    groups = (np.tile(np.arange(N), n) * k + y.reshape(-1)).astype(np.int64)
    theta = fit_groups(x1[rows], groups, label[rows], w[rows], N * k, lam, iters)
    return LearnedPRM(theta.reshape(N, k, d + 1), budget=n, positives=positives)


__all__ = ["LearnedPRM", "fit_groups", "learn_prm"]
