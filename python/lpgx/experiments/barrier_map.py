"""The barrier map: which mixture centres should a run's query budget learn, and did it?

The theory's query counts (``docs/theory.md`` §5, §6.4) turn the base model's likelihoods
into a prediction per centre. With Q reward queries spread over M equally likely centres,
each centre's neighbourhood gets about Q/M queries.

- **Outcome reward.** A context with base likelihood α = q0(y*|c) needs about 1/α queries
  before its first success (§5, the LQ of the base model). Predicted learned when
  α · Q/M ≥ 1.
- **Process reward.** Position i of y* needs about 1/q0(y*_i | c, y*_<i) queries once the
  prefix before it is learned, and the positions add rather than multiply (§6.4, the
  Õ(N · min(1/LQ^TL, k)) of Algorithm 2, without the k cap because on-policy sampling
  explores no uniform part). Predicted learned when Σ_i 1/q0(y*_i | c, y*_<i) ≤ Q/M. The
  bound of §6.4 replaces each term by the worst one, N / q_TL with the token-level worst
  likelihood q_TL = min_i q0(y*_i | …) of §5; both are recorded.

A centre is observed learned when its final likelihood is at least 1/2. The prediction
treats every centre as alone; contexts share the model's parameters, which is one reason
the two can disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

import numpy as np

LEARNED = 0.5
REWARDS = ("outcome", "process")


def token_profile(token_log_lik: Any) -> Dict[str, np.ndarray]:
    """The base token-level profile along y* of each context.

    Parameters
    ----------
    token_log_lik : (M, N) array
        log q0(y*_i | c, y*_<i) per context and position.

    Returns
    -------
    dict
        ``min_token_log_lik`` (M,): log q_TL = min_i log q0(y*_i | …);
        ``log_prm_cost`` (M,): log Σ_i 1/q0(y*_i | …), the process reward's query count.
    """
    t = np.asarray(token_log_lik, dtype=float)
    if t.ndim != 2 or t.shape[1] == 0:
        raise ValueError(f"token_log_lik must be an (M, N) array with N >= 1, got shape {t.shape}")
    if np.any(t > 1e-12) or np.any(np.isnan(t)):
        raise ValueError("token_log_lik must hold log-probabilities (<= 0, not NaN)")
    neg = -t
    top = neg.max(1)  # log-sum-exp of −log q, stable for tokens of likelihood 1e-300
    cost = top + np.log(np.exp(neg - top[:, None]).sum(1))
    return {"min_token_log_lik": t.min(1), "log_prm_cost": cost}


def predict(reward: str, base_log_lik: Any, log_prm_cost: Any, queries: float, num_centres: int) -> np.ndarray:
    """Which centres a run of ``queries`` reward queries is predicted to learn.

    Parameters
    ----------
    reward : {"outcome", "process"}
    base_log_lik : (M,) array
        log q0(y*|c).
    log_prm_cost : (M,) array
        log Σ_i 1/q0(y*_i | c, y*_<i) (:func:`token_profile`); read for the process reward.
    queries : float
        The run's reward queries, Q.
    num_centres : int
        M, the centres the queries are spread over (uniformly).

    Returns
    -------
    numpy.ndarray of bool, (M,)
        outcome: log α + log(Q/M) ≥ 0; process: log Σ_i 1/q0_i ≤ log(Q/M).
    """
    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
    if not np.isfinite(queries) or queries <= 0:
        raise ValueError(f"queries must be a positive number, got {queries!r}")
    if not isinstance(num_centres, (int, np.integer)) or num_centres < 1:
        raise ValueError(f"num_centres must be a positive integer, got {num_centres!r}")
    per_centre = np.log(float(queries) / int(num_centres))
    if reward == "outcome":
        out: np.ndarray = np.asarray(base_log_lik, dtype=float) + per_centre >= 0.0
    else:
        out = np.asarray(log_prm_cost, dtype=float) <= per_centre
    return out


def centre_typicality(task: Any, n: int = 4096, rng: Any = 0) -> Dict[str, np.ndarray]:
    """How typical each mixture centre's y* is of the contexts drawn around it.

    Draws ``n`` contexts from ``task`` (a mixture :class:`lpgx.TeacherTask`), assigns each to
    its nearest centre, and compares their correct responses with the centre's.

    Returns
    -------
    dict
        ``same`` (M,): fraction of the centre's contexts whose y* equals the centre's;
        ``positions`` (M,): mean fraction of positions where they agree. A centre whose y*
        is rare among its neighbours is pulled away from it by learning them: the
        parameters are shared.
    """
    centres, y_centre = task.centres()
    x, y = task.sample(n, rng=rng)
    owner = np.argmax(x @ centres.T, axis=1)  # the centres are orthogonal, of equal norm
    m = len(centres)
    same, positions = np.full(m, np.nan), np.full(m, np.nan)
    for j in range(m):
        mine = owner == j
        if mine.any():
            agree = y[mine] == y_centre[j]
            same[j] = agree.all(1).mean()
            positions[j] = agree.mean()
    return {"same": same, "positions": positions}


def observed(final_log_lik: Any, threshold: float = LEARNED) -> np.ndarray:
    """Centres whose final likelihood is at least ``threshold`` (default 1/2)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold!r}")
    out: np.ndarray = np.asarray(final_log_lik, dtype=float) >= np.log(threshold)
    return out


