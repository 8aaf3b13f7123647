"""Figure 1 over many seeds (``docs/figure1.md``): every seed is one cell of
:func:`lpgx.sweep` (cached and resumable with ``cache_dir``), running :func:`figure1` and
returning its scalars: the headline numbers, the test-error curves on the three axes of
:mod:`._axes`, and one record per mixture centre for the barrier map
(:mod:`.barrier_map`). The aggregate (means with bootstrap intervals over seeds, seed
counts of the paper's qualitative claims) is in :mod:`._figure1_report`.
"""
from __future__ import annotations

import csv
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .. import _validate as v
from ..sweep import BACKENDS, sweep
from . import barrier_map
from ._artifacts import plain
from ._axes import AXES, run_axis
from ._settings import check_out, check_seed
from .paper_figure1 import SETTINGS, Figure1Result, figure1

CURVE = "curve:"
CENTRE = "centre:"


def parse_seeds(text: Any, name: str = "seeds") -> List[int]:
    """Seeds from ``"0-19"``, ``"0,3,5-7"``, an int count N (seeds 0..N−1) or a sequence of ints."""
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        if text < 1:
            raise ValueError(f"{name}: a count of seeds must be >= 1, got {text}")
        return list(range(int(text)))
    if isinstance(text, str):
        out: List[int] = []
        for part in text.replace(" ", "").split(","):
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if m is None:
                raise ValueError(f"{name}: expected seeds like 0-19 or 0,3,5-7, got {text!r}")
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            if hi < lo:
                raise ValueError(f"{name}: the range {part!r} is empty")
            out.extend(range(lo, hi + 1))
    else:
        try:
            out = [check_seed(s, name) for s in text]
        except TypeError:
            raise TypeError(f"{name} must be a range like '0-19', a count or a sequence of ints, "
                            f"got {type(text).__name__}") from None
    if not out:
        raise ValueError(f"{name} is empty")
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: a seed is given twice: {out}")
    return out


def _seed_text(seeds: Sequence[int]) -> str:
    s = list(seeds)
    return f"{s[0]}-{s[-1]}" if s == list(range(s[0], s[-1] + 1)) else ",".join(map(str, s))


