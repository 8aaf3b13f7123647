"""The statistical report of Figure 1 over seeds: headline numbers with bootstrap intervals,
seed counts of the qualitative claims, the comparison at equal queries and tokens, the
theory's algorithms next to the on-policy runs, and the barrier map; and the figures."""
from __future__ import annotations

from typing import Any, List, Optional, Sequence

import numpy as np

from . import barrier_map
from ._axes import AXES, axis_label
from ._stats import Claim, MeanCI, claim, curve_band, mean_ci

# A result is a paper_figure1_seeds.Figure1SeedsResult; not imported here, since that module
# imports this one for its report (no module imports in a circle).
Figure1SeedsResult = Any

SHORT = {"outcome": "ORM", "process": "PRM"}
PLATEAU = 0.02  #: the ORM "plateaus" when its test error falls by less than this over the last 3/4 of the run


def _ci(values: Any, fmt: str = ".3f") -> str:
    a = np.asarray(values, dtype=float)
    a = a[np.isfinite(a)]
    return mean_ci(a).format(fmt) + ("" if a.size == np.asarray(values).size else f" (n={a.size})") if a.size else "–"


def _steps(res: Figure1SeedsResult) -> List[int]:
    """The measured steps nearest to 0, S/8, S/4 and S (the keys of the summary rows)."""
    s = int(res.config["post_steps"])
    measured = res.curve("outcome", "steps")[0]
    return [int(measured[np.argmin(np.abs(measured - t))]) for t in (0, s // 8, s // 4, s)]


def claims(res: Figure1SeedsResult, x: str = "steps") -> List[Claim]:
    """The paper's qualitative claims, counted seed by seed (on the ``x`` axis where it matters)."""
    seeds = res.seeds
    s = _steps(res)
    orm_end, prm_end = res.column("outcome_final_test_error"), res.column("process_final_test_error")
    if x == "steps":
        below_all = [bool(np.all(p[1:] < o[1:])) for o, p in
                     zip(res.curve("outcome", "test_error"), res.curve("process", "test_error"))]
    else:  # on a common grid of the x axis: the other reward's curve interpolated at each point
        below_all = []
        for i in range(len(seeds)):
            xo, xp = res.curve("outcome", x)[i], res.curve("process", x)[i]
            grid = xp[(xp > 0) & (xp <= xo[-1])]
            o = np.interp(grid, xo, res.curve("outcome", "test_error")[i])
            p = np.interp(grid, xp, res.curve("process", "test_error")[i])
            below_all.append(bool(np.all(p < o)))
    n_off = res.column("n_off_support")
    has_off = n_off > 0
    orm_off, prm_off = res.column("outcome_off_support_mean_lik_end"), res.column("process_off_support_mean_lik_end")
    plateau = res.column(f"outcome_test_error@{s[2]}") - orm_end < PLATEAU
    return [
        claim("PRM ends with a lower test error than ORM", prm_end < orm_end, seeds),
        claim(f"PRM's test error is below ORM's at every measurement after the start (equal {x})", below_all, seeds),
        claim(f"ORM plateaus: its test error falls by less than {PLATEAU} from step {s[2]} to {s[3]}", plateau, seeds),
        claim("PRM lifts the off-support centres further than ORM (mean likelihood at the end; seeds with "
              "off-support centres)", [bool(p > o) if h else None for p, o, h in zip(prm_off, orm_off, has_off)],
              seeds),
        claim("ORM learns no off-support centre (seeds with off-support centres)",
              [bool(c == 0) if h else None for c, h in zip(res.column("outcome_off_support_learned"), has_off)],
              seeds),
        claim("PRM learns every off-support centre (seeds with off-support centres)",
              [bool(c == n) if h else None for c, n, h in zip(res.column("process_off_support_learned"), n_off,
                                                                   has_off)], seeds),
    ]


def _headline(res: Figure1SeedsResult) -> List[str]:
    s = _steps(res)
    n = len(res.seeds)
    lines = [f"| quantity (mean [95% CI] over {n} seeds) | ORM | PRM |", "|---|---|---|"]
    for step in s:
        lines.append(f"| test error after {step} steps | {_ci(res.column(f'outcome_test_error@{step}'))} | "
                     f"{_ci(res.column(f'process_test_error@{step}'))} |")
    lines.append(f"| final test error, ORM − PRM | {_ci(res.column('gap_final_test_error'))} | |")
    lines.append(f"| mean likelihood of the off-support centres at the end | "
                 f"{_ci(res.column('outcome_off_support_mean_lik_end'))} | "
                 f"{_ci(res.column('process_off_support_mean_lik_end'))} |")
    total_off = int(res.column("n_off_support").sum())
    learned = [int(res.column(f"{name}_off_support_learned").sum()) for name in ("outcome", "process")]
    lines.append(f"| off-support centres learned (likelihood ≥ ½), all seeds | {learned[0]}/{total_off} | "
                 f"{learned[1]}/{total_off} |")
    lines.append(f"| centres learned per seed (of {res.config['num_mix']}) | "
                 f"{_ci(res.column('outcome_centres_learned'), '.1f')} | "
                 f"{_ci(res.column('process_centres_learned'), '.1f')} |")
    lines.append(f"| off-support centres per seed | {_ci(res.column('n_off_support'), '.2f')} | |")
    return lines


def equal_axis_table(res: Figure1SeedsResult, x: str) -> List[str]:
    """ORM and PRM test error at equal values of ``x`` (each run's curve interpolated)."""
    end = min(res.curve(n, x)[:, -1].min() for n in ("outcome", "process"))
    points = [end / 8, end / 4, end / 2, end]
    lines = [f"| {axis_label(x)} | ORM test error | PRM test error | ORM − PRM | PRM lower in |", "|---|---|---|---|---|"]
    for q in points:
        o, p = res.curve_at("outcome", q, x), res.curve_at("process", q, x)
        lines.append(f"| {q:,.0f} | {_ci(o)} | {_ci(p)} | {_ci(o - p)} | {int(np.sum(p < o))}/{len(o)} |")
    return lines


def _per_step(res: Figure1SeedsResult, name: str, x: str) -> str:
    c = res.curve(name, x)[:, -1] / res.curve(name, "steps")[:, -1]
    return f"{c.min():,.0f}" if c.min() == c.max() else f"{c.min():,.0f}–{c.max():,.0f}"


def algorithms_table(res: Figure1SeedsResult) -> List[str]:
    """Test error and mean off-support likelihood at equal reward queries: the on-policy runs
    (interpolated on their query axis) and the theory's algorithms (last evaluation within
    the budget)."""
    rows = res.algorithms
    if not rows:
        return []
    budgets = sorted({int(k.split("@")[1]) for k in rows[0] if k.startswith("test_error@")})
    names = list(dict.fromkeys(r["algorithm"] for r in rows))
    from .paper_figure1_algorithms import LABELS
    head = ["on-policy ORM (Adagrad)", "on-policy PRM (Adagrad)"] + [LABELS[n] for n in names]
    out = []
    for what, title in (("test_error", "test error"), ("off_support_mean_lik", "mean likelihood of the off-support "
                                                                               "centres")):
        out += [f"**{title}** (mean [95% CI] over seeds):", "",
                "| reward queries | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
        for q in budgets:
            cells = []
            for name in ("outcome", "process"):
                if what == "test_error":
                    cells.append(_ci(res.curve_at(name, q, "queries")))
                else:
                    vals = []
                    for xs, ys in zip(res.curve(name, "queries"), res.curve(name, "off_support_mean_lik")):
                        vals.append(np.interp(q, xs, ys, right=np.nan))
                    cells.append(_ci(vals))
            for n in names:
                cells.append(_ci([r[f"{what}@{q}"] for r in rows if r["algorithm"] == n]))
            out.append(f"| {q:,} | " + " | ".join(cells) + " |")
        out.append("")
    return out


def barrier_section(res: Figure1SeedsResult) -> List[str]:
    b = res.barrier()
    m = res.config["num_mix"]
    lines = []
    for name, rec in b.items():
        q = rec["queries"]
        conf = barrier_map.confusion(rec["predicted"], rec["observed"])
        off = rec["off_support"]
        conf_off = barrier_map.confusion(rec["predicted"][off], rec["observed"][off])
        alt = barrier_map.confusion(rec["predicted_token_worst"], rec["observed"])
        lines += [f"**{SHORT[name]}** (Q = {int(q[0]):,} queries per run, Q/M = {q[0] / m:,.0f} per centre): "
                  f"agreement **{100 * conf.agreement:.1f}%** over {conf.total} centres "
                  f"({100 * conf_off.agreement:.1f}% over the {conf_off.total} off-support ones)"
                  + (f"; the worst-token form N/q_TL ≤ Q/M agrees on {100 * alt.agreement:.1f}%."
                     if name == "process" else "."), "",
                  conf.markdown(SHORT[name]), ""]
    return lines


TYPICAL = (0.0, 0.5, 0.9, 1.0)  #: bins of the fraction of a centre's neighbours that share its y*


def typicality_section(res: Figure1SeedsResult) -> List[str]:
    """Agreement of the predictor by how typical each centre's y* is of its neighbours."""
    b, t = res.barrier(), res.typicality()
    lines = ["| neighbours sharing the centre's y* | centres | of them off-support | ORM agreement | "
             "PRM agreement |", "|---|---|---|---|---|"]
    for lo, hi in zip(TYPICAL[:-1], TYPICAL[1:]):
        m = (t["same"] >= lo) & ((t["same"] < hi) if hi < 1.0 else (t["same"] <= hi))
        cells = []
        for name in ("outcome", "process"):
            rec = b[name]
            agree = (rec["predicted"] == rec["observed"])[m]
            cells.append(f"{100 * agree.mean():.1f}% ({int(agree.sum())}/{agree.size})" if agree.size else "–")
        lines.append(f"| {lo:g}–{hi:g} | {int(m.sum())} | {int((m & b['outcome']['off_support']).sum())} | "
                     + " | ".join(cells) + " |")
    return lines


def disagreements(res: Figure1SeedsResult, limit: int = 12) -> List[str]:
    """The centres where prediction and observation differ, the most surprising first."""
    b = res.barrier()
    lines = ["| reward | seed | centre | log10 base q0(y*) | log10 min token q0 | log10 Σ 1/q0_i | predicted | "
             "log10 final |", "|---|---|---|---|---|---|---|---|"]
    ln10 = np.log(10)
    for name, rec in b.items():
        bad = np.flatnonzero(rec["predicted"] != rec["observed"])
        order = bad[np.argsort(rec["base_log_lik"][bad])]
        for i in order[:limit]:
            lines.append(f"| {SHORT[name]} | {rec['seed'][i]} | {rec['centre'][i]} | "
                         f"{rec['base_log_lik'][i] / ln10:.1f} | {rec['min_token_log_lik'][i] / ln10:.2f} | "
                         f"{rec['log_prm_cost'][i] / ln10:.2f} | "
                         f"{'learned' if rec['predicted'][i] else 'not learned'} | {rec['final_log_lik'][i] / ln10:.1f} |")
    return lines


def report(res: Figure1SeedsResult, x: str = "queries") -> str:
    """The report as markdown."""
    cfg = res.config
    n = len(res.seeds)
    lines = [f"# Figure 1 over {n} seeds", "",
             f"Seeds {_seed_text(res.seeds)}; d = k = {cfg['context_dim']}, N = {cfg['seq_len']}, "
             f"M = {cfg['num_mix']}, {cfg['post_steps']} post-training steps of batch {cfg['post_batch']}. "
             f"Intervals: 95% percentile bootstrap over seeds.", "", "## Headline numbers", ""]
    lines += _headline(res) + ["", "## Claims, seed by seed", ""]
    lines += [f"- {c}" for c in claims(res)] + [""]
    lines += ["## Equal queries and equal tokens", "",
              f"Reward queries per step: ORM {_per_step(res, 'outcome', 'queries')}, PRM "
              f"{_per_step(res, 'process', 'queries')}; sampled tokens per step: ORM "
              f"{_per_step(res, 'outcome', 'tokens')}, PRM {_per_step(res, 'process', 'tokens')}.", ""]
    for axis in ("queries", "tokens"):
        lines += equal_axis_table(res, axis) + [""]
    changed = []
    for axis in ("queries", "tokens"):
        for a, b in zip(claims(res, "steps"), claims(res, axis)):
            if a.holds != b.holds:
                changed.append(f"{b.text}: {a.holds}/{a.of} at equal steps, {b.holds}/{b.of} at equal {axis}")
    lines += ["Conclusions that change from equal steps to equal queries or tokens: "
              + ("none." if not changed else "; ".join(changed) + "."), ""]
    if res.algorithms:
        lines += ["## The theory's algorithms at equal queries", ""] + algorithms_table(res)
    lines += ["## Barrier map", ""] + barrier_section(res)
    lines += ["Agreement by how typical the centre's y* is of the contexts drawn around it "
              "(4096 draws per seed, each assigned to its nearest centre):", ""] + typicality_section(res) + [""]
    lines += ["Disagreements:", ""] + disagreements(res) + [""]
    return "\n".join(lines)


def _seed_text(seeds: Sequence[int]) -> str:
    s = list(seeds)
    return f"{s[0]}–{s[-1]}" if s == list(range(s[0], s[-1] + 1)) else ", ".join(map(str, s))


def appendix(summary_csv: Any) -> str:
    """The per-seed table, generated from a run's summary.csv."""
    import csv
    with open(summary_csv, newline="") as f:
        rows = [{k: _number(val) for k, val in r.items()} for r in csv.DictReader(f)]
    if not rows:
        raise ValueError(f"{summary_csv} holds no rows")
    done = sorted({int(k.split("@")[1]) for k in rows[0] if k.startswith("outcome_test_error@")})
    head = ["seed", "off-support"] + [f"ORM @{t}" for t in done] + [f"PRM @{t}" for t in done] + [
        "ORM off-support lik.", "PRM off-support lik.", "off-support learned ORM / PRM"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for r in rows:
        cells = [str(r["seed"]), f"{r['n_off_support']} of {r['n_centres']}"]
        cells += [f"{r[f'outcome_test_error@{t}']:.3f}" for t in done]
        cells += [f"{r[f'process_test_error@{t}']:.3f}" for t in done]
        cells += [f"{r['outcome_off_support_mean_lik_end']:.2g}", f"{r['process_off_support_mean_lik_end']:.2g}",
                  f"{r['outcome_off_support_learned']} / {r['process_off_support_learned']}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


# -- figures -----------------------------------------------------------------------------

def plot_aggregate(res: Figure1SeedsResult, out: Optional[Any] = None, x: str = "steps") -> Any:
    """(a) mean test error with its 95% bootstrap band per reward against ``x``; (b) the
    ORM − PRM gap with its band; (c) the final likelihood of every off-support centre of every
    seed, as a box and strip plot per reward. Written as figure1_seeds[_<x>].png/.pdf."""
    from .. import plotting
    plt = plotting.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    grids = {}
    for name in ("outcome", "process"):
        xs = res.curve(name, x)
        grids[name] = xs[0]
        err = res.curve(name, "test_error")
        same = bool(np.all(xs == xs[0]))
        if not same:  # different axes per seed: onto the first seed's grid
            err = np.array([np.interp(xs[0], a, e) for a, e in zip(xs, err)])
        mean, low, high = curve_band(err)
        color = plotting.COLORS[name]
        axes[0].plot(xs[0], mean, color=color, label=plotting.LABELS[name])
        axes[0].fill_between(xs[0], low, high, color=color, alpha=0.25, lw=0)
    axes[0].set_xlabel(axis_label(x))
    axes[0].set_ylabel("test error 1 − E q(y*|x)")
    axes[0].set_title(f"(a) mean over {len(res.seeds)} seeds, 95% bootstrap band")
    axes[0].legend()
    grid = grids["process"]
    gaps = np.array([np.interp(grid, xo, eo) - np.interp(grid, xp, ep) for xo, eo, xp, ep in zip(
        res.curve("outcome", x), res.curve("outcome", "test_error"), res.curve("process", x),
        res.curve("process", "test_error"))])
    mean, low, high = curve_band(gaps)
    axes[1].plot(grid, mean, color="k")
    axes[1].fill_between(grid, low, high, color="grey", alpha=0.3, lw=0)
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set_xlabel(axis_label(x))
    axes[1].set_ylabel("ORM − PRM test error")
    axes[1].set_title("(b) the gap at equal " + x)
    b = res.barrier()
    rng = np.random.default_rng(0)
    data = []
    for i, name in enumerate(("outcome", "process")):
        rec = b[name]
        vals = np.maximum(rec["final_log_lik"][rec["off_support"]] / np.log(10), -60.0)
        data.append(vals)
        axes[2].scatter(i + 1 + rng.uniform(-0.15, 0.15, vals.size), vals, s=10, color=plotting.COLORS[name],
                        alpha=0.6)
    axes[2].boxplot(data, showfliers=False)
    axes[2].set_xticks([1, 2], ["ORM", "PRM"])
    axes[2].axhline(np.log10(barrier_map.LEARNED), color="grey", lw=0.8, ls="--")
    axes[2].set_ylabel("log10 final likelihood (floored at −60)")
    axes[2].set_title(f"(c) the {sum(map(len, data)) // 2} off-support centres of all seeds")
    fig.tight_layout()
    plotting.save(fig, out, "figure1_seeds" if x == "steps" else f"figure1_seeds_{x}")
    return fig


def plot_barrier(res: Figure1SeedsResult, out: Optional[Any] = None) -> Any:
    """The barrier map of every centre of every seed; written as barrier_map.png/.pdf."""
    from .. import plotting
    b = res.barrier()
    fig = barrier_map.plot_barrier_map({n: r["base_log_lik"] for n, r in b.items()},
                                       {n: r["final_log_lik"] for n, r in b.items()},
                                       {n: r["predicted"] for n, r in b.items()},
                                       {n: float(r["queries"][0]) for n, r in b.items()}, int(res.config["num_mix"]))
    plotting.save(fig, out, "barrier_map")
    return fig


__all__ = ["AXES", "MeanCI", "appendix", "claims", "plot_aggregate", "plot_barrier", "report"]
