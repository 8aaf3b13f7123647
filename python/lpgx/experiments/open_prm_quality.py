"""Imperfect process rewards (``docs/open_questions.md``; the PRMs of ``docs/theory.md`` §4).

The Figure-1 base model is post-trained with the ORM, the exact PRM, and three imperfect PRMs,
each over a grid of its quality:

- ``"window"`` w: a short-sighted PRM that judges each prefix by its last w tokens only;
- ``"flip"`` δ: a PRM right with probability 1 − δ on each prefix (each verdict flipped);
- ``"learned"`` n: the PRM :func:`lpgx.learn_prm` fits from n ORM-labelled samples of the
  base model (those n queries are counted in ``queries``; its agreement with the exact PRM on
  base samples of the test contexts is recorded).

The PRM's advantage is the ORM − PRM final test error, paired by seed (the same base model and
post-training streams), with a bootstrap CI: it survives where the CI lies above 0.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

import numpy as np

from .. import _validate as v
from .. import plotting
from ..learned_prm import learn_prm
from ..rewards import OutcomeReward, ProcessReward
from ..sweep import sweep
from ._artifacts import finish
from ._open import RowsResult, decode, figure1_run, figure1_setting, figure1_table, mean_ci
from ._settings import Setting, Settings, choices, count, counts, real, reals

KINDS = ("window", "flip", "learned")
LABELS = {"window": "short-sighted PRM: last w tokens", "flip": "PRM wrong with probability δ per prefix",
          "learned": "PRM learned from n ORM labels"}
AXES = {"window": "window w (tokens)", "flip": "δ", "learned": "ORM-labelled samples n"}


def _joint(cfg: Dict[str, Any]) -> None:
    if max(cfg["window"]) > cfg["seq_len"]:
        raise ValueError(f"window={cfg['window']}: at most seq_len = {cfg['seq_len']}")


SETTINGS = Settings("prm_quality", {
    **figure1_table(),
    "kinds": Setting(list(KINDS), choices(KINDS), "the imperfect PRMs"),
    "window": Setting([1, 2, 4, 8, 16, 32, 64], counts(1, 2), "w, the windows", quick=[1, 4, 16]),
    "flip": Setting([0.05, 0.1, 0.2, 0.3, 0.4], reals(0.0, 0.5, open_low=True, open_high=True, min_len=2),
                    "δ, the per-prefix error rates", quick=[0.1, 0.3]),
    "learned": Setting([32, 128, 512, 2048, 8192], counts(1, 2), "n, the ORM-labelled samples", quick=[32, 256]),
    "learn_l2": Setting(1e-3, real(0.0, open_low=True), "λ of the learned PRM's logistic fits"),
    "learn_iters": Setting(100, count(), "gradient steps of the learned PRM's fits"),
}, _joint)


def prm_quality_settings(quick: bool = False) -> Dict[str, Any]:
    """Every setting of :func:`prm_quality` with its default (quick ones with ``quick=True``)."""
    return SETTINGS.defaults(v.flag(quick, "quick"))


def cell_quality(prm: str, level: float, setting: Dict[str, Any], seed: int) -> Dict[str, Any]:
    """One Figure-1 run with reward ``prm`` ("orm", "exact", "window", "flip", "learned") of
    quality ``level`` (ignored by "orm" and "exact")."""
    extra: Dict[str, Any] = {}

    def reward(task: Any, base: Any) -> Any:
        if prm == "orm":
            return OutcomeReward()
        if prm == "exact":
            return ProcessReward()
        if prm == "window":
            return ProcessReward(window=int(level))
        if prm == "flip":
            return ProcessReward(flip_prob=level)
        learned = learn_prm(base, task, int(level), l2=setting["learn_l2"], iters=setting["learn_iters"],
                            rng=np.random.SeedSequence([int(seed), 7]), n_threads=1)
        extra["learned"] = learned
        return learned.reward()

    def measure(task: Any, base: Any, model: Any, test: Any) -> Dict[str, Any]:
        if "learned" not in extra:
            return {}
        x, y_star = test
        agree = extra["learned"].agreement(x, base.sample(x, rng=int(seed), n_threads=1), y_star)
        return {f"learned_{k}": val for k, val in agree.items()} | {"learned_positives": extra["learned"].positives}

    out = figure1_run(setting, seed, reward, measure)
    if prm == "learned":
        out["queries"] += int(level)  # the labels bought to learn it
    return out


class PRMQualityResult(RowsResult):
    """One row per reward (prm, level) × seed, with the gaps to the ORM."""

    name = "prm_quality"

    def gap(self, prm: str, level: float) -> np.ndarray:
        """ORM − PRM final test error per seed (paired)."""
        out: np.ndarray = self.values("test_error", prm="orm") - self.values("test_error", prm=prm, level=level)
        return out

    def markdown(self) -> str:
        """Per PRM and quality: final test error (mean ± sd), the gap to the ORM with its CI, and
        for the learned PRM its agreement with the exact PRM."""
        lines = ["| PRM | quality | test error | ORM − PRM [95% CI] | survives | agreement (acc; FP; FN) |",
                 "|---|---|---|---|---|---|"]
        o = self.values("test_error", prm="orm")
        lines.append(f"| ORM | — | {o.mean():.4f} ± {o.std():.4f} | 0 | — | — |")
        for prm, levels in (("exact", [0.0]), *((k, self.config[k]) for k in self.config["kinds"])):
            for lev in levels:
                e = self.values("test_error", prm=prm, level=float(lev))
                fit = self.fits[f"{prm}={lev:g}: gap"]
                agree = "—"
                if prm == "learned":
                    a = [self.values(f"learned_{k}", prm=prm, level=float(lev)).mean()
                         for k in ("accuracy", "false_positive", "false_negative")]
                    agree = f"{a[0]:.3f}; {a[1]:.3f}; {a[2]:.3f}"
                lines.append(f"| {prm} | {'—' if prm == 'exact' else f'{lev:g}'} | {e.mean():.4f} ± {e.std():.4f} | "
                             f"{fit} | {'yes' if fit.low > 0 else 'no'} | {agree} |")
        return "\n".join(lines)

    def plot(self, out: Optional[Any] = None) -> Any:
        """The ORM − PRM gap against each PRM's quality (mean over seeds, 95% CI bars), with the
        exact PRM's gap as a band. Returns the Figure; written as prm_quality.png/.pdf."""
        plt = plotting.pyplot()
        kinds = self.config["kinds"]
        fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 4.4), squeeze=False)
        exact = self.fits["exact=0: gap"]
        for ax, kind in zip(axes[0], kinds):
            levels = np.asarray(self.config[kind], dtype=float)
            self._errorbars(ax, levels, [f"{kind}={lev:g}: gap" for lev in levels], color="tab:orange",
                            label=LABELS[kind])
            ax.axhspan(exact.low, exact.high, color="gray", alpha=0.2, label=f"exact PRM: {exact}")
            ax.axhline(0.0, color="black", lw=0.8)
            if kind != "flip":
                ax.set_xscale("log", base=2)
            ax.set_xlabel(AXES[kind])
            ax.set_ylabel("ORM − PRM final test error")
            ax.legend(fontsize=7)
        fig.suptitle(self._title("PRM quality") + " (above 0: the PRM still helps)", fontsize=10)
        fig.tight_layout()
        plotting.save(fig, out, "prm_quality")
        return fig


