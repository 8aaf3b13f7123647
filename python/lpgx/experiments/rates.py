"""Experiments that check the theory's rates (``docs/theory.md`` §7) on planted instances (§8).

Each experiment runs a grid × seeds through :func:`lpgx.sweep`, fits a slope on log axes
with a bootstrap confidence interval over seeds, checks the prediction, and can save an
artifact and a plot. The cell functions are module-level so process pools can pickle them.

1. ``rates_alpha``: Algorithm 1 (outcome reward) on one context with planted base
   likelihood α: queries to reach likelihood 1 − ε grow like 1/α (log-log slope ≈ 1).
2. ``rates_length``: off the base model's support (α = k^−N), outcome-reward queries grow
   like k^N (slope of ln queries vs N ≈ ln k); process-reward queries about linearly in N.
3. ``rates_sgd``: supervised SGD with the adaptive step has an error that does not grow
   with N at a fixed sample budget; the constant step (η = 1/(N R²), the largest the
   loss's N R²-smoothness allows) is N times worse.
4. ``rates_online``: online PG's mistakes scale like 1/γ² (mistakes·γ² constant).
5. ``lq_barrier``: after outcome-reward post-training with a per-step exploration budget m,
   the error is the mass of contexts whose base likelihood is below ≈ 1/m: the base
   model's Likelihood Quantile decides what can be learned.

``rates_settings(name)`` lists the settings of each (``name`` one of alpha, length, sgd,
online, barrier); every setting can be overridden by keyword, and is checked before any
run starts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from .. import _validate as v
from .. import algorithms as alg
from .. import plotting
from ..margins import margins
from ..model import LinearARModel
from ..optim import SGD
from ..planted import FiniteTask, combination_lock, staircase
from ..sweep import sweep
from ..tasks import TeacherTask
from ._artifacts import finish, load_artifact, save_artifact
from ._settings import Setting, Settings, count, counts, fits_memory, real, reals


# -- fitting -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fit:
    """Least-squares slope of mean-over-seeds y against x, with a bootstrap CI over seeds."""

    slope: float
    low: float
    high: float
    intercept: float

    def __str__(self) -> str:
        return f"{self.slope:.3f} [{self.low:.3f}, {self.high:.3f}]"


def fit_slope(x: Any, y: np.ndarray, n_boot: int = 2000, seed: int = 0) -> Fit:
    """``y`` has shape (len(x), n_seeds); the fit is on the seed-mean of each row."""
    xs = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    slope, intercept = np.polyfit(xs, y.mean(1), 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, y.shape[1], size=(n_boot, y.shape[1]))
    boots = np.array([np.polyfit(xs, y[:, i].mean(1), 1)[0] for i in idx])
    low, high = np.percentile(boots, [2.5, 97.5])
    return Fit(float(slope), float(low), float(high), float(intercept))


# -- cells (one run each) ------------------------------------------------------------------

def cell_alpha(alpha: float, vocab_size: int, seq_len: int, eps: float, max_steps: int, seed: int) -> Dict[str, Any]:
    """Queries of Algorithm 1 to lift one context from base likelihood α to 1 − ε."""
    task, base = staircase(vocab_size, seq_len, [alpha], rng=seed)
    r = alg.pg_outcome_multi(base.copy(), task, base, steps=max_steps, m=2**31 - 1, eval="all", eps=eps,
                             rng=seed, n_threads=1)
    return {"queries": r.target_queries if r.target_queries is not None else r.total_queries,
            "reached": r.target_step is not None, "steps": r.steps_done}


def cell_length(seq_len: int, reward: str, vocab_size: int, eps: float, max_steps: int, seed: int) -> Dict[str, Any]:
    """Queries to reach 1 − ε on one context from the uniform (off-support) base."""
    task, base = combination_lock(vocab_size, seq_len, 1, rng=seed)
    run = alg.pg_outcome_multi if reward == "outcome" else alg.pg_process
    r = run(base.copy(), task, base, steps=max_steps, m=2**31 - 1, eval="all", eps=eps, rng=seed, n_threads=1)
    return {"queries": r.target_queries if r.target_queries is not None else r.total_queries,
            "reached": r.target_step is not None, "steps": r.steps_done}


def margin_pool(context_dim: int, vocab_size: int, seq_len: int, size: int, seed: int) -> FiniteTask:
    """The ``size`` largest-margin contexts of 20·size Rademacher draws for a teacher with a
    context-only feature (y*_i the same token at every position: the margin does not
    depend on N), rescaled to R = 1."""
    task = TeacherTask(context_dim, vocab_size, seq_len, rng=seed, teacher_blocks=("context",))
    x, y = task.sample(20 * size, rng=seed + 1)
    keep = np.argsort(-margins(task.teacher, x, y, n_threads=1).margin)[:size]
    return FiniteTask(x[keep] / np.sqrt(context_dim), y[keep], vocab_size)


def cell_sgd(seq_len: int, step: str, context_dim: int, vocab_size: int, budget: int, pool: int, seed: int) -> Dict[str, Any]:
    """Sequence error 1 − E q(y*|x) on the pool after ``budget`` labelled samples."""
    task = margin_pool(context_dim, vocab_size, seq_len, pool, seed)
    model = LinearARModel(vocab_size, seq_len, context_dim, blocks=("context",))
    opt = None if step == "adaptive" else SGD(lr=1.0 / seq_len)  # R = 1: η = 1/(N R²)
    r = alg.sgd_adaptive(model, task, steps=budget, step=opt, rng=seed, eval="all", eval_every=budget, n_threads=1)
    return {"error": float(1.0 - np.exp(r.eval_log_lik[-1]).mean())}


def cell_online(num_contexts: int, vocab_size: int, seq_len: int, rounds_per_context: int, seed: int) -> Dict[str, Any]:
    """Online PG with uniform exploration on a combination lock (γ = 1/√(M N))."""
    task, _ = combination_lock(vocab_size, seq_len, num_contexts, rng=seed)
    model = LinearARModel(vocab_size, seq_len, num_contexts, blocks=("context_position",))
    r = alg.online_pg(model, task, steps=rounds_per_context * num_contexts, rng=seed, n_threads=1)
    return {"expected_mistakes": float(r.expected_mistakes[-1]), "sample_mistakes": int(r.sample_mistakes[-1]),
            "gamma": 1.0 / math.sqrt(num_contexts * seq_len)}


def cell_barrier(m: int, vocab_size: int, seq_len: int, alphas: List[float], masses: List[float], steps: int,
                 seed: int) -> Dict[str, Any]:
    """Algorithm 1 with budget m on a staircase base; the error 1 − E q(y*|x) afterwards."""
    task, base = staircase(vocab_size, seq_len, alphas, masses, rng=seed)
    model = base.copy()
    alg.pg_outcome_multi(model, task, base, steps=steps, m=m, rng=seed, n_threads=1)
    q = np.exp(model.log_prob(task.contexts, task.y_star, n_threads=1))
    return {"error": float(task.masses @ (1.0 - q)), **{f"q{j}": float(v) for j, v in enumerate(q)}}


# -- settings (one table per experiment) --------------------------------------------------

_K, _N = 4, 10  # the barrier's staircase: its last stair sits just above the uniform k^-N


def _online_memory(cfg: Dict[str, Any]) -> None:
    M, N, k = max(cfg["num_contexts"]), cfg["seq_len"], cfg["vocab_size"]
    fits_memory(8.0 * (2 * M * M * N * k + M * M), f"num_contexts={M} (the combination lock)")


def _sgd_memory(cfg: Dict[str, Any]) -> None:
    fits_memory(8.0 * 20 * cfg["pool"] * (cfg["context_dim"] + max(cfg["seq_lens"])), f"pool={cfg['pool']}")


def _barrier_masses(cfg: Dict[str, Any]) -> None:
    if len(cfg["masses"]) != len(cfg["alphas"]):
        raise ValueError(f"masses must have one entry per alpha ({len(cfg['alphas'])}), got {len(cfg['masses'])}")
    if sum(cfg["masses"]) <= 0:
        raise ValueError("masses must not all be zero")


_ALPHAS = reals(0.0, 1.0, open_low=True, open_high=True, min_len=2)
_EPS = Setting(0.5, real(0.0, 1.0, open_low=True, open_high=True), "the target likelihood is 1 − eps")
_MAX_STEPS = Setting(10**7, count(), "step cap of each run")
_C_INTS = counts(1, min_len=2, maximum=v.INT32_MAX)


def _seeds(value: Any, name: str) -> Union[int, List[int]]:
    """``seeds``: a count N (seeds 0..N−1) or a list of distinct seeds (``lpgx rates --seeds 0-9``)."""
    if isinstance(value, (list, tuple)):
        seeds: List[int] = counts(0)(list(value), name)
        return seeds
    n: int = count()(value, name)
    return n

SETTINGS: Dict[str, Settings] = {
    "alpha": Settings("rates_alpha", {
        "vocab_size": Setting(8, count(2), "k, the vocabulary size"),
        "seq_len": Setting(8, count(), "N, the response length"),
        "alphas": Setting([float(a) for a in np.logspace(-1, -5, 9)], _ALPHAS,
                          "the planted base likelihoods α (the grid)",
                          quick=[float(a) for a in np.logspace(-1, -3.5, 6)]),
        "eps": _EPS,
        "seeds": Setting(10, _seeds, "seeds per grid point (a count, or a list of seeds)", quick=5),
        "max_steps": _MAX_STEPS,
    }),
    "length": Settings("rates_length", {
        "vocab_size": Setting(3, count(2), "k, the vocabulary size"),
        "seq_lens": Setting(list(range(2, 11)), counts(2, min_len=2, maximum=v.INT32_MAX),
                            "the response lengths N (the grid)", quick=list(range(2, 9))),
        "eps": _EPS,
        "seeds": Setting(10, _seeds, "seeds per grid point (a count, or a list of seeds)", quick=5),
        "max_steps": _MAX_STEPS,
    }),
    "sgd": Settings("rates_sgd", {
        "context_dim": Setting(16, count(), "d, the context dimension"),
        "vocab_size": Setting(4, count(2), "k, the vocabulary size"),
        "seq_lens": Setting([8, 16, 32, 64, 128], _C_INTS, "the response lengths N (the grid)", quick=[8, 32, 128]),
        "budget": Setting(30000, count(), "labelled samples of each run"),
        "pool": Setting(300, count(), "contexts in the pool: the largest margins of 20× as many draws"),
        "seeds": Setting(4, _seeds, "seeds per grid point (a count, or a list of seeds)", quick=2),
    }, _sgd_memory),
    "online": Settings("rates_online", {
        "vocab_size": Setting(3, count(2), "k, the vocabulary size"),
        "seq_len": Setting(3, count(), "N, the response length"),
        "num_contexts": Setting([1, 2, 4, 8, 16], _C_INTS, "the numbers of contexts M (the grid; γ = 1/√(M N))",
                                quick=[1, 4, 16]),
        "rounds_per_context": Setting(4000, count(), "online rounds per context", quick=2000),
        "seeds": Setting(6, _seeds, "seeds per grid point (a count, or a list of seeds)", quick=3),
    }, _online_memory),
    "barrier": Settings("lq_barrier", {
        "vocab_size": Setting(_K, count(2), "k, the vocabulary size"),
        "seq_len": Setting(_N, count(), "N, the response length"),
        "alphas": Setting([0.3, 3e-3, 3e-5, 1.01 * _K**-_N],
                          reals(0.0, 1.0, open_low=True, open_high=True, distinct=False),
                          "the staircase: base likelihood of each context"),
        "masses": Setting([0.25, 0.25, 0.25, 0.25], reals(0.0, distinct=False), "the mass of each context"),
        "budgets": Setting([1, 100, 10000], counts(1, maximum=v.INT32_MAX), "the exploration budgets m (the grid)"),
        "steps": Setting(2000, count(), "post-training steps T"),
        "successes": Setting(30.0, real(0.0, open_low=True),
                             "c: a context is predicted learnable when α·Q ≥ c"),
        "seeds": Setting(4, _seeds, "seeds per grid point (a count, or a list of seeds)", quick=2),
    }, _barrier_masses),
}


def rates_settings(name: str, quick: bool = False) -> Dict[str, Any]:
    """Every setting of the rate experiment ``name`` (alpha, length, sgd, online or barrier)
    with its default (the quick ones with ``quick=True``); a fresh dict each call."""
    return SETTINGS[v.option(name, "name", tuple(SETTINGS))].defaults(v.flag(quick, "quick"))


# -- results -------------------------------------------------------------------------------

@dataclass(frozen=True)
class RateResult:
    """Rows of a rate experiment (one per cell), fitted slopes and the checks made."""

    name: str
    config: Dict[str, Any]
    rows: List[Dict[str, Any]]
    fits: Dict[str, Fit] = field(default_factory=dict)
    checks: Dict[str, bool] = field(default_factory=dict)
    notes: Dict[str, str] = field(default_factory=dict)

    def column(self, key: str, **where: Any) -> np.ndarray:
        return np.array([r[key] for r in self.rows if all(r.get(k) == val for k, val in where.items())])

    def matrix(self, key: str, by: str, values: Sequence[Any], **where: Any) -> np.ndarray:
        """(len(values), n_seeds) array of ``key`` with ``by`` = each value."""
        return np.array([self.column(key, **{by: val}, **where) for val in values])

    def summary(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"experiment": self.name}
        out.update({f"slope {k}": str(f) for k, f in self.fits.items()})
        out.update({f"check {k}": bool(ok) for k, ok in self.checks.items()})
        out.update(self.notes)
        return out

    def save(self, out: Any) -> Path:
        import json
        arrays = {"rows_json": np.frombuffer(json.dumps(self.rows).encode(), dtype=np.uint8)}
        cfg = dict(self.config, fits={k: vars(f) for k, f in self.fits.items()}, checks=self.checks, notes=self.notes)
        return save_artifact(out, f"rates_{self.name}", arrays, cfg)

    @classmethod
    def load(cls, out: Any, name: str) -> "RateResult":
        import json
        a, cfg = load_artifact(out, f"rates_{name}")
        rows = json.loads(a["rows_json"].tobytes().decode())
        fits = {k: Fit(**f) for k, f in cfg.pop("fits").items()}
        checks, notes = cfg.pop("checks"), cfg.pop("notes")
        return cls(name, cfg, rows, fits, checks, notes)

    def plot(self, out: Optional[Any] = None) -> Any:
        """Per-seed points, seed means and the fitted slopes (the checks in the title).
        Returns the Figure; written as rates_<name>.png and .pdf when ``out`` is given."""
        plt = plotting.pyplot()
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
        _PLOTS[self.name](self, ax)
        ax.legend(fontsize=8)
        checks = ", ".join(f"{k}: {'yes' if val else 'NO'}" for k, val in self.checks.items())
        ax.set_title(f"rates_{self.name}\n{checks}", fontsize=8)
        fig.tight_layout()
        plotting.save(fig, out, f"rates_{self.name}")
        return fig


def _run(fn: Callable[..., Dict[str, Any]], grid: Dict[str, List[Any]], seeds: Union[int, List[int]], backend: str,
         n_jobs: Optional[int], cache_dir: Optional[Any], progress: bool) -> List[Dict[str, Any]]:
    return sweep(fn, grid, seeds=range(seeds) if isinstance(seeds, int) else seeds, backend=backend, n_jobs=n_jobs, cache_dir=cache_dir,
                 progress=progress).rows


def rates_alpha(out: Optional[Any] = None, quick: bool = False, backend: str = "loky", n_jobs: Optional[int] = None,
                cache_dir: Optional[Any] = None, progress: bool = False, plot: bool = True, **overrides: Any
                ) -> RateResult:
    """Prediction 1: queries of outcome-reward PG grow like 1/α (slope in [0.8, 1.2])."""
    cfg = SETTINGS["alpha"].resolve_sweep(quick, overrides, out, backend, n_jobs, cache_dir, plot)
    rows = _run(cell_alpha, {"alpha": [float(a) for a in cfg["alphas"]], "vocab_size": [cfg["vocab_size"]],
                             "seq_len": [cfg["seq_len"]], "eps": [cfg["eps"]], "max_steps": [cfg["max_steps"]]},
                cfg["seeds"], backend, n_jobs, cache_dir, progress)
    res = RateResult("alpha", cfg, rows)
    q = res.matrix("queries", "alpha", [float(a) for a in cfg["alphas"]])
    fit = fit_slope(np.log(1 / np.asarray(cfg["alphas"])), np.log(q))
    res.fits["log queries vs log 1/alpha"] = fit
    res.checks["slope in [0.8, 1.2]"] = 0.8 <= fit.slope <= 1.2
    res.checks["all runs reached the target"] = bool(all(r["reached"] for r in rows))
    return finish(res, out, plot)


def rates_length(out: Optional[Any] = None, quick: bool = False, backend: str = "loky", n_jobs: Optional[int] = None,
                 cache_dir: Optional[Any] = None, progress: bool = False, plot: bool = True, **overrides: Any
                 ) -> RateResult:
    """Prediction 2: off the base model's support (α = k^−N, one context), outcome-reward
    queries grow like k^N while process-reward queries grow about linearly in N.

    The theory's rates are in units of 1/γ² (Õ(k^N/γ²) and Õ(N·k/γ²)) and the combination
    lock's margin is γ = 1/√(M N): the fits are on queries·γ² = queries/N, so that they
    compare growth at a fixed margin. Checks: the ORM slope of ln(queries·γ²) against N is
    within 15% of ln k; the PRM's queries·γ² grow no faster than N log N (log-log slope
    against N ln N at most 1). The raw-query slopes are reported too."""
    cfg = SETTINGS["length"].resolve_sweep(quick, overrides, out, backend, n_jobs, cache_dir, plot)
    Ns = list(cfg["seq_lens"])
    rows = _run(cell_length, {"seq_len": Ns, "reward": ["outcome", "process"], "vocab_size": [cfg["vocab_size"]],
                              "eps": [cfg["eps"]], "max_steps": [cfg["max_steps"]]},
                cfg["seeds"], backend, n_jobs, cache_dir, progress)
    res = RateResult("length", cfg, rows)
    gamma2 = 1.0 / np.asarray(Ns, dtype=float)[:, None]
    qo = res.matrix("queries", "seq_len", Ns, reward="outcome")
    qp = res.matrix("queries", "seq_len", Ns, reward="process")
    lnk = math.log(cfg["vocab_size"])
    fo = fit_slope(Ns, np.log(qo * gamma2))
    fpn = fit_slope(np.log([n * math.log(n) for n in Ns]), np.log(qp * gamma2))
    res.fits["ORM ln(queries*gamma^2) vs N"] = fo
    res.fits["PRM ln(queries*gamma^2) vs ln(N ln N)"] = fpn
    res.fits["PRM ln(queries*gamma^2) vs ln N"] = fit_slope(np.log(Ns), np.log(qp * gamma2))
    res.fits["ORM ln queries vs N (raw)"] = fit_slope(Ns, np.log(qo))
    res.fits["PRM ln queries vs ln N (raw)"] = fit_slope(np.log(Ns), np.log(qp))
    res.notes["ln k"] = f"{lnk:.4f}"
    res.checks["ORM slope within 15% of ln k"] = bool(abs(fo.slope / lnk - 1) <= 0.15)
    res.checks["PRM no faster than N log N"] = bool(fpn.slope <= 1.0)
    res.checks["all runs reached the target"] = bool(all(r["reached"] for r in rows))
    return finish(res, out, plot)


def rates_sgd(out: Optional[Any] = None, quick: bool = False, backend: str = "loky", n_jobs: Optional[int] = None,
              cache_dir: Optional[Any] = None, progress: bool = False, plot: bool = True, **overrides: Any
              ) -> RateResult:
    """Prediction 3: adaptive-step SGD's error at a fixed budget does not grow with N
    (within a factor 2 from the smallest to the largest N); the constant step's does."""
    cfg = SETTINGS["sgd"].resolve_sweep(quick, overrides, out, backend, n_jobs, cache_dir, plot)
    Ns = list(cfg["seq_lens"])
    rows = _run(cell_sgd, {"seq_len": Ns, "step": ["adaptive", "constant"], "context_dim": [cfg["context_dim"]],
                           "vocab_size": [cfg["vocab_size"]], "budget": [cfg["budget"]], "pool": [cfg["pool"]]},
                cfg["seeds"], backend, n_jobs, cache_dir, progress)
    res = RateResult("sgd", cfg, rows)
    ea = res.matrix("error", "seq_len", Ns, step="adaptive")
    ec = res.matrix("error", "seq_len", Ns, step="constant")
    res.fits["adaptive ln error vs ln N"] = fit_slope(np.log(Ns), np.log(ea))
    res.fits["constant ln error vs ln N"] = fit_slope(np.log(Ns), np.log(ec))
    ma, mc = ea.mean(1), ec.mean(1)
    res.notes["adaptive max/min error over N"] = f"{ma.max() / ma.min():.3f}"
    res.notes["constant error ratio largest/smallest N"] = f"{mc[-1] / mc[0]:.3f}"
    res.checks["adaptive within a factor 2 over N"] = ma.max() / ma.min() <= 2.0
    res.checks["constant error grows with N"] = bool(np.all(np.diff(mc) > 0))
    return finish(res, out, plot)


