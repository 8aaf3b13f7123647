"""Noisy rewards (``docs/open_questions.md``; the noise models of ``docs/theory.md`` §4).

1. **Planted cost.** One context of planted base likelihood α (``lpgx.staircase``; α = k^−N
   is the off-support combination lock). Each method lifts it to likelihood 1 − ``eps``
   with a verifier that flips each verdict with probability p (one query per verdict, as
   without noise): on-policy PG with the ORM (``"orm"``) or the PRM (``"prm"``), the paper's
   Algorithm 1 (``"alg1"``, outcome reward) and Algorithm 2 (``"alg2"``, process reward).
   Recorded: the queries to the target. The fitted exponent a of cost ∝ (1 − 2p)^−a is the
   least-squares slope of ln(queries) against ln(1/(1 − 2p)) over the noise levels every
   seed reached, with a bootstrap CI over seeds; a = 1 and a = 2 are the two simple
   hypotheses (the signal of a ±1 verdict shrinks by 1 − 2p; its variance does not). A
   competing law, cost ∝ (1 + p/β)/(1 − 2p)², lets the false verdicts (rate p) drown a
   success rate β; it is fitted too (β with a bootstrap CI), and the rms of ln(cost) of both
   laws is recorded, and the power law's exponent over the lower and upper half of p.
2. **Figure-1 setting.** The Figure-1 base model post-trained with a noisy ORM and PRM:
   final test error and mean likelihood of the off-support centres, per noise level and seed.

Every run goes through :func:`lpgx.sweep` (cached and resumable with ``cache_dir``);
``noise_settings()`` lists the settings.
"""
from __future__ import annotations

import math
import time
from typing import Any, Dict, List, Optional

import numpy as np

from .. import _validate as v
from .. import algorithms as alg
from .. import plotting
from ..optim import Adagrad
from ..planted import staircase
from ..rewards import OutcomeReward, ProcessReward
from ..sweep import sweep
from ..training import post_train
from ._artifacts import finish
from ._open import RowsResult, decode, figure1_run, finite_stats, figure1_setting, figure1_table, mean_ci
from ._settings import Setting, Settings, choices, count, real, reals
from .rates import Fit, fit_slope

METHODS = ("orm", "prm", "alg1", "alg2")
LABELS = {"orm": "on-policy PG, ORM", "prm": "on-policy PG, PRM", "alg1": "Algorithm 1 (ORM)",
          "alg2": "Algorithm 2 (PRM)", "outcome": "ORM", "process": "PRM"}
COLORS = {"orm": "tab:blue", "prm": "tab:orange", "alg1": "tab:green", "alg2": "tab:red", "outcome": "tab:blue",
          "process": "tab:orange"}


def _joint(cfg: Dict[str, Any]) -> None:
    if 0.0 not in cfg["noise"]:
        raise ValueError("noise must include 0 (the noiseless reference of every fit)")
    if cfg["stair_alpha"] < float(cfg["stair_vocab_size"]) ** -cfg["stair_seq_len"]:
        raise ValueError(f"stair_alpha={cfg['stair_alpha']} is below the uniform base's k^-N")


SETTINGS = Settings("noise", {
    **figure1_table(),
    "noise": Setting([0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35], reals(0.0, 0.5, open_high=True, min_len=2),
                     "p, the flip probability of each verdict", quick=[0.0, 0.05, 0.1, 0.2]),
    "rewards": Setting(["outcome", "process"], choices(("outcome", "process")), "the Figure-1 rewards"),
    "figure1": Setting(True, v.flag, "run the Figure-1 part"),
    "methods": Setting(list(METHODS), choices(METHODS), "the planted-cost methods"),
    "stair_vocab_size": Setting(4, count(2), "k of the planted instance"),
    "stair_seq_len": Setting(6, count(), "N of the planted instance"),
    "stair_alpha": Setting(0.02, real(0.0, 1.0, open_low=True, open_high=True), "α, the planted base likelihood"),
    "stair_eps": Setting(0.5, real(0.0, 1.0, open_low=True, open_high=True), "the target likelihood is 1 − eps"),
    "stair_batch": Setting(16, count(), "queries per step of on-policy PG"),
    "stair_lr": Setting(0.1, real(0.0, open_low=True), "Adagrad learning rate of on-policy PG"),
    "stair_m": Setting(1000, count(), "m of Algorithms 1 and 2"),
    "stair_seeds": Setting(8, count(), "seeds per planted cell", quick=3),
    "stair_max_queries": Setting(3_000_000, count(), "a planted run stops unreached after this many queries",
                                 quick=300_000),
}, _joint)


