"""Figure 2 (synthetic): the Likelihood Quantile over pre-training (SPEC §9).

d = 32, k = 10, N = 100, Rademacher inputs; 10 phases of 500 supervised steps (batch 256,
Adagrad lr 1.0, optimizer state reset each phase); after each phase the log-likelihood
log q(y*|x) on 16384 fresh contexts, from which the CDF, LQ(ε) and the alpha-tail follow.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from ..measures import quantile_of_log_values
from ..model import LinearARModel
from ..optim import Adagrad
from ..tasks import TeacherTask
from ..training import pretrain
from ._artifacts import finish, load_artifact, save_artifact, settings

PAPER = dict(context_dim=32, vocab_size=10, seq_len=100, phases=10, phase_steps=500, batch_size=256, lr=1.0,
             eval_size=16384)
QUICK = dict(phases=5, phase_steps=100, eval_size=4096)


@dataclass(frozen=True)
class Figure2Result:
    config: Dict[str, Any]
    steps: np.ndarray     #: (P,) pre-training steps at each checkpoint
    log_lik: np.ndarray   #: (P, n) log q(y*|x) on the evaluation contexts

    def cdf(self, alpha: np.ndarray) -> np.ndarray:
        """(P, len(alpha)) P_x(q(y*|x) ≤ α) per checkpoint."""
        la = np.log(np.asarray(alpha, dtype=float))
        return np.stack([np.searchsorted(np.sort(ll), la, side="right") / ll.size for ll in self.log_lik])

    def lq(self, eps: np.ndarray, log: bool = False) -> np.ndarray:
        """(P, len(eps)) LQ(ε) per checkpoint."""
        return np.stack([np.atleast_1d(quantile_of_log_values(ll, eps, log=log)) for ll in self.log_lik])

    def alpha_tail(self, alpha: np.ndarray) -> np.ndarray:
        return np.asarray(alpha)[None, :] * (1.0 - self.cdf(alpha))

    def save(self, out: Any) -> Path:
        return save_artifact(out, "figure2", {"steps": self.steps, "log_lik": self.log_lik}, self.config)

    @classmethod
    def load(cls, out: Any) -> "Figure2Result":
        a, cfg = load_artifact(out, "figure2")
        return cls(cfg, a["steps"], a["log_lik"])

    def plot(self, out: Optional[Any] = None) -> Any:
        from ..plotting import plot_figure2
        return plot_figure2(self, out)


def figure2(out: Optional[Any] = None, seed: int = 0, quick: bool = False, n_threads: Optional[int] = None,
            progress: bool = False, plot: bool = True, **overrides: Any) -> Figure2Result:
    """Reproduce the synthetic Figure 2: LQ of the pre-trained model after each phase."""
    cfg = dict(settings(PAPER, QUICK, quick, overrides, "figure2"), seed=int(seed))
    ss = np.random.SeedSequence(int(seed))
    task_rng, eval_rng, *phase_rngs = ss.spawn(2 + cfg["phases"])
    t0 = time.perf_counter()
    task = TeacherTask(cfg["context_dim"], cfg["vocab_size"], cfg["seq_len"], inputs="rademacher", rng=task_rng)
    model = LinearARModel(cfg["vocab_size"], cfg["seq_len"], cfg["context_dim"])
    x, y = task.sample(cfg["eval_size"], rng=eval_rng)
    steps, log_lik = [], []
    for p in range(cfg["phases"]):
        pretrain(model, task, cfg["phase_steps"], cfg["batch_size"], Adagrad(lr=cfg["lr"]), rng=phase_rngs[p],
                 progress=progress, n_threads=n_threads)
        steps.append((p + 1) * cfg["phase_steps"])
        log_lik.append(model.log_prob(x, y, n_threads=n_threads))
    cfg["total_seconds"] = time.perf_counter() - t0
    return finish(Figure2Result(cfg, np.array(steps), np.array(log_lik)), out, plot)