def seed_row(r: Figure1Result) -> Dict[str, Any]:
    """The scalars of one seed's run: headline numbers, curves (``curve:<reward>:<i>:<what>``)
    and centres (``centre:<j>:<what>``)."""
    cfg = r.config
    steps = int(cfg["post_steps"])
    row = {k: val for k, val in r.summary(steps=(0, steps // 8, steps // 4, steps)).items() if k != "seed"}
    off = r.off_support
    if r.base_centre_token_log_lik.size:
        profile = barrier_map.token_profile(r.base_centre_token_log_lik)
    else:
        nan = np.full(off.size, np.nan)
        profile = {"min_token_log_lik": nan, "log_prm_cost": nan}
    for name, t in r.post.items():
        final = t.tracked_log_lik[-1]
        learned = barrier_map.observed(final)
        row[f"{name}_final_test_error"] = float(t.test_error[-1])
        row[f"{name}_queries"] = int(run_axis(t, [len(t.queries)], "queries")[0])
        row[f"{name}_tokens"] = int(run_axis(t, [len(t.queries)], "tokens")[0])
        row[f"{name}_centres_learned"] = int(learned.sum())
        row[f"{name}_off_support_learned"] = int((learned & off).sum())
        axes = {x: run_axis(t, t.test_steps, x) for x in AXES}
        # the tracked likelihoods at the test steps (track_every divides test_every by default)
        at = np.searchsorted(t.track_steps, t.test_steps).clip(0, len(t.track_steps) - 1)
        off_mean = (np.exp(t.tracked_log_lik[at][:, off]).mean(1) if off.any()
                    else np.full(len(at), np.nan))
        for i in range(len(t.test_steps)):
            for x in AXES:
                row[f"{CURVE}{name}:{i}:{x}"] = int(axes[x][i])
            row[f"{CURVE}{name}:{i}:test_error"] = float(t.test_error[i])
            row[f"{CURVE}{name}:{i}:off_support_mean_lik"] = float(off_mean[i])
        for j in range(off.size):
            row[f"{CENTRE}{j}:{name}_final_log_lik"] = float(final[j])
    for j in range(off.size):
        row[f"{CENTRE}{j}:base_log_lik"] = float(r.base_centre_log_lik[j])
        row[f"{CENTRE}{j}:min_token_log_lik"] = float(profile["min_token_log_lik"][j])
        row[f"{CENTRE}{j}:log_prm_cost"] = float(profile["log_prm_cost"][j])
        row[f"{CENTRE}{j}:off_support"] = bool(off[j])
    if "outcome" in r.post and "process" in r.post:
        row["gap_final_test_error"] = row["outcome_final_test_error"] - row["process_final_test_error"]
    return row


def cell_figure1(setting: Dict[str, Any], out: str, plot: bool, seed: int) -> Dict[str, Any]:
    """One seed of Figure 1 (a cell of :func:`lpgx.sweep`): the run's artifacts in
    ``out/seed<seed>`` (nothing saved when ``out`` is empty), its scalars returned."""
    folder = Path(out) / f"seed{seed}" if out else None
    return seed_row(figure1(out=folder, seed=seed, plot=plot, **setting))


@dataclass(frozen=True)
class Figure1SeedsResult:
    """Figure 1 over seeds: one row of scalars per seed (:func:`seed_row`)."""

    config: Dict[str, Any]
    rows: List[Dict[str, Any]]
    algorithms: List[Dict[str, Any]] = field(default_factory=list)  #: rows of figure1_algorithms, if run

    @property
    def seeds(self) -> List[int]:
        return [int(r["seed"]) for r in self.rows]

    @property
    def rewards(self) -> List[str]:
        return list(self.config["rewards"])

    def column(self, key: str) -> np.ndarray:
        """One value per seed."""
        missing = [r["seed"] for r in self.rows if key not in r]
        if missing:
            raise KeyError(f"no column {key!r} in seeds {missing}")
        return np.array([r[key] for r in self.rows], dtype=float)

    def summary_rows(self) -> List[Dict[str, Any]]:
        """The rows without curves, centres and wall times: summary.csv (the same on every
        backend and machine)."""
        return [{k: val for k, val in r.items() if not k.startswith((CURVE, CENTRE)) and not k.endswith("seconds")}
                for r in self.rows]

    def timings(self) -> List[Dict[str, Any]]:
        """The wall times of each seed's runs: timings.csv."""
        return [{"seed": r["seed"], **{k: val for k, val in r.items() if k.endswith("seconds")}} for r in self.rows]

    def curve(self, reward: str, what: str) -> np.ndarray:
        """(n_seeds, T) curve ``what`` ("steps", "queries", "tokens", "test_error",
        "off_support_mean_lik") of a reward at its test measurements."""
        n = sum(1 for k in self.rows[0] if k.startswith(f"{CURVE}{reward}:") and k.endswith(":test_error"))
        return np.array([[r[f"{CURVE}{reward}:{i}:{what}"] for i in range(n)] for r in self.rows], dtype=float)

    def curve_at(self, reward: str, at: float, x: str = "queries") -> np.ndarray:
        """Test error per seed at ``x`` = ``at``, linearly interpolated between measurements
        (NaN beyond the run's end)."""
        xs, err = self.curve(reward, x), self.curve(reward, "test_error")
        return np.array([np.interp(at, a, e, right=np.nan) for a, e in zip(xs, err)])

    def centres(self) -> List[Dict[str, Any]]:
        """One record per (seed, centre): centres.csv."""
        out: List[Dict[str, Any]] = []
        for r in self.rows:
            per: Dict[int, Dict[str, Any]] = {}
            for k, val in r.items():
                if k.startswith(CENTRE):
                    j, what = k[len(CENTRE):].split(":", 1)
                    per.setdefault(int(j), {"seed": r["seed"], "centre": int(j)})[what] = val
            out.extend(per[j] for j in sorted(per))
        return out

    def barrier(self) -> Dict[str, Dict[str, np.ndarray]]:
        """Per reward, over all (seed, centre): base log-lik, final log-lik, predicted and
        observed learned (:mod:`.barrier_map`, with the run's own query count), and the
        prediction of the q_TL form of the process reward's bound."""
        cs = self.centres()
        queries = {name: {r["seed"]: r[f"{name}_queries"] for r in self.rows} for name in self.rewards}
        m = int(self.config["num_mix"])
        n = int(self.config["seq_len"])
        base = np.array([c["base_log_lik"] for c in cs])
        cost = np.array([c["log_prm_cost"] for c in cs])
        tl = np.array([c["min_token_log_lik"] for c in cs])
        out = {}
        for name in self.rewards:
            q = np.array([queries[name][c["seed"]] for c in cs], dtype=float)
            pred = np.array([barrier_map.predict(name, [b], [c], qq, m)[0] for b, c, qq in zip(base, cost, q)])
            final = np.array([c[f"{name}_final_log_lik"] for c in cs])
            worst = np.log(n) - tl <= np.log(q / m)  # N / q_TL ≤ Q/M
            out[name] = {"seed": np.array([c["seed"] for c in cs]), "centre": np.array([c["centre"] for c in cs]),
                         "base_log_lik": base, "min_token_log_lik": tl, "log_prm_cost": cost, "final_log_lik": final,
                         "predicted": pred, "observed": barrier_map.observed(final),
                         "predicted_token_worst": worst, "queries": q,
                         "off_support": np.array([bool(c["off_support"]) for c in cs])}
        return out

    def typicality(self, n: int = 4096) -> Dict[str, np.ndarray]:
        """Per (seed, centre), in the order of :meth:`barrier`: the fraction of the contexts
        drawn around the centre whose y* equals the centre's, and the mean fraction of
        positions where they agree (:func:`.barrier_map.centre_typicality`; each seed's task
        rebuilt from its settings, without training)."""
        from .paper_figure1 import figure1_task
        same, positions = [], []
        for seed in self.seeds:
            t = barrier_map.centre_typicality(figure1_task(self.config, seed), n,
                                              rng=np.random.SeedSequence([seed, 7919]))
            same.append(t["same"])
            positions.append(t["positions"])
        return {"same": np.concatenate(same), "positions": np.concatenate(positions)}

    def to_pandas(self) -> Any:
        from .._optional import require
        return require("pandas").DataFrame(self.summary_rows())

    # -- files -------------------------------------------------------------------------
    def save(self, out: Any) -> Path:
        """Writes figure1_seeds.json (config and rows), summary.csv, centres.csv, curves.csv."""
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "figure1_seeds.json", "w") as f:
            json.dump(plain({"config": self.config, "rows": self.rows, "algorithms": self.algorithms}), f,
                      sort_keys=True)
        _write_csv(folder / "summary.csv", self.summary_rows())
        _write_csv(folder / "timings.csv", self.timings())
        _write_csv(folder / "centres.csv", self.centres())
        curves = []
        for name in self.rewards:
            cols = {w: self.curve(name, w) for w in (*AXES, "test_error", "off_support_mean_lik")}
            for s, seed in enumerate(self.seeds):
                for i in range(cols["steps"].shape[1]):
                    curves.append({"seed": seed, "reward": name, **{w: _num(c[s, i]) for w, c in cols.items()}})
        _write_csv(folder / "curves.csv", curves)
        if self.algorithms:
            _write_csv(folder / "algorithms.csv", self.algorithms)
        return folder

    @classmethod
    def load(cls, out: Any) -> "Figure1SeedsResult":
        with open(Path(out) / "figure1_seeds.json") as f:
            data = json.load(f)
        return cls(data["config"], data["rows"], data.get("algorithms", []))

    def report(self, x: str = "queries") -> str:
        """The statistical report (markdown): :func:`._figure1_report.report`."""
        from ._figure1_report import report
        return report(self, x)

    def plot(self, out: Optional[Any] = None, x: str = "steps") -> Any:
        """The aggregate figure (:func:`._figure1_report.plot_aggregate`)."""
        from ._figure1_report import plot_aggregate
        return plot_aggregate(self, out, x)

    def plot_barrier(self, out: Optional[Any] = None) -> Any:
        """The barrier map (:func:`._figure1_report.plot_barrier`)."""
        from ._figure1_report import plot_barrier
        return plot_barrier(self, out)


def _num(value: float) -> Any:
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)


def _write_csv(path: Path, rows: Sequence[Dict[str, Any]]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: repr(val) if isinstance(val, float) else val for k, val in r.items()})