def noise_settings(quick: bool = False) -> Dict[str, Any]:
    """Every setting of :func:`noise` with its default (the quick ones with ``quick=True``)."""
    return SETTINGS.defaults(v.flag(quick, "quick"))


def cell_planted(method: str, noise: float, setting: Dict[str, Any], seed: int) -> Dict[str, Any]:
    """Queries until the planted context reaches likelihood 1 − eps under flip noise p.

    Every method runs in chunks (chunk i draws from the streams of (seed, i)) until the target
    is met (at the query where it is) or ``max_queries`` are spent."""
    t0 = time.perf_counter()
    task, base = staircase(setting["vocab_size"], setting["seq_len"], [setting["alpha"]], rng=seed)
    eps, cap = setting["eps"], setting["max_queries"]
    model = base.copy()
    if method in ("orm", "prm"):
        reward = (OutcomeReward if method == "orm" else ProcessReward)(flip_prob=noise)
        opt, target, spent, reached, i = Adagrad(lr=setting["lr"]), math.log1p(-eps), 0, None, 0
        while reached is None and spent < cap:
            r = post_train(model, task, reward=reward, steps=100, batch_size=setting["batch"], optimizer=opt,
                           rng=np.random.SeedSequence([int(seed), i]), track=(task.contexts, task.y_star),
                           n_threads=1)
            queries = spent + r.queries
            hit = np.nonzero(r.tracked_log_lik[1:, 0] >= target)[0]
            if len(hit):
                reached = int(queries[hit[0]])
            spent, i = int(queries[-1]), i + 1
        return {"reached": reached is not None, "queries": reached if reached is not None else spent,
                "seconds": time.perf_counter() - t0}
    run = alg.pg_outcome_multi if method == "alg1" else alg.pg_process
    reward = (OutcomeReward if method == "alg1" else ProcessReward)(flip_prob=noise)
    spent, reached, i = 0, None, 0
    while reached is None and spent < cap:  # chunks of 1000 steps, chunk i on the streams of (seed, i)
        res = run(model, task, base, steps=1000, m=setting["m"], eval="all", eps=eps, reward=reward,
                  rng=np.random.SeedSequence([int(seed), i]), n_threads=1)
        if res.target_queries is not None:
            reached = spent + res.target_queries
        spent, i = spent + res.total_queries, i + 1
    return {"reached": reached is not None, "queries": reached if reached is not None else spent,
            "seconds": time.perf_counter() - t0}


def cell_figure1(reward: str, noise: float, setting: Dict[str, Any], seed: int) -> Dict[str, Any]:
    """One Figure-1 post-training run with a reward whose verdicts flip with probability p."""
    kind = OutcomeReward if reward == "outcome" else ProcessReward
    return figure1_run(setting, seed, lambda task, base: kind(flip_prob=noise))


