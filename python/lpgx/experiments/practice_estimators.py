"""Estimators from practice against the paper's Reinforce, at equal reward-query budgets
(``docs/theory.md`` §10; results and commands in ``docs/estimators.md``).

The estimators: Reinforce (the paper's, §6.2), RLOO, GRPO, Dr. GRPO (GRPO without the
division), PassAtK, GRPO with a KL penalty to the base model, and GRPO with PPO clipping and
μ reuse epochs. Every run spends ``queries_per_step`` = batch × G reward queries per step
(Reinforce: G = 1 and batch = queries_per_step; the others: G = ``group_size`` and batch =
queries_per_step / G), so equal steps are equal query budgets.

1. **Figure-1 setting.** The base model of :func:`figure1` (its settings, seeds and
   pre-training; the same base for the same seed), post-trained once per estimator and
   reward. Recorded: test error, test entropy, test KL to the base, and the mean likelihood
   of the off-support centres (base likelihood below ``off_support``, as Figure 1 defines
   them), against the queries spent.
2. **Staircase.** One context with planted base likelihood α (``lpgx.staircase``) per run;
   outcome-reward post-training until the context's likelihood reaches 1 − ``stair_eps``.
   Queries to the target against 1/α, per estimator, with the log-log slope fitted with a
   bootstrap CI over seeds. Until the first correct response every estimator's update is
   zero, so the model is the base and all estimators see the same draws (the same streams):
   the queries to the first success are identical across estimators by construction.

Both parts run their cells through :func:`lpgx.sweep` (cached and resumable with
``cache_dir``). ``estimators_settings()`` lists every setting. (The module is not named
``estimators``, so that the function ``lpgx.experiments.estimators`` does not hide it.)
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .. import _rng
from .. import _validate as v
from .. import plotting
from ..estimators import GRPO, KL_ESTIMATORS, RLOO, Estimator, PassAtK, Reinforce
from ..model import LinearARModel
from ..optim import Adagrad
from ..planted import staircase
from ..rewards import KINDS
from ..sweep import sweep
from ..tasks import TeacherTask
from ..training import post_train
from . import paper_figure1
from ._artifacts import finish, load_artifact, save_artifact
from ._settings import Setting, Settings, choices, count, fits_memory, real, reals
from .rates import Fit, fit_slope

ESTIMATORS: Tuple[str, ...] = ("reinforce", "rloo", "grpo", "dr_grpo", "pass_at_k", "grpo_kl", "grpo_clip")
LABELS = {"reinforce": "Reinforce (paper)", "rloo": "RLOO", "grpo": "GRPO", "dr_grpo": "Dr. GRPO",
          "pass_at_k": "pass@k", "grpo_kl": "GRPO + KL", "grpo_clip": "GRPO + clip, μ epochs"}
COLORS = {"reinforce": "black", "rloo": "tab:blue", "grpo": "tab:orange", "dr_grpo": "tab:green",
          "pass_at_k": "tab:purple", "grpo_kl": "tab:brown", "grpo_clip": "tab:pink"}

# The settings of the Figure-1 base model and its evaluation: figure1's own entries.
_FIGURE1_KEYS = ("context_dim", "vocab_size", "seq_len", "num_mix", "sigma", "pre_steps", "pre_batch", "pre_lr",
                 "post_lr", "test_size", "test_every", "off_support")


def _kl_estimator(value: Any, name: str) -> str:
    return v.option(value, name, KL_ESTIMATORS)


def _joint(cfg: Dict[str, Any]) -> None:
    G = cfg["group_size"]
    for key in ("queries_per_step", "stair_queries_per_step"):
        if cfg[key] % G:
            raise ValueError(f"{key}={cfg[key]} must be a multiple of group_size={G} (batch = {key} / G)")
    if "pass_at_k" in cfg["estimators"] and cfg["pass_k"] > G:
        raise ValueError(f"pass_k={cfg['pass_k']} must be at most group_size={G}")
    d, N = cfg["context_dim"], cfg["seq_len"]
    fits_memory(cfg["pre_batch"] * (8.0 * d + 24.0 * N), f"pre_batch={cfg['pre_batch']}")
    fits_memory(cfg["queries_per_step"] * 40.0 * N, f"queries_per_step={cfg['queries_per_step']}")
    fits_memory(32.0 * cfg["post_steps"], f"post_steps={cfg['post_steps']} (the per-step records)")
    fits_memory(8.0 * cfg["test_size"] * (d + N), f"test_size={cfg['test_size']}")


SETTINGS = Settings("estimators", {
    **{k: paper_figure1.SETTINGS.table[k] for k in _FIGURE1_KEYS},
    "post_steps": Setting(4000, count(), "post-training steps of every run (the budget is post_steps × "
                                         "queries_per_step)", quick=400),
    "queries_per_step": Setting(1024, count(), "reward queries per step, batch × G, the same for every estimator",
                                quick=256),
    "track_every": Setting(10, count(), "steps between likelihoods of the centres"),
    "seeds": Setting(3, count(), "seeds (base models) of the Figure-1 runs"),
    "estimators": Setting(list(ESTIMATORS), choices(ESTIMATORS), "the estimators to compare"),
    "rewards": Setting(["outcome", "process"], choices(KINDS), "the rewards of the Figure-1 runs"),
    "group_size": Setting(8, count(2), "G, responses per context of the group estimators"),
    "pass_k": Setting(8, count(), "k of pass_at_k (leave-one-out baseline when k < G)"),
    "kl": Setting(0.04, real(0.0, open_low=True), "β of grpo_kl (GRPO's published value)"),
    "kl_estimator": Setting("k3", _kl_estimator, "the KL estimator of grpo_kl (exact, k1, k2 or k3)"),
    "clip": Setting(0.2, real(0.0, open_low=True), "ε, the clip range of grpo_clip"),
    "epochs": Setting(4, count(), "μ, the epochs of grpo_clip (reuses cost no queries)"),
    "staircase": Setting(True, v.flag, "run the staircase part"),
    "stair_vocab_size": Setting(8, count(2), "k of the staircase"),
    "stair_seq_len": Setting(8, count(), "N of the staircase"),
    "stair_alphas": Setting([float(a) for a in np.logspace(-1, -6, 11)],
                            reals(0.0, 1.0, open_low=True, open_high=True, min_len=2),
                            "the planted base likelihoods α (the grid)",
                            quick=[float(a) for a in np.logspace(-1, -4, 4)]),
    "stair_queries_per_step": Setting(64, count(), "reward queries per step of the staircase runs"),
    "stair_eps": Setting(0.5, real(0.0, 1.0, open_low=True, open_high=True),
                         "the target likelihood is 1 − stair_eps"),
    "stair_seeds": Setting(8, count(), "seeds per staircase cell", quick=3),
    "stair_patience": Setting(10.0, real(0.0, open_low=True),
                              "a run stops unreached after stair_patience/α + stair_min_queries queries"),
    "stair_min_queries": Setting(200000, count(), "see stair_patience"),
}, _joint)


def estimators_settings(quick: bool = False) -> Dict[str, Any]:
    """Every setting of :func:`estimators` with its default (the quick ones with
    ``quick=True``); a fresh dict each call."""
    return SETTINGS.defaults(v.flag(quick, "quick"))


# -- the estimators ------------------------------------------------------------------------

def estimator_spec(name: str, cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The settings estimator ``name`` depends on (a cell's cache key holds only these)."""
    G = cfg["group_size"]
    spec: Dict[str, Any] = {"name": name, "group_size": 1 if name == "reinforce" else G}
    if name == "pass_at_k":
        spec["k"] = cfg["pass_k"]
    elif name == "grpo_kl":
        spec.update(kl=cfg["kl"], kl_estimator=cfg["kl_estimator"])
    elif name == "grpo_clip":
        spec.update(clip=cfg["clip"], epochs=cfg["epochs"])
    return spec