def rates_online(out: Optional[Any] = None, quick: bool = False, backend: str = "loky", n_jobs: Optional[int] = None,
                 cache_dir: Optional[Any] = None, progress: bool = False, plot: bool = True, **overrides: Any
                 ) -> RateResult:
    """Prediction 4: online mistakes × γ² roughly constant (within a factor 2) over a 4×
    range of γ (γ = 1/√(M N) varied through the number of contexts M)."""
    cfg = SETTINGS["online"].resolve_sweep(quick, overrides, out, backend, n_jobs, cache_dir, plot)
    Ms = list(cfg["num_contexts"])
    rows = _run(cell_online, {"num_contexts": Ms, "vocab_size": [cfg["vocab_size"]], "seq_len": [cfg["seq_len"]],
                              "rounds_per_context": [cfg["rounds_per_context"]]},
                cfg["seeds"], backend, n_jobs, cache_dir, progress)
    res = RateResult("online", cfg, rows)
    mist = res.matrix("expected_mistakes", "num_contexts", Ms)
    gam = np.array([1 / math.sqrt(M * cfg["seq_len"]) for M in Ms])
    res.fits["ln mistakes vs ln 1/gamma"] = fit_slope(np.log(1 / gam), np.log(mist))
    scaled = mist.mean(1) * gam**2
    res.notes["mistakes*gamma^2 per gamma"] = ", ".join(f"{s:.1f}" for s in scaled)
    res.checks["mistakes*gamma^2 within a factor 2"] = scaled.max() / scaled.min() <= 2.0
    return finish(res, out, plot)