class NoiseResult(RowsResult):
    """Planted rows (``part="planted"``: method × noise × seed) and Figure-1 rows
    (``part="figure1"``: reward × noise × seed), with the fitted exponents."""

    name = "noise"

    def cost(self, method: str) -> np.ndarray:
        """(len(noise), seeds) queries of ``method``."""
        return np.array([self.values("queries", part="planted", method=method, noise=p) for p in self.config["noise"]])

    def reached(self, method: str) -> np.ndarray:
        return np.array([self.values("reached", part="planted", method=method, noise=p)
                         for p in self.config["noise"]]).astype(bool)

    def markdown(self) -> str:
        """Seed-mean queries to the target per method and p ("+": some seed stopped at the cap),
        the fitted exponents, and the Figure-1 finals."""
        ps = self.config["noise"]
        lines = ["| method | " + " | ".join(f"p = {p:g}" for p in ps) + " | exponent a [95% CI] |",
                 "|---|" + "---|" * (len(ps) + 1)]
        for m in self.config["methods"]:
            q, ok = self.cost(m), np.asarray(self.reached(m).all(1), dtype=bool)
            fit = self.fits.get(f"{m}: exponent")
            lines.append(f"| {LABELS[m]} | " + " | ".join(f"{x:.3g}" + ("" if o else "+") for x, o in zip(q.mean(1), ok.tolist()))
                         + f" | {fit if fit is not None else '—'} |")
        if self.config["figure1"]:
            lines += ["", "| reward | p | test error | off-support likelihood (mean; min–max over seeds) |",
                      "|---|---|---|---|"]
            for rew in self.config["rewards"]:
                for p in ps:
                    err = self.values("test_error", part="figure1", reward=rew, noise=p)
                    off = self.values("off_support_lik", part="figure1", reward=rew, noise=p)
                    mean, low, high = finite_stats(off)
                    lines.append(f"| {LABELS[rew]} | {p:g} | {err.mean():.4f} ± {err.std():.4f} | "
                                 f"{mean:.3g}; {low:.2g}–{high:.2g} |")
        return "\n".join(lines)

    def plot(self, out: Optional[Any] = None) -> Any:
        """Left: queries to the target against 1/(1 − 2p) per method (log-log, fitted exponents);
        right: Figure-1 final test error against p per reward (seed mean, min–max band).
        Returns the Figure; written as noise.png/.pdf when ``out`` is given."""
        plt = plotting.pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
        ps = np.asarray(self.config["noise"])
        inv = 1.0 / (1.0 - 2.0 * ps)
        for m in self.config["methods"]:
            q, ok = self.cost(m), self.reached(m).all(1)
            fit = self.fits.get(f"{m}: exponent")
            axes[0].plot(inv[ok], q.mean(1)[ok], "o-", color=COLORS[m], ms=4,
                         label=LABELS[m] + (f": a = {fit}" if fit is not None else ""))
            if (~ok).any():
                axes[0].plot(inv[~ok], q.mean(1)[~ok], "x", color=COLORS[m], ms=8)
        axes[0].set_xscale("log")
        axes[0].set_yscale("log")
        axes[0].set_xlabel("1/(1 − 2p)")
        axes[0].set_ylabel("reward queries to likelihood 1 − ε")
        c = self.config
        axes[0].set_title(f"planted: k={c['stair_vocab_size']}, N={c['stair_seq_len']}, α={c['stair_alpha']:g}, "
                          f"ε={c['stair_eps']:g}, {c['stair_seeds']} seeds (x: cap)", fontsize=9)
        axes[0].legend(fontsize=7)
        if c["figure1"]:
            for rew in c["rewards"]:
                err = np.array([self.values("test_error", part="figure1", reward=rew, noise=p) for p in ps])
                axes[1].plot(ps, err.mean(1), "o-", color=COLORS[rew], label=LABELS[rew])
                axes[1].fill_between(ps, err.min(1), err.max(1), color=COLORS[rew], alpha=0.15, lw=0)
            axes[1].set_xlabel("flip probability p")
            axes[1].set_ylabel("final test error")
            axes[1].set_title(f"Figure-1 setting (N={c['seq_len']}, {c['post_steps']} steps × {c['post_batch']}), "
                              f"{c['seeds']} seeds", fontsize=9)
            axes[1].legend(fontsize=8)
        fig.tight_layout()
        plotting.save(fig, out, "noise")
        return fig


_BETAS = np.logspace(-4, 2, 601)  # the grid of β the variance model is fitted over


def _variance_model_fit(ps: np.ndarray, log_q: np.ndarray) -> "tuple[float, float]":
    """(β, rms) of ln cost = c + ln(1 + p/β) + 2 ln(1/(1 − 2p)) fitted to the rows of ``log_q``
    (levels × samples, averaged): least squares in c (the mean residual) and β (on a grid)."""
    y = log_q.mean(1)
    pred = np.log1p(ps[None, :] / _BETAS[:, None]) + 2.0 * np.log(1.0 / (1.0 - 2.0 * ps))[None, :]
    resid = y[None, :] - pred
    resid -= resid.mean(1, keepdims=True)
    rms = np.sqrt((resid ** 2).mean(1))
    j = int(np.argmin(rms))
    return float(_BETAS[j]), float(rms[j])


