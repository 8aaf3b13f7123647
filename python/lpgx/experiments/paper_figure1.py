"""Figure 1 of the paper: outcome vs process rewards after pre-training (``docs/theory.md`` §9).

d = k = 32, N = 128, mixture inputs (M = 32, σ = 0.05), default model from w = 0.
Pre-training: 1000 steps, batch 256, Adagrad lr 0.1. Post-training from the same base:
4000 steps, batch 1024, Adagrad lr 0.1, on-policy; ORM ±1 with batch-mean baseline, PRM ±1
per prefix without baseline. Test error every 50 steps on 1024 contexts; the likelihood of
every mixture centre tracked every step. Off-support centres: base likelihood < 1e-12.
``figure1_settings()`` lists every setting; ``quick=True`` is a smaller setting that still
shows the gap in well under a minute on two cores.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from .. import _rng
from .. import _validate as v
from .. import plotting
from ..model import LinearARModel
from ..optim import Adagrad
from ..rewards import KINDS
from ..tasks import TeacherTask
from ..training import TrainResult, post_train, pretrain
from ._artifacts import finish, load_artifact, save_artifact
from ._axes import axis_label, check_axis, run_axis
from ._settings import Setting, Settings, check_out, check_seed, choices, count, fits_memory, real


Pairs = Tuple[np.ndarray, np.ndarray]


def _joint(cfg: Dict[str, Any]) -> None:
    """The memory the run will ask for, refused up front as the library would refuse it midway."""
    d, N = cfg["context_dim"], cfg["seq_len"]
    for stage in ("pre", "post"):
        fits_memory(cfg[f"{stage}_batch"] * (8.0 * d + 24.0 * N), f"{stage}_batch={cfg[f'{stage}_batch']}")
        fits_memory(32.0 * cfg[f"{stage}_steps"], f"{stage}_steps={cfg[f'{stage}_steps']} (the per-step records)")
    fits_memory(8.0 * cfg["test_size"] * (d + N), f"test_size={cfg['test_size']}")
    fits_memory(8.0 * len(cfg["rewards"]) * (cfg["post_steps"] // cfg["track_every"] + 1) * cfg["num_mix"],
                f"post_steps={cfg['post_steps']} with track_every={cfg['track_every']} (the tracked likelihoods)")


SETTINGS = Settings("figure1", {
    "context_dim": Setting(32, count(), "d, the context dimension"),
    "vocab_size": Setting(32, count(), "k, the vocabulary size"),
    "seq_len": Setting(128, count(), "N, the response length", quick=64),
    "num_mix": Setting(32, count(), "M, the mixture centres the contexts are drawn around"),
    "sigma": Setting(0.05, real(0.0), "σ, the spread of the contexts around their centre"),
    "pre_steps": Setting(1000, count(0), "pre-training steps", quick=300),
    "pre_batch": Setting(256, count(), "pre-training batch size"),
    "pre_lr": Setting(0.1, real(0.0), "pre-training Adagrad learning rate"),
    "post_steps": Setting(4000, count(), "post-training steps", quick=400),
    "post_batch": Setting(1024, count(), "post-training batch size", quick=256),
    "post_lr": Setting(0.1, real(0.0), "post-training Adagrad learning rate"),
    "test_size": Setting(1024, count(), "test contexts", quick=512),
    "test_every": Setting(50, count(), "steps between test-error measurements", quick=25),
    "track_every": Setting(1, count(), "steps between likelihoods of the centres"),
    "off_support": Setting(1e-12, real(0.0, 1.0, open_low=True),
                           "base likelihood below which a centre is off-support", quick=1e-6),
    "rewards": Setting(["outcome", "process"], choices(KINDS), "the rewards to post-train with"),
}, _joint)


def figure1_settings(quick: bool = False) -> Dict[str, Any]:
    """Every setting of :func:`figure1` with its default (the quick ones with ``quick=True``);
    a fresh dict each call."""
    return SETTINGS.defaults(v.flag(quick, "quick"))


@dataclass(frozen=True)
class Figure1Result:
    """Everything Figure 1 plots, per reward kind."""

    config: Dict[str, Any]
    base_centre_log_lik: np.ndarray                 #: (M,) log q0(y*|centre) of the base model
    pretrain: TrainResult
    post: Dict[str, TrainResult] = field(default_factory=dict)
    #: (M, N) log q0(y*_i | centre, y*_<i) of the base model along each centre's y* (empty if not recorded)
    base_centre_token_log_lik: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

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

    def summary(self, steps: Sequence[int] = (0, 500, 1000, 4000), at: Optional[Sequence[float]] = None,
                x: str = "steps") -> Dict[str, Any]:
        """Test error of each reward at the given points of the ``x`` axis (nearest measured),
        off-support numbers.

        Parameters
        ----------
        steps : sequence of int
            Post-training steps to report (used when ``at`` is None).
        at : sequence of float, optional
            Points of the ``x`` axis to report; each is matched to the nearest test
            measurement of each run (runs whose axis ends before a point skip it).
        x : {"steps", "queries", "tokens"}
            The training axis (:func:`lpgx.experiments._axes.run_axis`); keys read
            ``<reward>_test_error@<value>`` with the measured value of the axis.
        """
        x = check_axis(x)
        points = list(steps) if at is None else list(at)
        suffix = "" if x == "steps" else f" {x}"
        out: Dict[str, Any] = {"seed": self.config["seed"], "n_off_support": int(self.off_support.sum()),
                               "n_centres": int(self.off_support.size)}
        for name, r in self.post.items():
            axis = self.axis(name, x)
            for s in points:
                if s <= axis[-1]:
                    i = int(np.argmin(np.abs(axis - s)))
                    out[f"{name}_test_error@{int(axis[i])}{suffix}"] = float(r.test_error[i])
            out[f"{name}_off_support_mean_lik_end"] = float(self.off_support_mean_likelihood(name)[-1])
            out[f"{name}_seconds"] = r.seconds
        out["pretrain_seconds"] = self.pretrain.seconds
        return out

    def axis(self, reward: str, x: str = "steps", tracked: bool = False) -> np.ndarray:
        """The ``x`` axis (steps, cumulative reward queries or sampled tokens) of a reward's run at
        its test measurements (or at its tracked steps with ``tracked=True``)."""
        r = self.post[reward]
        return run_axis(r, r.track_steps if tracked else r.test_steps, x)

    def to_pandas(self) -> Any:
        from .._optional import require
        return require("pandas").DataFrame([self.summary()])

    def save(self, out: Any) -> Path:
        arrays = {"base_centre_log_lik": self.base_centre_log_lik,
                  "pre_test_steps": self.pretrain.test_steps, "pre_test_error": self.pretrain.test_error,
                  "base_centre_token_log_lik": self.base_centre_token_log_lik}
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
        return cls(cfg, a["base_centre_log_lik"], pre, post,
                   a.get("base_centre_token_log_lik", np.zeros((0, 0))))

    def plot(self, out: Optional[Any] = None, x: str = "steps") -> Any:
        """(a) mean likelihood of the off-support centres; (b) test error; (c) ORM likelihood of
        16 centres at evenly spaced quantiles of base likelihood; all against ``x`` ("steps",
        "queries" or "tokens"). Returns the Figure; written as figure1.png and figure1.pdf
        (figure1_<x>.* for another axis) when ``out`` is given."""
        x = check_axis(x)
        plt = plotting.pyplot()
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
        self._plot_off_support(axes[0], x)
        self._plot_test_error(axes[1], x)
        if "outcome" in self.post:
            self._plot_centres(axes[2], fig, plt, x)
        cfg = self.config
        fig.suptitle(f"Figure 1: d=k={cfg['context_dim']}, N={cfg['seq_len']}, seed {cfg['seed']}")
        fig.tight_layout()
        plotting.save(fig, out, "figure1" if x == "steps" else f"figure1_{x}")
        return fig

    def _log_x(self, reward: str, x: str) -> np.ndarray:
        """The tracked points on a log axis: step + 1, or the queries / tokens after the step
        (step 0 drawn at the cost of one step)."""
        if x == "steps":
            return self.post[reward].track_steps + 1
        axis = self.axis(reward, x, tracked=True).astype(float)
        first = axis[axis > 0]
        return np.where(axis > 0, axis, first[0] if len(first) else 1.0)

    def _plot_off_support(self, ax: Any, x: str = "steps") -> None:
        off = self.off_support
        if off.any():
            for name, r in self.post.items():
                ax.plot(self._log_x(name, x), self.off_support_mean_likelihood(name), color=plotting.COLORS.get(name),
                        label=plotting.LABELS.get(name, name))
            ax.set_yscale("log")
            ax.set_ylim(top=2.0)
            ax.legend()
        else:
            ax.text(0.5, 0.5, "no off-support centres in this run", ha="center", va="center", transform=ax.transAxes)
        ax.set_xscale("log")
        ax.set_xlabel("post-training step + 1" if x == "steps" else axis_label(x))
        ax.set_ylabel("mean likelihood")
        ax.set_title(f"(a) off-support centres ({int(off.sum())} of {off.size}, "
                     f"base q < {self.config['off_support']:g})")

    def _plot_test_error(self, ax: Any, x: str = "steps") -> None:
        for name, r in self.post.items():
            ax.plot(self.axis(name, x), r.test_error, color=plotting.COLORS.get(name),
                    label=plotting.LABELS.get(name, name))
        ax.set_xlabel(axis_label(x))
        ax.set_ylabel("test error 1 − E q(y*|x)")
        ax.set_title("(b) test error")
        ax.legend()

    def _plot_centres(self, ax: Any, fig: Any, plt: Any, x: str = "steps") -> None:
        r = self.post["outcome"]
        base = self.base_centre_log_lik
        order = np.argsort(base)
        picks = order[np.unique(np.linspace(0, len(order) - 1, 16).round().astype(int))]
        cmap = plt.get_cmap("viridis")
        norm = plt.Normalize(vmin=base.min() / np.log(10), vmax=base.max() / np.log(10))
        for j in picks:
            ax.plot(self._log_x("outcome", x), np.exp(r.tracked_log_lik[:, j]),
                    color=cmap(norm(base[j] / np.log(10))))
        fig.colorbar(plt.cm.ScalarMappable(cmap=cmap, norm=norm), ax=ax, label="log10 base likelihood")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(top=2.0)
        ax.set_xlabel("post-training step + 1" if x == "steps" else axis_label(x))
        ax.set_ylabel("likelihood q(y*|centre)")
        ax.set_title("(c) ORM: 16 centres by base likelihood")


def figure1(out: Optional[Any] = None, seed: int = 0, quick: bool = False, n_threads: Optional[int] = None,
            progress: bool = False, plot: bool = True, **overrides: Any) -> Figure1Result:
    """Reproduce Figure 1 (ORM vs PRM). Paper settings by default, ``quick=True`` for a
    small version; any setting can be overridden by keyword (see :func:`figure1_settings`).
    With ``out``, saves ``figure1.npz`` + ``figure1.json`` (and the plots if matplotlib is
    installed). Every argument is checked before the run starts."""
    cfg = dict(SETTINGS.resolve(v.flag(quick, "quick"), overrides), quick=bool(quick), seed=check_seed(seed))
    out = check_out(out)
    v.flag(plot, "plot")
    if n_threads is not None:
        v.n_threads(n_threads)
    t0 = time.perf_counter()
    task, model, test, centres, post_rng, pre = figure1_base(cfg, seed, progress=progress, n_threads=n_threads)
    base_ll = model.log_prob(*centres)
    base_tll = model.token_log_prob(*centres)
    post_seed = _rng.key(post_rng)  # both rewards see the same contexts at every step
    post = {}
    for reward in cfg["rewards"]:
        m = model.copy()
        post[reward] = post_train(m, task, reward=reward, steps=cfg["post_steps"], batch_size=cfg["post_batch"],
                                  optimizer=Adagrad(lr=cfg["post_lr"]), rng=post_seed, test=test,
                                  test_every=cfg["test_every"], track=centres, track_every=cfg["track_every"],
                                  progress=progress, n_threads=n_threads)
    cfg["total_seconds"] = time.perf_counter() - t0
    return finish(Figure1Result(cfg, base_ll, pre, post, base_tll), out, plot)


def figure1_base(cfg: Dict[str, Any], seed: int, progress: bool = False, n_threads: Optional[int] = None,
                 task: Optional[TeacherTask] = None, curve: bool = True
                 ) -> Tuple[TeacherTask, LinearARModel, Pairs, Pairs, np.random.SeedSequence, TrainResult]:
    """The task, the pre-trained base model, the test set and the centres of a Figure-1 run
    with settings ``cfg`` and ``seed`` (with the seed sequence of its post-training): every
    experiment on Figure 1's task starts from this base model. A variant ``task`` (drawn from
    :func:`figure1_task_rng`) replaces Figure 1's teacher; every other stream is the same. With
    ``curve=False`` the pre-training test error is not measured (the model is the same).

    Returns
    -------
    task, model, test, centres, post_rng, pretrain_result
    """
    _, pre_rng, test_rng, post_rng = np.random.SeedSequence(int(seed)).spawn(4)
    task = figure1_task(cfg, seed) if task is None else task
    model = LinearARModel(cfg["vocab_size"], cfg["seq_len"], cfg["context_dim"])
    test = task.sample(cfg["test_size"], rng=test_rng)
    centres = task.centres()
    measured: Dict[str, Any] = {"test": test, "test_every": cfg["test_every"]} if curve else {}
    pre = pretrain(model, task, cfg["pre_steps"], cfg["pre_batch"], Adagrad(lr=cfg["pre_lr"]), rng=pre_rng,
                   progress=progress, n_threads=n_threads, **measured)
    return task, model, test, centres, post_rng, pre


def figure1_task_rng(seed: int) -> np.random.SeedSequence:
    """The stream the Figure-1 task of ``seed`` is drawn from."""
    task_rng: np.random.SeedSequence = np.random.SeedSequence(int(seed)).spawn(4)[0]
    return task_rng


def figure1_task(cfg: Dict[str, Any], seed: int) -> TeacherTask:
    """The teacher task of the Figure-1 run with settings ``cfg`` and ``seed``."""
    task_rng = figure1_task_rng(seed)
    return TeacherTask(cfg["context_dim"], cfg["vocab_size"], cfg["seq_len"], inputs="mixture",
                       num_mix=cfg["num_mix"], sigma=cfg["sigma"], rng=task_rng)