def lq_barrier(out: Optional[Any] = None, quick: bool = False, backend: str = "loky", n_jobs: Optional[int] = None,
               cache_dir: Optional[Any] = None, progress: bool = False, plot: bool = True, **overrides: Any
               ) -> RateResult:
    """Prediction 5: after outcome-reward post-training (Algorithm 1, exploration budget m,
    T steps), the error is the mass of contexts below the base model's Likelihood Quantile
    at the query budget.

    A staircase base has contexts with base likelihoods α_j 100× apart (mass p_j each).
    Context j gets about Q_j = m·T·p_j queries; it is predicted learnable when
    α_j·Q_j ≥ c (c = 30, the handful of successes an adaptive-step climb needs: with the
    stairs 100× apart any c in [5, 150] predicts the same). The predicted error is the mass
    of the contexts that are not, i.e. ε with LQ_{q0}(ε) ≈ c/Q."""
    cfg = SETTINGS["barrier"].resolve_sweep(quick, overrides, out, backend, n_jobs, cache_dir, plot)
    rows = _run(cell_barrier, {"m": list(cfg["budgets"]), "vocab_size": [cfg["vocab_size"]],
                               "seq_len": [cfg["seq_len"]], "alphas": [list(map(float, cfg["alphas"]))],
                               "masses": [list(map(float, cfg["masses"]))], "steps": [cfg["steps"]]},
                cfg["seeds"], backend, n_jobs, cache_dir, progress)
    res = RateResult("barrier", cfg, rows)
    alphas, masses = np.asarray(cfg["alphas"]), np.asarray(cfg["masses"]) / np.sum(cfg["masses"])
    measured = res.matrix("error", "m", list(cfg["budgets"])).mean(1)
    predicted = np.array([predicted_barrier_error(alphas, masses, m, cfg["steps"], cfg["successes"])
                          for m in cfg["budgets"]])
    res.notes["error measured per m"] = ", ".join(f"{e:.3f}" for e in measured)
    res.notes["predicted (mass below the LQ at the budget) per m"] = ", ".join(f"{p:.3f}" for p in predicted)
    res.checks["error within 0.1 of the predicted mass"] = bool(np.all(np.abs(measured - predicted) <= 0.1))
    return finish(res, out, plot)