def figure1_seeds(seeds: Any = "0-19", out: Optional[Any] = None, quick: bool = False, backend: str = "loky",
                  n_jobs: Optional[int] = None, cache_dir: Optional[Any] = None, threads_per_worker: int = 1,
                  progress: bool = False, plot: bool = True, algorithms: bool = False, client: Any = None,
                  x: str = "steps", **overrides: Any) -> Figure1SeedsResult:
    """Figure 1 over ``seeds``, one :func:`lpgx.sweep` cell per seed.

    Parameters
    ----------
    seeds : str, int or sequence of int
        ``"0-19"``, ``"0,2,5-7"``, a count N (seeds 0..N−1) or a list.
    out : folder, optional
        Per-seed artifacts in ``out/seed<S>`` (as :func:`figure1`), and summary.csv,
        centres.csv, curves.csv, report.md and the aggregate figures in ``out``.
    backend, n_jobs, client, threads_per_worker, progress
        As :func:`lpgx.sweep`. Results do not depend on them.
    cache_dir : folder, optional
        One JSON file per finished seed: an interrupted run resumes, computing only the
        missing seeds. Defaults to ``out/cache`` when ``out`` is given.
    algorithms : bool
        Also run the theory's algorithms from each seed's base model at matched query
        budgets (:func:`.paper_figure1_algorithms.figure1_algorithms`).
    x : {"steps", "queries", "tokens"}
        The axis of the saved aggregate figure (all three are written when ``out`` is given).
    **overrides
        Settings of :func:`figure1` (see :func:`figure1_settings`).
    """
    seed_list = parse_seeds(seeds)
    quick = v.flag(quick, "quick")
    cfg = dict(SETTINGS.resolve(quick, overrides), quick=quick, seeds=seed_list)
    if sorted(cfg["rewards"]) != ["outcome", "process"]:
        raise ValueError(f"rewards: the multi-seed report compares both rewards, got {cfg['rewards']}")
    out = check_out(out)
    cache_dir = check_out(cache_dir, "cache_dir")
    if cache_dir is None and out is not None:
        cache_dir = out / "cache"
    v.option(backend, "backend", BACKENDS)
    from ._axes import check_axis
    check_axis(x)
    v.flag(plot, "plot")
    v.flag(algorithms, "algorithms")
    t0 = time.perf_counter()
    setting = SETTINGS.resolve(quick, overrides)
    sw = sweep(cell_figure1, {"setting": [setting], "out": ["" if out is None else str(out)], "plot": [plot]},
               seeds=seed_list, backend=backend, n_jobs=n_jobs, cache_dir=cache_dir, progress=progress,
               threads_per_worker=threads_per_worker, client=client)
    rows = [{k: val for k, val in r.items() if k not in ("setting", "out", "plot")} for r in sw.rows]
    cfg.update(sweep_seconds=sw.seconds, computed=sw.computed, cached=sw.cached)
    algo_rows: List[Dict[str, Any]] = []
    if algorithms:
        from .paper_figure1_algorithms import figure1_algorithms
        algo_rows = figure1_algorithms(seed_list, setting, backend=backend, n_jobs=n_jobs,
                                       cache_dir=None if cache_dir is None else Path(cache_dir) / "algorithms",
                                       threads_per_worker=threads_per_worker, progress=progress, client=client)
    cfg["total_seconds"] = time.perf_counter() - t0
    res = Figure1SeedsResult(cfg, rows, algo_rows)
    if out is not None:
        res.save(out)
        with open(out / "report.md", "w") as f:
            f.write(res.report())
        if plot:
            from .. import plotting
            if plotting.available():
                for axis in AXES:
                    res.plot(out, axis)
                res.plot_barrier(out)
    return res