@dataclass(frozen=True)
class Confusion:
    """Predicted vs observed learned, counted over centres (and seeds)."""

    both: int          #: predicted learned, learned
    missed: int        #: predicted learned, not learned
    surprise: int      #: predicted not learned, learned
    neither: int       #: predicted not learned, not learned

    @property
    def total(self) -> int:
        return self.both + self.missed + self.surprise + self.neither

    @property
    def agreement(self) -> float:
        return (self.both + self.neither) / self.total if self.total else float("nan")

    def markdown(self, title: str = "") -> str:
        return "\n".join([
            f"| {title} | observed learned | observed not learned |", "|---|---|---|",
            f"| predicted learned | {self.both} | {self.missed} |",
            f"| predicted not learned | {self.surprise} | {self.neither} |"])


def confusion(predicted: Any, learned: Any) -> Confusion:
    """The 2×2 table of ``predicted`` against ``learned`` (bool arrays of one shape)."""
    p, o = np.asarray(predicted, dtype=bool), np.asarray(learned, dtype=bool)
    if p.shape != o.shape:
        raise ValueError(f"predicted has shape {p.shape}, learned {o.shape}")
    return Confusion(int((p & o).sum()), int((p & ~o).sum()), int((~p & o).sum()), int((~p & ~o).sum()))


def plot_barrier_map(base_log_lik: Dict[str, np.ndarray], final_log_lik: Dict[str, np.ndarray],
                     predicted: Dict[str, np.ndarray], queries: Dict[str, float], num_centres: int,
                     ax: Optional[Any] = None) -> Any:
    """One panel per reward: log10 base likelihood against log10 final likelihood of every
    centre, coloured by the prediction, with the outcome reward's threshold α = M/Q.
    Returns the Figure."""
    from .. import plotting
    plt = plotting.pyplot()
    names = list(final_log_lik)
    if ax is None:
        fig, axes = plt.subplots(1, len(names), figsize=(6.2 * len(names), 4.6), squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    ln10 = np.log(10.0)
    for a, name in zip(axes, names):
        b, f, p = base_log_lik[name] / ln10, np.maximum(final_log_lik[name] / ln10, -60.0), predicted[name]
        a.scatter(b[p], f[p], s=12, color="tab:green", alpha=0.7, label="predicted learned")
        a.scatter(b[~p], f[~p], s=12, color="tab:red", alpha=0.7, label="predicted not learned")
        a.axhline(np.log10(LEARNED), color="grey", lw=0.8, ls="--")
        if name == "outcome":
            a.axvline(np.log10(num_centres / queries[name]), color="k", lw=0.8, ls=":", label="α = M/Q")
        a.set_xlabel("log10 base likelihood q0(y*|centre)")
        a.set_ylabel("log10 final likelihood (floored at −60)")
        a.set_title(f"{plotting.LABELS.get(name, name)}: {len(b)} centres")
        a.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
