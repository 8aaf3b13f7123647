"""Plots of the paper's figures (matplotlib is an optional extra: ``lpgx[plot]``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from ._optional import require

COLORS = {"outcome": "tab:red", "process": "tab:blue"}
LABELS = {"outcome": "outcome reward (ORM)", "process": "process reward (PRM)"}


def _pyplot() -> Any:
    mpl = require("matplotlib")
    if mpl.get_backend().lower() not in ("agg", "pdf", "svg") and not _interactive():
        mpl.use("Agg")
    return require("matplotlib.pyplot")


def _interactive() -> bool:
    import sys
    return "ipykernel" in sys.modules or hasattr(sys, "ps1")


def _save(fig: Any, out: Optional[Any], name: str) -> None:
    if out is None:
        return
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        fig.savefig(out / f"{name}.{ext}", dpi=150, bbox_inches="tight")


def plot_figure1(result: Any, out: Optional[Any] = None) -> Any:
    """(a) mean likelihood of off-support centres vs step; (b) test error vs step;
    (c) ORM likelihood of 16 centres at evenly spaced quantiles of base likelihood."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    cfg = result.config
    off = result.off_support
    ax = axes[0]
    if off.any():
        for name, r in result.post.items():
            ax.plot(r.track_steps + 1, result.off_support_mean_likelihood(name), color=COLORS.get(name),
                    label=LABELS.get(name, name))
        ax.set_yscale("log")
        ax.set_ylim(top=2.0)
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no off-support centres in this run", ha="center", va="center", transform=ax.transAxes)
    ax.set_xscale("log")
    ax.set_xlabel("post-training step + 1")
    ax.set_ylabel("mean likelihood")
    ax.set_title(f"(a) off-support centres ({int(off.sum())} of {off.size}, base q < {cfg['off_support']:g})")
    ax = axes[1]
    for name, r in result.post.items():
        ax.plot(r.test_steps, r.test_error, color=COLORS.get(name), label=LABELS.get(name, name))
    ax.set_xlabel("post-training step")
    ax.set_ylabel("test error 1 − E q(y*|x)")
    ax.set_title("(b) test error")
    ax.legend()
    ax = axes[2]
    if "outcome" in result.post:
        r = result.post["outcome"]
        order = np.argsort(result.base_centre_log_lik)
        picks = order[np.unique(np.linspace(0, len(order) - 1, 16).round().astype(int))]
        cmap = plt.get_cmap("viridis")
        lo, hi = result.base_centre_log_lik.min(), result.base_centre_log_lik.max()
        norm = plt.Normalize(vmin=lo / np.log(10), vmax=hi / np.log(10))
        for j in picks:
            ax.plot(r.track_steps + 1, np.exp(r.tracked_log_lik[:, j]),
                    color=cmap(norm(result.base_centre_log_lik[j] / np.log(10))))
        sm = plt.cm.ScalarMappable(cmap=cmap, norm=norm)
        fig.colorbar(sm, ax=ax, label="log10 base likelihood")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(top=2.0)
        ax.set_xlabel("post-training step + 1")
        ax.set_ylabel("likelihood q(y*|centre)")
        ax.set_title("(c) ORM: 16 centres by base likelihood")
    fig.suptitle(f"Figure 1: d=k={cfg['context_dim']}, N={cfg['seq_len']}, seed {cfg['seed']}")
    fig.tight_layout()
    _save(fig, out, "figure1")
    return fig


