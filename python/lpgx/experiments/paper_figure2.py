"""Figure 2 (synthetic): the Likelihood Quantile over pre-training (``docs/theory.md`` §5, §9).

d = 32, k = 10, N = 100, Rademacher inputs; 10 phases of 500 supervised steps (batch 256,
Adagrad lr 1.0, optimizer state reset each phase); after each phase the log-likelihood
log q(y*|x) on 16384 fresh contexts, from which the CDF, LQ(ε) and the alpha-tail follow.
``figure2_settings()`` lists every setting.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from .. import _validate as v
from .. import plotting
from ..measures import quantile_of_log_values
from ..model import LinearARModel
from ..optim import Adagrad
from ..tasks import TeacherTask
from ..training import pretrain
from ._artifacts import finish, load_artifact, save_artifact
from ._settings import Setting, Settings, check_out, check_seed, count, fits_memory, real


def _joint(cfg: Dict[str, Any]) -> None:
    d, N = cfg["context_dim"], cfg["seq_len"]
    fits_memory(cfg["batch_size"] * (8.0 * d + 24.0 * N), f"batch_size={cfg['batch_size']}")
    fits_memory(32.0 * cfg["phase_steps"], f"phase_steps={cfg['phase_steps']} (the per-step records)")
    fits_memory(8.0 * cfg["eval_size"] * (d + N + cfg["phases"]), f"eval_size={cfg['eval_size']}")


SETTINGS = Settings("figure2", {
    "context_dim": Setting(32, count(), "d, the context dimension"),
    "vocab_size": Setting(10, count(), "k, the vocabulary size"),
    "seq_len": Setting(100, count(), "N, the response length"),
    "phases": Setting(10, count(), "pre-training phases (a checkpoint after each)", quick=5),
    "phase_steps": Setting(500, count(), "supervised steps per phase", quick=100),
    "batch_size": Setting(256, count(), "pre-training batch size"),
    "lr": Setting(1.0, real(0.0), "Adagrad learning rate (its state reset each phase)"),
    "eval_size": Setting(16384, count(), "fresh contexts for the likelihoods at each checkpoint", quick=4096),
}, _joint)


def figure2_settings(quick: bool = False) -> Dict[str, Any]:
    """Every setting of :func:`figure2` with its default (the quick ones with ``quick=True``);
    a fresh dict each call."""
    return SETTINGS.defaults(v.flag(quick, "quick"))


@dataclass(frozen=True)
class Figure2Result:
    """The likelihoods Figure 2 plots, at each pre-training checkpoint."""

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
        """CDF of q(y*|x), LQ(ε) and the alpha-tail, one curve per checkpoint. Returns the
        Figure; written as figure2.png and figure2.pdf when ``out`` is given."""
        plt = plotting.pyplot()
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
        # the bulk of the contexts, not the extreme tail, sets the α range
        ll_min = max(float(np.quantile(self.log_lik, 0.01)), -700.0)
        alpha = np.exp(np.linspace(ll_min, 0, 400))
        eps = np.linspace(0.01, 0.99, 99)
        cdf, lq, tail = self.cdf(alpha), self.lq(eps), self.alpha_tail(alpha)
        cmap = plt.get_cmap("plasma")
        P = len(self.steps)
        for p, s in enumerate(self.steps):
            c = cmap(p / max(P - 1, 1))
            axes[0].plot(alpha, cdf[p], color=c, label=f"{s} steps")
            axes[1].plot(eps, lq[p], color=c)
            axes[2].plot(alpha, tail[p], color=c)
        axes[0].set_xscale("log")
        axes[0].set_xlim(alpha[0], 1.0)
        axes[2].set_xlim(alpha[0], 1.0)
        axes[0].set_xlabel("α")
        axes[0].set_ylabel("P(q(y*|x) ≤ α)")
        axes[0].set_title("CDF of the correct-response likelihood")
        axes[0].legend(fontsize=7)
        axes[1].set_yscale("log")
        axes[1].set_xlabel("ε")
        axes[1].set_ylabel("LQ(ε)")
        axes[1].set_title("Likelihood Quantile")
        axes[2].set_xscale("log")
        axes[2].set_xlabel("α")
        axes[2].set_ylabel("α · P(q > α)")
        axes[2].set_title("alpha-tail")
        cfg = self.config
        fig.suptitle(f"Figure 2 (synthetic): d={cfg['context_dim']}, k={cfg['vocab_size']}, N={cfg['seq_len']}")
        fig.tight_layout()
        plotting.save(fig, out, "figure2")
        return fig


def figure2(out: Optional[Any] = None, seed: int = 0, quick: bool = False, n_threads: Optional[int] = None,
            progress: bool = False, plot: bool = True, **overrides: Any) -> Figure2Result:
    """Reproduce the synthetic Figure 2: LQ of the pre-trained model after each phase.
    Paper settings by default, ``quick=True`` for a small version; any setting can be
    overridden by keyword (see :func:`figure2_settings`). With ``out``, saves
    ``figure2.npz`` + ``figure2.json`` (and the plots if matplotlib is installed). Every
    argument is checked before the run starts."""
    cfg = dict(SETTINGS.resolve(v.flag(quick, "quick"), overrides), quick=bool(quick), seed=check_seed(seed))
    out = check_out(out)
    v.flag(plot, "plot")
    if n_threads is not None:
        v.n_threads(n_threads)
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