def make_estimator(spec: Dict[str, Any], base: LinearARModel) -> Estimator:
    """The estimator of ``spec``; the KL's reference is the base model."""
    name, G = spec["name"], spec["group_size"]
    if name == "reinforce":
        return Reinforce()  # batch baseline for outcome rewards, none for process rewards (Figure 1)
    if name == "rloo":
        return RLOO(G)
    if name == "grpo":
        return GRPO(G)
    if name == "dr_grpo":
        return GRPO(G, scale="none")
    if name == "pass_at_k":
        return PassAtK(G, spec["k"], baseline="loo" if spec["k"] < G else "none")
    if name == "grpo_kl":
        return GRPO(G, kl=spec["kl"], kl_estimator=spec["kl_estimator"], reference=base)
    if name == "grpo_clip":
        return GRPO(G, clip=spec["clip"], epochs=spec["epochs"])
    raise ValueError(f"estimator must be one of {ESTIMATORS}, got {name!r}")


# -- part 1: the Figure-1 setting ----------------------------------------------------------

def figure1_base(cfg: Dict[str, Any], seed: int) -> Tuple[TeacherTask, LinearARModel, Tuple[np.ndarray, np.ndarray],
                                                          Tuple[np.ndarray, np.ndarray], int]:
    """(task, base model, test set, centres, post-training seed) of :func:`figure1` with seed
    ``seed`` (:func:`.paper_figure1.figure1_base`, one thread, as a sweep cell runs)."""
    task, model, test, centres, post_rng, _ = paper_figure1.figure1_base(cfg, seed, n_threads=1, curve=False)
    return task, model, test, centres, _rng.key(post_rng)