def prm_quality(out: Optional[Any] = None, quick: bool = False, backend: str = "loky", n_jobs: Optional[int] = None,
                cache_dir: Optional[Any] = None, progress: bool = False, plot: bool = True, **overrides: Any
                ) -> PRMQualityResult:
    """When the PRM's advantage over the ORM survives its imperfections (module docstring).
    Settings by keyword (see :func:`prm_quality_settings`), checked before any run; ``out`` and
    ``cache_dir`` as in :func:`lpgx.experiments.noise`."""
    cfg = SETTINGS.resolve_sweep(quick, overrides, out, backend, n_jobs, cache_dir, plot)
    t0 = time.perf_counter()
    setting = dict(figure1_setting(cfg), learn_l2=cfg["learn_l2"], learn_iters=cfg["learn_iters"])
    rows: List[Dict[str, Any]] = []
    for prm, levels in (("orm", [0.0]), ("exact", [0.0]), *((k, cfg[k]) for k in cfg["kinds"])):
        sw = sweep(cell_quality, {"prm": [prm], "level": [float(x) for x in levels], "setting": [setting]},
                   seeds=range(cfg["seeds"]), backend=backend, n_jobs=n_jobs, cache_dir=cache_dir, progress=progress)
        rows += [decode(r) for r in sw.rows]
    cfg["total_seconds"] = time.perf_counter() - t0
    res = PRMQualityResult(cfg, rows)
    for prm, levels in (("exact", [0.0]), *((k, cfg[k]) for k in cfg["kinds"])):
        for lev in levels:
            res.fits[f"{prm}={lev:g}: gap"] = mean_ci(res.gap(prm, float(lev)))
    return finish(res, out, plot)


__all__ = ["KINDS", "PRMQualityResult", "cell_quality", "prm_quality", "prm_quality_settings"]