def predicted_barrier_error(alphas: np.ndarray, masses: np.ndarray, m: int, steps: int, successes: float) -> float:
    """Mass of the contexts with α_j · m · steps · p_j < successes."""
    return float(masses[alphas * m * steps * masses < successes].sum())


EXPERIMENTS: Dict[str, Callable[..., RateResult]] = {
    "alpha": rates_alpha, "length": rates_length, "sgd": rates_sgd, "online": rates_online, "barrier": lq_barrier}


# -- plots (one per experiment) ------------------------------------------------------------

def _series(ax: Any, res: RateResult, x: Any, y: np.ndarray, label: str, color: str, fit_key: Optional[str],
            xt: Any = None) -> None:
    """Per-seed points of ``y`` (len(x), n_seeds), their mean, and the fit ``fit_key`` (made
    on the transformed abscissa ``xt``, default ``x``)."""
    xs = np.asarray(x, dtype=float)
    for j in range(y.shape[1]):
        ax.scatter(xs, y[:, j], s=8, color=color, alpha=0.35)
    ax.plot(xs, y.mean(1), "o-", color=color, label=label)
    if fit_key in res.fits:
        f = res.fits[fit_key]
        xf = np.asarray(x if xt is None else xt, dtype=float)
        ax.plot(xs, np.exp(f.intercept + f.slope * xf), "--", color=color, alpha=0.7, label=f"fit slope {f}")