def plot_figure2(result: Any, out: Optional[Any] = None) -> Any:
    """CDF of q(y*|x), LQ(ε) and the alpha-tail, one curve per checkpoint."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    # the bulk of the contexts, not the extreme tail, sets the α range
    ll_min = max(float(np.quantile(result.log_lik, 0.01)), -700.0)
    alpha = np.exp(np.linspace(ll_min, 0, 400))
    eps = np.linspace(0.01, 0.99, 99)
    cdf, lq, tail = result.cdf(alpha), result.lq(eps), result.alpha_tail(alpha)
    cmap = plt.get_cmap("plasma")
    P = len(result.steps)
    for p, s in enumerate(result.steps):
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
    cfg = result.config
    fig.suptitle(f"Figure 2 (synthetic): d={cfg['context_dim']}, k={cfg['vocab_size']}, N={cfg['seq_len']}")
    fig.tight_layout()
    _save(fig, out, "figure2")
    return fig


def plot_rates(result: Any, out: Optional[Any] = None) -> Any:
    """One panel per quantity of a rate experiment: per-seed points, seed means, the fit."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    cfg, name = result.config, result.name

    def series(x: Any, y: Any, label: str, color: str, fit_key: Optional[str], xt: Any = None) -> None:
        xs = np.asarray(x, dtype=float)
        for j in range(y.shape[1]):
            ax.scatter(xs, y[:, j], s=8, color=color, alpha=0.35)
        ax.plot(xs, y.mean(1), "o-", color=color, label=label)
        if fit_key in result.fits:
            f = result.fits[fit_key]
            xf = np.asarray(x if xt is None else xt, dtype=float)
            ax.plot(xs, np.exp(f.intercept + f.slope * xf), "--", color=color, alpha=0.7,
                    label=f"fit slope {f}")

    if name == "alpha":
        a = [float(v) for v in cfg["alphas"]]
        series(1 / np.asarray(a), result.matrix("queries", "alpha", a), "Algorithm 1 (ORM)", "tab:red",
               "log queries vs log 1/alpha", np.log(1 / np.asarray(a)))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("1/α (base likelihood)")
        ax.set_ylabel(f"queries to likelihood 1 − {cfg['eps']}")
    elif name == "length":
        Ns = cfg["seq_lens"]
        g2 = 1.0 / np.asarray(Ns, dtype=float)[:, None]
        series(Ns, result.matrix("queries", "seq_len", Ns, reward="outcome") * g2, "outcome reward", "tab:red",
               "ORM ln(queries*gamma^2) vs N")
        series(Ns, result.matrix("queries", "seq_len", Ns, reward="process") * g2, "process reward", "tab:blue",
               "PRM ln(queries*gamma^2) vs ln N", np.log(Ns))
        ax.plot(Ns, np.asarray(cfg["vocab_size"], dtype=float) ** np.asarray(Ns), ":", color="gray", label="k^N")
        ax.set_yscale("log")
        ax.set_xlabel("N")
        ax.set_ylabel(f"queries·γ² to likelihood 1 − {cfg['eps']} (uniform base)")
    elif name == "sgd":
        Ns = cfg["seq_lens"]
        series(Ns, result.matrix("error", "seq_len", Ns, step="adaptive"), "adaptive step", "tab:green",
               "adaptive ln error vs ln N", np.log(Ns))
        series(Ns, result.matrix("error", "seq_len", Ns, step="constant"), "constant step 1/N", "tab:purple",
               "constant ln error vs ln N", np.log(Ns))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N")
        ax.set_ylabel(f"test error after {cfg['budget']} samples")
    elif name == "online":
        Ms = cfg["num_contexts"]
        gam = 1 / np.sqrt(np.asarray(Ms, dtype=float) * cfg["seq_len"])
        series(1 / gam, result.matrix("expected_mistakes", "num_contexts", Ms), "Σ(1 − p(y*|x))", "tab:orange",
               "ln mistakes vs ln 1/gamma", np.log(1 / gam))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("1/γ")
        ax.set_ylabel("online mistakes")
    elif name == "barrier":
        ms = cfg["budgets"]
        err = result.matrix("error", "m", ms)
        ax.plot(ms, err.mean(1), "o-", color="tab:red", label="measured error")
        alphas = np.asarray(cfg["alphas"])
        masses = np.asarray(cfg["masses"]) / np.sum(cfg["masses"])
        from .experiments.rates import predicted_barrier_error
        ax.plot(ms, [predicted_barrier_error(alphas, masses, m, cfg["steps"], cfg["successes"]) for m in ms], "s--",
                color="gray", label="predicted: mass below the LQ at the budget")
        ax.set_xscale("log")
        ax.set_xlabel("exploration budget m")
        ax.set_ylabel("error after post-training")
    ax.legend(fontsize=8)
    checks = ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in result.checks.items())
    ax.set_title(f"rates_{name}\n{checks}", fontsize=8)
    fig.tight_layout()
    _save(fig, out, f"rates_{name}")
    return fig
