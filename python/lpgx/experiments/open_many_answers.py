"""Many correct answers (``docs/open_questions.md``; correct sets of ``docs/theory.md`` §4, §5).

The Figure-1 base model is post-trained with an ORM and a PRM that accept a correct set S,
grown three ways:

- ``"tolerance"`` h: every y within Hamming distance h of y*, |S| = Σ_{j≤h} C(N, j)(k − 1)^j;
- ``"unchecked"`` f: the first f positions are free, only the last N − f are checked, |S| = k^f;
- ``"teachers"`` T: the greedy decodings of T independent teachers (the first is the one
  pre-training imitates), |S| = T.

Recorded per run: the final test error of the set, 1 − E_x q(S|x) (exact: a forward pass, or
a sum over distinct answers), the base model's, and the off-support centres of the set (base
q(S|x) below ``off_support``): their number and mean final q(S|x). The ORM − PRM gap of the
final error is paired by seed (the same base model), with a bootstrap CI.
"""
from __future__ import annotations

import math
import time
from typing import Any, Dict, List, Optional

import numpy as np

from .. import _rng
from .. import _validate as v
from .. import plotting
from ..correct_sets import MultiTeacherTask, set_log_likelihood
from ..model import LinearARModel
from ..optim import Adagrad
from ..rewards import CorrectSet, OutcomeReward, ProcessReward
from ..sweep import sweep
from ..training import post_train
from . import paper_figure1
from ._artifacts import finish
from ._open import RowsResult, decode, finite_stats, figure1_setting, figure1_table, mean_ci
from ._settings import Setting, Settings, choices, counts

FAMILIES = ("tolerance", "unchecked", "teachers")
LABELS = {"tolerance": "Hamming ball of radius h", "unchecked": "first f positions free",
          "teachers": "T teachers"}
COLORS = {"tolerance": "tab:blue", "unchecked": "tab:green", "teachers": "tab:purple"}


def _joint(cfg: Dict[str, Any]) -> None:
    N = cfg["seq_len"]
    if max(cfg["unchecked"]) >= N:
        raise ValueError(f"unchecked={cfg['unchecked']}: at most seq_len − 1 = {N - 1} positions can be free")
    if max(cfg["tolerance"]) > N:
        raise ValueError(f"tolerance={cfg['tolerance']}: at most seq_len = {N}")


SETTINGS = Settings("many_answers", {
    **figure1_table(),
    "families": Setting(list(FAMILIES), choices(FAMILIES), "how the correct set grows"),
    "tolerance": Setting([0, 1, 2, 4, 8], counts(0, 2), "h, the Hamming radii", quick=[0, 2, 4]),
    "unchecked": Setting([0, 16, 32, 48, 60], counts(0, 2), "f, the free leading positions", quick=[0, 16, 28]),
    "teachers": Setting([1, 2, 4, 8], counts(1, 2, maximum=1024), "T, the teachers", quick=[1, 4]),
}, _joint)


def many_answers_settings(quick: bool = False) -> Dict[str, Any]:
    """Every setting of :func:`many_answers` with its default (quick ones with ``quick=True``)."""
    return SETTINGS.defaults(v.flag(quick, "quick"))


def log_set_size(family: str, size: int, vocab_size: int, seq_len: int) -> float:
    """ln |S| for a correct set of ``family`` and ``size`` (answers assumed distinct)."""
    if family == "tolerance":
        return float(np.logaddexp.reduce([math.lgamma(seq_len + 1) - math.lgamma(j + 1) - math.lgamma(seq_len - j + 1)
                                          + j * math.log(vocab_size - 1) for j in range(size + 1)]))
    if family == "unchecked":
        return size * math.log(vocab_size)
    return math.log(size)


def _base(setting: Dict[str, Any], seed: int, teachers: int) -> Any:
    """The Figure-1 base of ``seed`` on a task with ``teachers`` teachers whose first is Figure 1's."""
    task = MultiTeacherTask(setting["context_dim"], setting["vocab_size"], setting["seq_len"], num_teachers=teachers,
                            inputs="mixture", num_mix=setting["num_mix"], sigma=setting["sigma"],
                            rng=paper_figure1.figure1_task_rng(seed))
    _, model, test, centres, post_rng, _ = paper_figure1.figure1_base(setting, seed, n_threads=1, task=task,
                                                                         curve=False)
    return task, model, test, centres, _rng.key(post_rng)


def cell_sets(reward: str, family: str, size: int, setting: Dict[str, Any], seed: int) -> Dict[str, Any]:
    """One post-training run with a reward accepting the correct set (family, size)."""
    t0 = time.perf_counter()
    N = setting["seq_len"]
    task, base, test, centres, post_seed = _base(setting, seed, size if family == "teachers" else 1)
    if family == "teachers":
        correct = CorrectSet()
        rew: Any = task.reward(reward)
    else:
        correct = CorrectSet(tolerance=size) if family == "tolerance" else CorrectSet(positions=range(size, N))
        rew = (OutcomeReward if reward == "outcome" else ProcessReward)(correct=correct)

    def set_error(model: LinearARModel, x: np.ndarray) -> np.ndarray:
        q: np.ndarray = np.exp(set_log_likelihood(model, x, task.answers(x, n_threads=1), correct, n_threads=1))
        return q
    model = base.copy()
    r = post_train(model, task, reward=rew, steps=setting["post_steps"], batch_size=setting["post_batch"],
                   optimizer=Adagrad(lr=setting["post_lr"]), rng=post_seed, n_threads=1)
    base_c, final_c = set_error(base, centres[0]), set_error(model, centres[0])
    off = base_c < setting["off_support"]
    return {"test_error": float(1.0 - set_error(model, test[0]).mean()),
            "base_test_error": float(1.0 - set_error(base, test[0]).mean()),
            "n_off_support": int(off.sum()), "off_support_lik": float(final_c[off].mean()) if off.any() else math.nan,
            "log_set_size": log_set_size(family, size, setting["vocab_size"], N), "queries": int(r.queries[-1]),
            "seconds": time.perf_counter() - t0}