def _log_axes(ax: Any, xlabel: str, ylabel: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _plot_alpha(res: RateResult, ax: Any) -> None:
    cfg = res.config
    a = [float(x) for x in cfg["alphas"]]
    inv = 1 / np.asarray(a)
    _series(ax, res, inv, res.matrix("queries", "alpha", a), "Algorithm 1 (ORM)", "tab:red",
            "log queries vs log 1/alpha", np.log(inv))
    _log_axes(ax, "1/α (base likelihood)", f"queries to likelihood 1 − {cfg['eps']}")


def _plot_length(res: RateResult, ax: Any) -> None:
    cfg = res.config
    Ns = cfg["seq_lens"]
    g2 = 1.0 / np.asarray(Ns, dtype=float)[:, None]
    _series(ax, res, Ns, res.matrix("queries", "seq_len", Ns, reward="outcome") * g2, "outcome reward", "tab:red",
            "ORM ln(queries*gamma^2) vs N")
    _series(ax, res, Ns, res.matrix("queries", "seq_len", Ns, reward="process") * g2, "process reward", "tab:blue",
            "PRM ln(queries*gamma^2) vs ln N", np.log(Ns))
    ax.plot(Ns, np.asarray(cfg["vocab_size"], dtype=float) ** np.asarray(Ns), ":", color="gray", label="k^N")
    ax.set_yscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel(f"queries·γ² to likelihood 1 − {cfg['eps']} (uniform base)")


def _plot_sgd(res: RateResult, ax: Any) -> None:
    cfg = res.config
    Ns = cfg["seq_lens"]
    _series(ax, res, Ns, res.matrix("error", "seq_len", Ns, step="adaptive"), "adaptive step", "tab:green",
            "adaptive ln error vs ln N", np.log(Ns))
    _series(ax, res, Ns, res.matrix("error", "seq_len", Ns, step="constant"), "constant step 1/N", "tab:purple",
            "constant ln error vs ln N", np.log(Ns))
    _log_axes(ax, "N", f"test error after {cfg['budget']} samples")


def _plot_online(res: RateResult, ax: Any) -> None:
    cfg = res.config
    Ms = cfg["num_contexts"]
    inv_gamma = np.sqrt(np.asarray(Ms, dtype=float) * cfg["seq_len"])
    _series(ax, res, inv_gamma, res.matrix("expected_mistakes", "num_contexts", Ms), "Σ(1 − p(y*|x))", "tab:orange",
            "ln mistakes vs ln 1/gamma", np.log(inv_gamma))
    _log_axes(ax, "1/γ", "online mistakes")


def _plot_barrier(res: RateResult, ax: Any) -> None:
    cfg = res.config
    ms = cfg["budgets"]
    ax.plot(ms, res.matrix("error", "m", ms).mean(1), "o-", color="tab:red", label="measured error")
    alphas = np.asarray(cfg["alphas"])
    masses = np.asarray(cfg["masses"]) / np.sum(cfg["masses"])
    ax.plot(ms, [predicted_barrier_error(alphas, masses, m, cfg["steps"], cfg["successes"]) for m in ms], "s--",
            color="gray", label="predicted: mass below the LQ at the budget")
    ax.set_xscale("log")
    ax.set_xlabel("exploration budget m")
    ax.set_ylabel("error after post-training")


_PLOTS: Dict[str, Callable[[RateResult, Any], None]] = {
    "alpha": _plot_alpha, "length": _plot_length, "sgd": _plot_sgd, "online": _plot_online, "barrier": _plot_barrier}
