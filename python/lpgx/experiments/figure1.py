"""Figure 1 of the paper: outcome vs process rewards after pre-training (SPEC §9).

d = k = 32, N = 128, mixture inputs (M = 32, σ = 0.05), default model from w = 0.
Pre-training: 1000 steps, batch 256, Adagrad lr 0.1. Post-training from the same base:
4000 steps, batch 1024, Adagrad lr 0.1, on-policy; ORM ±1 with batch-mean baseline, PRM ±1
per prefix without baseline. Test error every 50 steps on 1024 contexts; the likelihood of
every mixture centre tracked every step. Off-support centres: base likelihood < 1e-12.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np

from .. import _rng
from ..model import LinearARModel
from ..optim import Adagrad
from ..tasks import TeacherTask
from ..training import TrainResult, post_train, pretrain
from ._artifacts import finish, load_artifact, save_artifact, settings

PAPER = dict(context_dim=32, vocab_size=32, seq_len=128, num_mix=32, sigma=0.05, pre_steps=1000, pre_batch=256,
             pre_lr=0.1, post_steps=4000, post_batch=1024, post_lr=0.1, test_size=1024, test_every=50,
             track_every=1, off_support=1e-12, rewards=("outcome", "process"))
# A smaller setting that still shows the gap in well under a minute on two cores.
QUICK = dict(seq_len=64, pre_steps=300, post_steps=400, post_batch=256, test_size=512, test_every=25,
             off_support=1e-6)


@dataclass(frozen=True)
class Figure1Result:
    """Everything Figure 1 plots, per reward kind."""

    config: Dict[str, Any]
    base_centre_log_lik: np.ndarray                 #: (M,) log q0(y*|centre) of the base model
    pretrain: TrainResult
    post: Dict[str, TrainResult] = field(default_factory=dict)

    @property
    def off_support(self) -> np.ndarray:
        """Mask of centres whose base likelihood is below the off-support threshold."""
        mask: np.ndarray = self.base_centre_log_lik < np.log(self.config["off_support"])
        return mask

    def off_support_mean_likelihood(self, reward: str) -> np.ndarray:
        """Mean likelihood of the off-support centres at every tracked step (NaN if none)."""
        r = self.post[reward]
        q = np.exp(r.tracked_log_lik[:, self.off_support])
        return q.mean(1) if q.shape[1] else np.full(len(r.track_steps), np.nan)

    def summary(self, steps: Sequence[int] = (0, 500, 1000, 4000)) -> Dict[str, Any]:
        """Test error of each reward at the given steps (nearest measured), off-support numbers."""
        out: Dict[str, Any] = {"seed": self.config["seed"], "n_off_support": int(self.off_support.sum()),
                               "n_centres": int(self.off_support.size)}
        for name, r in self.post.items():
            for s in steps:
                if s <= r.test_steps[-1]:
                    i = int(np.argmin(np.abs(r.test_steps - s)))
                    out[f"{name}_test_error@{int(r.test_steps[i])}"] = float(r.test_error[i])
            out[f"{name}_off_support_mean_lik_end"] = float(self.off_support_mean_likelihood(name)[-1])
            out[f"{name}_seconds"] = r.seconds
        out["pretrain_seconds"] = self.pretrain.seconds
        return out

    def to_pandas(self) -> Any:
        from .._optional import require
        return require("pandas").DataFrame([self.summary()])

    def save(self, out: Any) -> Path:
        arrays = {"base_centre_log_lik": self.base_centre_log_lik,
                  "pre_test_steps": self.pretrain.test_steps, "pre_test_error": self.pretrain.test_error}
        for name, r in self.post.items():
            for attr in ("test_steps", "test_error", "track_steps", "tracked_log_lik", "queries", "mean_reward",
                         "success"):
                arrays[f"{name}_{attr}"] = getattr(r, attr)
        seconds = {"pretrain": self.pretrain.seconds, **{n: r.seconds for n, r in self.post.items()}}
        return save_artifact(out, "figure1", arrays, dict(self.config, seconds=seconds))

    @classmethod
    def load(cls, out: Any) -> "Figure1Result":
        a, cfg = load_artifact(out, "figure1")
        sec = cfg.get("seconds", {})
        empty = np.zeros(0)
        pre = TrainResult(a["pre_test_steps"], a["pre_test_error"], empty.astype(np.int64), np.zeros((0, 0)),
                          empty.astype(np.int64), empty, empty, sec.get("pretrain", np.nan), cfg["pre_steps"], {})
        post = {n: TrainResult(a[f"{n}_test_steps"], a[f"{n}_test_error"], a[f"{n}_track_steps"],
                               a[f"{n}_tracked_log_lik"], a[f"{n}_queries"], a[f"{n}_mean_reward"],
                               a[f"{n}_success"], sec.get(n, np.nan), len(a[f"{n}_queries"]), {})
                for n in cfg["rewards"]}
        return cls(cfg, a["base_centre_log_lik"], pre, post)

    def plot(self, out: Optional[Any] = None) -> Any:
        """The three panels; written as figure1.png and figure1.pdf when ``out`` is given."""
        from ..plotting import plot_figure1
        return plot_figure1(self, out)


def figure1(out: Optional[Any] = None, seed: int = 0, quick: bool = False, n_threads: Optional[int] = None,
            progress: bool = False, plot: bool = True, **overrides: Any) -> Figure1Result:
    """Reproduce Figure 1 (ORM vs PRM). Paper settings by default, ``quick=True`` for a
    small version; any setting can be overridden by keyword (see ``PAPER``). With ``out``,
    saves ``figure1.npz`` + ``figure1.json`` (and the plots if matplotlib is installed)."""
    cfg = dict(settings(PAPER, QUICK, quick, overrides, "figure1"), seed=int(seed))
    cfg["rewards"] = list(cfg["rewards"])
    ss = np.random.SeedSequence(int(seed))
    task_rng, pre_rng, test_rng, post_rng = ss.spawn(4)
    t0 = time.perf_counter()
    task = TeacherTask(cfg["context_dim"], cfg["vocab_size"], cfg["seq_len"], inputs="mixture",
                       num_mix=cfg["num_mix"], sigma=cfg["sigma"], rng=task_rng)
    model = LinearARModel(cfg["vocab_size"], cfg["seq_len"], cfg["context_dim"])
    test = task.sample(cfg["test_size"], rng=test_rng)
    centres = task.centres()
    pre = pretrain(model, task, cfg["pre_steps"], cfg["pre_batch"], Adagrad(lr=cfg["pre_lr"]), rng=pre_rng,
                   test=test, test_every=cfg["test_every"], progress=progress, n_threads=n_threads)
    base_ll = model.log_prob(*centres)
    post_seed = _rng.key(post_rng)  # both rewards see the same contexts at every step
    post = {}
    for reward in cfg["rewards"]:
        m = model.copy()
        post[reward] = post_train(m, task, reward=reward, steps=cfg["post_steps"], batch_size=cfg["post_batch"],
                                  optimizer=Adagrad(lr=cfg["post_lr"]), rng=post_seed, test=test,
                                  test_every=cfg["test_every"], track=centres, track_every=cfg["track_every"],
                                  progress=progress, n_threads=n_threads)
    cfg["total_seconds"] = time.perf_counter() - t0
    return finish(Figure1Result(cfg, base_ll, pre, post), out, plot)