class ManyAnswersResult(RowsResult):
    """One row per reward × family × size × seed, with the ORM − PRM gaps."""

    name = "many_answers"

    def gap(self, family: str, size: int) -> np.ndarray:
        """ORM − PRM final set error per seed (paired: the same base model)."""
        out: np.ndarray = (self.values("test_error", reward="outcome", family=family, size=size)
                             - self.values("test_error", reward="process", family=family, size=size))
        return out

    def markdown(self) -> str:
        """Per family and size: ln|S|, base set error, final ORM and PRM set errors (mean ± sd),
        the gap with its CI, and the off-support centres (count; mean final q(S|x), ORM / PRM)."""
        lines = ["| family | size | ln \\|S\\| | base error | ORM error | PRM error | ORM − PRM [95% CI] | "
                 "off-support centres | their final q(S), ORM / PRM |", "|---|---|---|---|---|---|---|---|---|"]
        for fam in self.config["families"]:
            for size in self.config[fam]:
                o = self.values("test_error", reward="outcome", family=fam, size=size)
                p = self.values("test_error", reward="process", family=fam, size=size)
                b = self.values("base_test_error", reward="outcome", family=fam, size=size)
                n_off = self.values("n_off_support", reward="outcome", family=fam, size=size)
                lo = self.values("off_support_lik", reward="outcome", family=fam, size=size)
                lp = self.values("off_support_lik", reward="process", family=fam, size=size)
                ls = self.values("log_set_size", reward="outcome", family=fam, size=size)[0]
                lines.append(f"| {fam} | {size} | {ls:.1f} | {b.mean():.4f} | {o.mean():.4f} ± {o.std():.4f} | "
                             f"{p.mean():.4f} ± {p.std():.4f} | {self.fits[f'{fam}={size}: gap']} | "
                             f"{n_off.mean():.1f} | {finite_stats(lo)[0]:.2g} / {finite_stats(lp)[0]:.2g} |")
        return "\n".join(lines)

    def plot(self, out: Optional[Any] = None) -> Any:
        """Left: the ORM − PRM gap of the final set error against ln|S| per family (mean over
        seeds, 95% CI bars); right: the final set errors themselves (solid ORM, dashed PRM,
        dotted base). Returns the Figure; written as many_answers.png/.pdf with ``out``."""
        plt = plotting.pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
        for fam in self.config["families"]:
            sizes = self.config[fam]
            ls = np.array([self.values("log_set_size", reward="outcome", family=fam, size=s)[0] for s in sizes])
            self._errorbars(axes[0], ls, [f"{fam}={s}: gap" for s in sizes], color=COLORS[fam], label=LABELS[fam])
            for rew, style in (("outcome", "-"), ("process", "--")):
                e = np.array([self.values("test_error", reward=rew, family=fam, size=s).mean() for s in sizes])
                axes[1].plot(ls, e, style, marker="o", ms=3, color=COLORS[fam],
                             label=f"{LABELS[fam]}, {'ORM' if rew == 'outcome' else 'PRM'}")
            b = np.array([self.values("base_test_error", reward="outcome", family=fam, size=s).mean() for s in sizes])
            axes[1].plot(ls, b, ":", color=COLORS[fam], lw=1)
        axes[0].axhline(0.0, color="gray", lw=0.8)
        axes[0].set_ylabel("ORM − PRM final set error")
        axes[1].set_ylabel("final set error 1 − E q(S|x) (dotted: base)")
        for ax in axes:
            ax.set_xscale("symlog", linthresh=1.0)  # teachers add ln T ≤ ln 8; free positions, hundreds
            ax.set_xlim(left=-0.2)
            ax.set_xlabel("ln |S| (size of the correct set; symmetric-log axis)")
            ax.legend(fontsize=7)
        fig.suptitle(self._title("many correct answers"), fontsize=10)
        fig.tight_layout()
        plotting.save(fig, out, "many_answers")
        return fig


def many_answers(out: Optional[Any] = None, quick: bool = False, backend: str = "loky", n_jobs: Optional[int] = None,
                 cache_dir: Optional[Any] = None, progress: bool = False, plot: bool = True, **overrides: Any
                 ) -> ManyAnswersResult:
    """The ORM/PRM gap and the off-support centres as the correct set grows (module docstring).
    Settings by keyword (see :func:`many_answers_settings`), checked before any run; ``out``
    and ``cache_dir`` as in :func:`lpgx.experiments.noise`."""
    cfg = SETTINGS.resolve_sweep(quick, overrides, out, backend, n_jobs, cache_dir, plot)
    t0 = time.perf_counter()
    rows: List[Dict[str, Any]] = []
    for fam in cfg["families"]:
        sw = sweep(cell_sets, {"reward": ["outcome", "process"], "family": [fam], "size": list(cfg[fam]),
                               "setting": [figure1_setting(cfg)]},
                   seeds=range(cfg["seeds"]), backend=backend, n_jobs=n_jobs, cache_dir=cache_dir, progress=progress)
        rows += [decode(r) for r in sw.rows]
    cfg["total_seconds"] = time.perf_counter() - t0
    res = ManyAnswersResult(cfg, rows)
    for fam in cfg["families"]:
        for size in cfg[fam]:
            res.fits[f"{fam}={size}: gap"] = mean_ci(res.gap(fam, size))
    return finish(res, out, plot)


__all__ = ["FAMILIES", "ManyAnswersResult", "cell_sets", "log_set_size", "many_answers", "many_answers_settings"]