def _curve(values: Any) -> str:
    return json.dumps([float(x) for x in np.asarray(values, dtype=float)])


def cell_figure1(estimator: Dict[str, Any], reward: str, setting: Dict[str, Any], seed: int) -> Dict[str, Any]:
    """One post-training run from the Figure-1 base model of ``seed``: finals and curves."""
    task, base, test, centres, post_seed = figure1_base(setting, seed)
    base_ll = base.log_prob(*centres, n_threads=1)
    off = base_ll < math.log(setting["off_support"])
    est = make_estimator(estimator, base)
    model = base.copy()
    r = post_train(model, task, reward=reward, estimator=est, steps=setting["post_steps"],
                   batch_size=setting["queries_per_step"] // est.group_size, optimizer=Adagrad(lr=setting["post_lr"]),
                   rng=post_seed, test=test, test_every=setting["test_every"], track=centres,
                   track_every=setting["track_every"], n_threads=1)
    queries = np.concatenate([[0], r.queries])
    off_lik = np.exp(r.tracked_log_lik[:, off]).mean(1) if off.any() else np.full(len(r.track_steps), np.nan)
    return {"test_error": float(r.test_error[-1]), "off_support_lik": float(off_lik[-1]),
            "entropy": float(r.test_entropy[-1]), "kl": float(r.test_kl[-1]), "queries": int(queries[-1]),
            "n_off_support": int(off.sum()), "base_test_error": float(r.test_error[0]),
            "all_equal": float(r.all_equal.mean()) if len(r.all_equal) else float("nan"),
            "clipped": float(r.clipped.mean()) if len(r.clipped) else float("nan"), "seconds": r.seconds,
            "test_queries": _curve(queries[r.test_steps]), "test_error_curve": _curve(r.test_error),
            "entropy_curve": _curve(r.test_entropy), "kl_curve": _curve(r.test_kl),
            "track_queries": _curve(queries[r.track_steps]), "off_support_curve": _curve(off_lik)}


# -- part 2: the staircase -----------------------------------------------------------------

def cell_staircase(estimator: Dict[str, Any], alpha: float, setting: Dict[str, Any], seed: int) -> Dict[str, Any]:
    """Queries until one context of base likelihood α reaches likelihood 1 − eps.

    post_train runs in chunks of about 1/(α·Q) steps (Q queries per step), stopping after the
    chunk in which the target is reached or when patience/α + min_queries queries are spent.
    Chunk i draws from the streams of (seed, i), whatever the estimator; the KL's reference
    and the optimizer's state carry over from chunk to chunk."""
    task, base = staircase(setting["vocab_size"], setting["seq_len"], [alpha], rng=seed)
    est = make_estimator(estimator, base)
    qps = setting["queries_per_step"]
    opt = Adagrad(lr=setting["lr"])
    model = base.copy()
    chunk = max(100, math.ceil(1.0 / (alpha * qps)))
    cap = setting["patience"] / alpha + setting["min_queries"]
    target = math.log1p(-setting["eps"])
    spent, first, reached, steps, i = 0, None, None, 0, 0
    t0 = time.perf_counter()
    while reached is None and spent < cap:
        r = post_train(model, task, reward="outcome", estimator=est, steps=chunk, batch_size=qps // est.group_size,
                       optimizer=opt, rng=np.random.SeedSequence([int(seed), i]), track=(task.contexts, task.y_star),
                       n_threads=1)
        queries = spent + r.queries
        if first is None and (r.success > 0).any():
            first = int(queries[np.argmax(r.success > 0)])
        hit = np.nonzero(r.tracked_log_lik[1:, 0] >= target)[0]
        if len(hit):
            reached = int(queries[hit[0]])
            steps += int(hit[0]) + 1
        else:
            steps += chunk
        spent, i = int(queries[-1]), i + 1
    return {"reached": reached is not None, "queries": reached if reached is not None else spent,
            "first_success": first, "steps": steps, "final_log_lik": float(model.log_prob(task.contexts, task.y_star,
                                                                                        n_threads=1)[0]),
            "seconds": time.perf_counter() - t0}