def _fit(res: NoiseResult) -> None:
    ps = np.asarray(res.config["noise"])
    x = np.log(1.0 / (1.0 - 2.0 * ps))
    for m in res.config["methods"]:
        q, ok = res.cost(m), res.reached(m).all(1)
        if ok.sum() >= 3:
            res.fits[f"{m}: exponent"] = fit_slope(x[ok], np.log(q[ok]))
        if ok.sum() >= 3:
            # a competing law: the ±1 verdict's mean shrinks by 1 − 2p while its variance grows
            # with the false verdicts p against the success rate β: cost ∝ (1 + p/β)/(1 − 2p)²
            lq = np.log(q[ok])
            beta, rms = _variance_model_fit(ps[ok], lq)
            boot = np.random.default_rng(0).integers(0, lq.shape[1], (500, lq.shape[1]))
            betas = [_variance_model_fit(ps[ok], lq[:, b])[0] for b in boot]
            low, high = np.percentile(betas, [2.5, 97.5])
            res.fits[f"{m}: β of (1 + p/β)(1 − 2p)^-2"] = Fit(beta, float(low), float(high), 0.0)
            if beta in (_BETAS[0], _BETAS[-1]):
                res.notes[f"{m}: β"] = f"at the edge of its grid [{_BETAS[0]:g}, {_BETAS[-1]:g}]: the law does not fit"
            power = res.fits[f"{m}: exponent"]
            fitted = power.intercept + power.slope * x[ok]
            res.notes[f"{m}: rms of ln cost"] = (f"power law {np.sqrt(((lq.mean(1) - fitted) ** 2).mean()):.3f}, "
                                                 f"(1 + p/β)(1 − 2p)^-2 {rms:.3f}")
        if ok.sum() >= 6:  # is it one power law? the exponent over the lower and the upper half of p
            cut = np.median(ps[ok])
            for half, sel in (("low", ok & (ps <= cut)), ("high", ok & (ps >= cut))):
                res.fits[f"{m}: exponent, {half} noise"] = fit_slope(x[sel], np.log(q[sel]))
                res.notes[f"{m}: {half} noise"] = f"p in [{ps[sel].min():g}, {ps[sel].max():g}]"
        if not ok.all():
            res.notes[f"{m}: fitted over"] = f"p ≤ {ps[ok].max():g}" if ok.any() else "nothing reached"
    if res.config["figure1"]:
        for p in ps:
            gap = (res.values("test_error", part="figure1", reward="outcome", noise=p)
                   - res.values("test_error", part="figure1", reward="process", noise=p))
            if len(gap):
                res.fits[f"figure1 ORM − PRM error, p={p:g}"] = mean_ci(gap)


def noise(out: Optional[Any] = None, quick: bool = False, backend: str = "loky", n_jobs: Optional[int] = None,
          cache_dir: Optional[Any] = None, progress: bool = False, plot: bool = True, **overrides: Any
          ) -> NoiseResult:
    """Query cost and final error as the verifier's noise grows (module docstring). Settings by
    keyword (see :func:`noise_settings`), all checked before any run. With ``out``, saves
    ``noise.npz`` + ``noise.json`` and the plot; with ``cache_dir``, runs are cached."""
    cfg = SETTINGS.resolve_sweep(quick, overrides, out, backend, n_jobs, cache_dir, plot)
    t0 = time.perf_counter()
    stair = {"vocab_size": cfg["stair_vocab_size"], "seq_len": cfg["stair_seq_len"], "alpha": cfg["stair_alpha"],
             "eps": cfg["stair_eps"], "batch": cfg["stair_batch"], "lr": cfg["stair_lr"], "m": cfg["stair_m"],
             "max_queries": cfg["stair_max_queries"]}
    sw = sweep(cell_planted, {"method": list(cfg["methods"]), "noise": list(cfg["noise"]), "setting": [stair]},
               seeds=range(cfg["stair_seeds"]), backend=backend, n_jobs=n_jobs, cache_dir=cache_dir, progress=progress)
    rows: List[Dict[str, Any]] = [dict(decode(r), part="planted") for r in sw.rows]
    cfg["planted_seconds"] = sw.seconds
    if cfg["figure1"]:
        sw = sweep(cell_figure1, {"reward": list(cfg["rewards"]), "noise": list(cfg["noise"]),
                                  "setting": [figure1_setting(cfg)]},
                   seeds=range(cfg["seeds"]), backend=backend, n_jobs=n_jobs, cache_dir=cache_dir, progress=progress)
        rows += [dict(decode(r), part="figure1") for r in sw.rows]
        cfg["figure1_seconds"] = sw.seconds
    cfg["total_seconds"] = time.perf_counter() - t0
    res = NoiseResult(cfg, rows)
    _fit(res)
    return finish(res, out, plot)


__all__ = ["METHODS", "NoiseResult", "cell_figure1", "cell_planted", "noise", "noise_settings"]