# -- the result ----------------------------------------------------------------------------

_FLOOR = 1e-40  # the lowest likelihood the off-support panels show
RUN_METRICS = ("test_error", "off_support_lik", "entropy", "kl", "queries")
_CURVES = ("test_queries", "test_error_curve", "entropy_curve", "kl_curve", "track_queries", "off_support_curve")


@dataclass(frozen=True)
class EstimatorsResult:
    """The Figure-1 runs (one row per estimator × reward × seed, with curves) and the staircase
    runs (one row per estimator × α × seed), with the fitted slopes."""

    config: Dict[str, Any]
    runs: List[Dict[str, Any]]
    stairs: List[Dict[str, Any]] = field(default_factory=list)
    fits: Dict[str, Fit] = field(default_factory=dict)
    notes: Dict[str, str] = field(default_factory=dict)

    def select(self, **where: Any) -> List[Dict[str, Any]]:
        """The Figure-1 rows matching ``where`` (e.g. ``estimator="grpo", reward="outcome"``)."""
        return [r for r in self.runs if all(r.get(k) == val for k, val in where.items())]

    def table(self) -> List[Dict[str, Any]]:
        """Per reward and estimator: mean, standard deviation, min and max over seeds of the final
        test error, off-support mean likelihood, test entropy, test KL to the base and queries."""
        out = []
        for reward in self.config["rewards"]:
            for name in self.config["estimators"]:
                rows = self.select(estimator=name, reward=reward)
                if not rows:
                    continue
                row: Dict[str, Any] = {"reward": reward, "estimator": name, "seeds": len(rows)}
                for key in RUN_METRICS:
                    x = np.array([r[key] for r in rows], dtype=float)
                    x = x[~np.isnan(x)]
                    row[f"{key}_mean"] = float(x.mean()) if len(x) else math.nan
                    row[f"{key}_sd"] = float(x.std(ddof=1)) if len(x) > 1 else math.nan
                    row[f"{key}_min"] = float(x.min()) if len(x) else math.nan
                    row[f"{key}_max"] = float(x.max()) if len(x) else math.nan
                row["all_equal"] = float(np.mean([r["all_equal"] for r in rows]))
                row["seconds"] = float(np.mean([r["seconds"] for r in rows]))
                out.append(row)
        return out

    def stair_matrix(self, key: str, name: str) -> np.ndarray:
        """(len(stair_alphas), stair_seeds) array of ``key`` for estimator ``name``."""
        return np.array([[r[key] for r in self.stairs if r["estimator"] == name and r["alpha"] == a]
                         for a in self.config["stair_alphas"]], dtype=float)

    def summary(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {f"slope {k}": str(f) for k, f in self.fits.items()}
        out.update(self.notes)
        return out

    def to_pandas(self) -> Any:
        """:meth:`table` as a DataFrame."""
        from .._optional import require
        return require("pandas").DataFrame(self.table())

    def markdown(self) -> str:
        """:meth:`table` as a Markdown table (mean ± sd over seeds; min–max of the off-support
        likelihood, which spans orders of magnitude)."""
        lines = ["| reward | estimator | test error | off-support likelihood (mean; min–max) | entropy | "
                 "KL to base | queries | all-equal groups |", "|---|---|---|---|---|---|---|---|"]
        for r in self.table():
            lines.append(f"| {r['reward']} | {LABELS[r['estimator']]} | {r['test_error_mean']:.4f} ± "
                         f"{r['test_error_sd']:.4f} | {r['off_support_lik_mean']:.3g}; "
                         f"{r['off_support_lik_min']:.2g}–{r['off_support_lik_max']:.2g} | {r['entropy_mean']:.4f} ± {r['entropy_sd']:.4f} | "
                         f"{r['kl_mean']:.4f} ± {r['kl_sd']:.4f} | {int(r['queries_mean']):,} | "
                         f"{'—' if math.isnan(r['all_equal']) else format(r['all_equal'], '.3f')} |")
        return "\n".join(lines)

    def stair_markdown(self) -> str:
        """Seed-mean queries to the target per α and estimator (a "+" marks a lower bound: some
        seed stopped at the cap), and the queries to the first success, as a Markdown table."""
        alphas = self.config["stair_alphas"]
        lines = ["| estimator | " + " | ".join(f"α = {a:.2g}" for a in alphas) + " |",
                 "|---|" + "---|" * len(alphas)]
        first = self.stair_matrix("first_success", self.config["estimators"][0])
        lines.append("| first success (all) | " + " | ".join(f"{m:.3g}" for m in np.nanmean(first, 1)) + " |")
        for name in self.config["estimators"]:
            q = self.stair_matrix("queries", name)
            reached = np.asarray(self.stair_matrix("reached", name).astype(bool).all(1), dtype=bool)
            lines.append(f"| {LABELS[name]} | " + " | ".join(f"{m:.3g}" + ("" if ok else "+")
                                                           for m, ok in zip(q.mean(1), reached)) + " |")
        return "\n".join(lines)

    def save(self, out: Any) -> Path:
        arrays = {"runs_json": np.frombuffer(json.dumps(self.runs).encode(), dtype=np.uint8),
                  "stairs_json": np.frombuffer(json.dumps(self.stairs).encode(), dtype=np.uint8)}
        cfg = dict(self.config, fits={k: vars(f) for k, f in self.fits.items()}, notes=self.notes)
        return save_artifact(out, "estimators", arrays, cfg)

    @classmethod
    def load(cls, out: Any) -> "EstimatorsResult":
        a, cfg = load_artifact(out, "estimators")
        fits = {k: Fit(**f) for k, f in cfg.pop("fits").items()}
        notes = cfg.pop("notes")
        return cls(cfg, json.loads(a["runs_json"].tobytes().decode()), json.loads(a["stairs_json"].tobytes().decode()),
                   fits, notes)

    # -- plots --

    def plot(self, out: Optional[Any] = None) -> Any:
        """Against the queries spent, one row per reward: test error, the mean likelihood of the
        off-support centres, test entropy and test KL to the base (seed mean, min–max band).
        Returns the Figure; written as estimators_curves.png/.pdf when ``out`` is given, with
        the staircase figure (:meth:`plot_staircase`) beside it."""
        plt = plotting.pyplot()
        rewards = self.config["rewards"]
        fig, axes = plt.subplots(len(rewards), 4, figsize=(20, 4.2 * len(rewards)), squeeze=False)
        panels = (("test_queries", "test_error_curve", "test error 1 − E q(y*|x)", "linear"),
                  ("track_queries", "off_support_curve",
                   f"off-support centres: mean likelihood (base q < {self.config['off_support']:g})", "log"),
                  ("test_queries", "entropy_curve", "test entropy (nats per token)", "linear"),
                  ("test_queries", "kl_curve", "test KL(π ‖ base) per token", "linear"))
        for row, reward in enumerate(rewards):
            for col, (xkey, ykey, title, yscale) in enumerate(panels):
                ax = axes[row, col]
                for name in self.config["estimators"]:
                    rows = self.select(estimator=name, reward=reward)
                    if not rows:
                        continue
                    x = np.asarray(rows[0][xkey])
                    y = np.array([r[ykey] for r in rows], dtype=float)
                    have = ~np.all(np.isnan(y), axis=1)
                    if not have.any():
                        continue
                    y = y[have]
                    ax.plot(x, y.mean(0), color=COLORS[name], label=LABELS[name], lw=1.3)
                    ax.fill_between(x, y.min(0), y.max(0), color=COLORS[name], alpha=0.12, lw=0)
                ax.set_xscale("log" if yscale == "log" else "linear")
                ax.set_yscale(yscale)
                if yscale == "log":  # likelihoods: at most 1, and below 1e-40 is all "not learned"
                    ax.set_ylim(bottom=max(ax.get_ylim()[0], _FLOOR), top=2.0)
                ax.set_xlabel("reward queries")
                ax.set_title(f"{reward}: {title}", fontsize=9)
            n_off = [r["n_off_support"] for r in self.select(reward=reward, estimator=self.config["estimators"][0])]
            axes[row, 1].set_title(f"{reward}: off-support centres (base q < {self.config['off_support']:g}; "
                                   f"{', '.join(map(str, n_off))} per seed), axis from {_FLOOR:g}", fontsize=9)
        axes[0, 0].legend(fontsize=8)
        cfg = self.config
        fig.suptitle(f"estimators at equal query budgets: Figure-1 setting d=k={cfg['context_dim']}, "
                     f"N={cfg['seq_len']}, {cfg['queries_per_step']} queries per step, G={cfg['group_size']}, "
                     f"{cfg['seeds']} seeds (mean, min–max band)")
        fig.tight_layout()
        plotting.save(fig, out, "estimators_curves")
        if out is not None and self.stairs:
            plt.close(self.plot_staircase(out))
        return fig

    def plot_staircase(self, out: Optional[Any] = None) -> Any:
        """Queries to the target against 1/α per outcome estimator (seed means, fitted slopes),
        with the queries to the first success; and the same numbers times α.
        Returns the Figure; written as estimators_staircase.png/.pdf when ``out`` is given."""
        plt = plotting.pyplot()
        cfg = self.config
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
        inv = 1.0 / np.asarray(cfg["stair_alphas"])
        for name in cfg["estimators"]:
            q = self.stair_matrix("queries", name)
            reached = self.stair_matrix("reached", name).astype(bool)
            if q.size == 0:
                continue
            qm = np.where(reached.all(1), q.mean(1), np.nan)
            fit = self.fits.get(f"{name}: target")
            label = LABELS[name] + (f", slope {fit}" if fit is not None else "")
            axes[0].plot(inv, qm, "o-", color=COLORS[name], label=label, ms=3, lw=1.2)
            miss = ~reached.all(1)
            if miss.any():
                axes[0].plot(inv[miss], q.mean(1)[miss], "x", color=COLORS[name], ms=7)
            axes[1].plot(inv, qm / inv, "o-", color=COLORS[name], label=LABELS[name], ms=3, lw=1.2)
        first = np.nanmean(self.stair_matrix("first_success", cfg["estimators"][0]), 1)
        fit = self.fits.get("first success")
        axes[0].plot(inv, first, "s:", color="gray",
                     label="first success (all)" + (f", slope {fit}" if fit is not None else ""))
        axes[0].plot(inv, inv, "--", color="lightgray", label="1/α")
        axes[1].plot(inv, first / inv, "s:", color="gray", label="first success (all)")
        axes[1].axhline(1.0, ls="--", color="lightgray", label="1/α")
        axes[0].set_title(f"queries to likelihood 1 − {cfg['stair_eps']:g} (x: not reached by the cap)", fontsize=9)
        axes[1].set_title("the same × α: flat where the queries grow like 1/α", fontsize=9)
        for ax in axes:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("1/α (planted base likelihood)")
            ax.legend(fontsize=7)
        axes[0].set_ylabel("reward queries")
        axes[1].set_ylabel("reward queries × α")
        fig.suptitle(f"staircase: k={cfg['stair_vocab_size']}, N={cfg['stair_seq_len']}, "
                     f"{cfg['stair_queries_per_step']} queries per step, {cfg['stair_seeds']} seeds, outcome reward")
        fig.tight_layout()
        plotting.save(fig, out, "estimators_staircase")
        return fig


# -- the experiment ------------------------------------------------------------------------

def _decode(row: Dict[str, Any]) -> Dict[str, Any]:
    out = {k: val for k, val in row.items() if k != "setting"}
    out["estimator"] = row["estimator"]["name"]
    for key in _CURVES:
        if key in out:
            out[key] = json.loads(out[key])
    return out


def _fit_staircase(res: EstimatorsResult) -> None:
    """Slopes of ln(queries) against ln(1/α), over the α every seed reached; and over the
    smaller half of those α, where 1/α dominates the climb."""
    cfg = res.config
    alphas = np.asarray(cfg["stair_alphas"])
    x = np.log(1.0 / alphas)
    first = res.stair_matrix("first_success", cfg["estimators"][0])
    half = alphas <= np.median(alphas)
    if np.isfinite(first).all() and len(x) >= 2:
        res.fits["first success"] = fit_slope(x, np.log(first))
        if half.sum() >= 2:
            res.fits["first success, smallest α"] = fit_slope(x[half], np.log(first[half]))
    for name in cfg["estimators"]:
        q = res.stair_matrix("queries", name)
        reached = res.stair_matrix("reached", name).astype(bool)
        ok = np.asarray(reached.all(1), dtype=bool)
        if ok.sum() >= 2:
            res.fits[f"{name}: target"] = fit_slope(x[ok], np.log(q[ok]))
        small = ok & half
        if small.sum() >= 2:
            res.fits[f"{name}: target, smallest α"] = fit_slope(x[small], np.log(q[small]))
        if not ok.all():
            res.notes[f"{name}: not reached"] = ", ".join(
                f"α={a:.3g} ({int((~reached[j]).sum())} of {q.shape[1]} seeds)"
                for j, a in enumerate(alphas) if not ok[j])
    firsts = {name: res.stair_matrix("first_success", name) for name in cfg["estimators"]}
    same = all(np.array_equal(f, first, equal_nan=True) for f in firsts.values())
    res.notes["first success identical across estimators"] = "yes" if same else "NO"


def estimators(out: Optional[Any] = None, quick: bool = False, backend: str = "loky", n_jobs: Optional[int] = None,
               cache_dir: Optional[Any] = None, progress: bool = False, plot: bool = True, **overrides: Any
               ) -> EstimatorsResult:
    """Compare the estimators of ``docs/theory.md`` §10 at equal reward-query budgets, in the
    Figure-1 setting and on a planted staircase (module docstring). Settings by keyword (see
    :func:`estimators_settings`); every argument is checked before any run starts. With
    ``out``, saves ``estimators.npz`` + ``estimators.json`` and the plots; with
    ``cache_dir``, every run is cached and an interrupted call resumes."""
    cfg = SETTINGS.resolve_sweep(quick, overrides, out, backend, n_jobs, cache_dir, plot)
    v.flag(progress, "progress")
    t0 = time.perf_counter()
    setting = {k: cfg[k] for k in (*_FIGURE1_KEYS, "post_steps", "queries_per_step", "track_every")}
    specs = [estimator_spec(name, cfg) for name in cfg["estimators"]]
    sw = sweep(cell_figure1, {"estimator": specs, "reward": list(cfg["rewards"]), "setting": [setting]},
               seeds=range(cfg["seeds"]), backend=backend, n_jobs=n_jobs, cache_dir=cache_dir, progress=progress)
    runs = [_decode(r) for r in sw.rows]
    cfg["figure1_seconds"] = sw.seconds
    stairs: List[Dict[str, Any]] = []
    if cfg["staircase"]:
        stair_setting = {"vocab_size": cfg["stair_vocab_size"], "seq_len": cfg["stair_seq_len"],
                         "queries_per_step": cfg["stair_queries_per_step"], "eps": cfg["stair_eps"],
                         "lr": cfg["post_lr"], "patience": cfg["stair_patience"],
                         "min_queries": cfg["stair_min_queries"]}
        sw = sweep(cell_staircase, {"estimator": specs, "alpha": [float(a) for a in cfg["stair_alphas"]],
                                    "setting": [stair_setting]},
                   seeds=range(cfg["stair_seeds"]), backend=backend, n_jobs=n_jobs, cache_dir=cache_dir,
                   progress=progress)
        stairs = [_decode(r) for r in sw.rows]
        cfg["staircase_seconds"] = sw.seconds
    cfg["total_seconds"] = time.perf_counter() - t0
    res = EstimatorsResult(cfg, runs, stairs)
    if stairs:
        _fit_staircase(res)
    return finish(res, out, plot)


__all__ = ["ESTIMATORS", "EstimatorsResult", "cell_figure1", "cell_staircase", "estimator_spec", "estimators",
           "estimators_settings", "figure1_base", "make_estimator"]
