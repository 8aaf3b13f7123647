"""The theory's algorithms on Figure 1's task (``docs/theory.md`` §6.4), from the same base
model as the on-policy runs and with their query budget.

Per seed, the base model of :func:`.paper_figure1.figure1_base` (the same task, pre-training
and test set as that seed's Figure 1) is post-trained by

- **Algorithm 1** (``algorithms.pg_outcome_multi``): an on-policy draw, then up to ``m``
  draws from ½q0 + ½Unif(Y^N), outcome reward;
- **Algorithm 2** (``algorithms.pg_process``): an on-policy draw, then token by token up to
  ``m`` draws from ½q0(·|prefix) + ½Unif(Y), process reward;
- **adaptive-step SGD** (``algorithms.sgd_adaptive``): the supervised reference, one
  labelled pair per step; it asks no reward, so its budget counts labelled samples,

each until it has spent the on-policy runs' budget, ``post_steps`` × ``post_batch`` reward
queries (samples for SGD). The run goes in chunks of steps (a fresh random stream each,
derived from the seed), each ending with the test error and the likelihood of every centre;
the value reported at a budget Q is that of the last evaluation with at most Q queries.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .. import algorithms as alg
from ..sweep import sweep
from .paper_figure1 import SETTINGS, figure1_base

ALGORITHMS = ("alg1", "alg2", "sgd")
LABELS = {"alg1": "Algorithm 1 (ORM, ½q0+½U)", "alg2": "Algorithm 2 (PRM, token-level)",
          "sgd": "adaptive-step SGD (labelled)"}
#: draws per exploration (Algorithm 1: whole responses; Algorithm 2: tokens per position; with
#: ½ uniform weight, 256 draws miss a position's token with probability (1 − 1/(2k))^256 ≈ 2% at k = 32)
M_DRAWS = {"alg1": 1024, "alg2": 256}
HALVINGS = 4  #: budgets reported: Q, Q/2, …, Q/2^HALVINGS


def budgets(total: int) -> List[int]:
    """The query budgets at which the runs are compared: total/2^j, j = HALVINGS..0."""
    return [total >> j for j in range(HALVINGS, -1, -1)]


def cell_algorithm(setting: Dict[str, Any], algorithm: str, seed: int) -> Dict[str, Any]:
    """One algorithm from one seed's base model (a cell of :func:`lpgx.sweep`): the test error,
    the mean likelihood of the off-support centres and the queries spent at each budget."""
    task, base, test, centres, _, _ = figure1_base(setting, seed)
    model = base.copy()
    base_ll = base.log_prob(*centres)
    off = base_ll < np.log(setting["off_support"])
    n_test = len(test[0])
    pairs = (np.concatenate([test[0], centres[0]]), np.concatenate([test[1], centres[1]]))
    total = int(setting["post_steps"]) * int(setting["post_batch"])
    marks = budgets(total)
    records = [(0, *_measure(base.log_prob(*pairs), n_test, off))]
    streams = np.random.SeedSequence([seed, 1 + ALGORITHMS.index(algorithm)])
    spent, steps = 0, 0
    while spent < total:
        chunk = max(64, steps // 16)  # about 11 evaluations per doubling of the steps
        if algorithm == "sgd":  # one sample per step: land on every budget exactly
            chunk = min(chunk, min(q for q in marks if q > spent) - spent)
            r = alg.sgd_adaptive(model, task, chunk, rng=streams.spawn(1)[0])
            cost = chunk
        elif algorithm == "alg1":
            r = alg.pg_outcome_multi(model, task, base, chunk, m=M_DRAWS["alg1"], rng=streams.spawn(1)[0])
            cost = r.total_queries
        else:
            r = alg.pg_process(model, task, base, chunk, m=M_DRAWS["alg2"], rng=streams.spawn(1)[0])
            cost = r.total_queries
        spent += cost
        steps += chunk
        records.append((spent, *_measure(model.log_prob(*pairs), n_test, off)))
    out: Dict[str, Any] = {"steps": steps, "spent": spent}
    costs = np.array([rec[0] for rec in records])
    for q in marks:
        i = int(np.flatnonzero(costs <= q)[-1])
        out[f"test_error@{q}"] = records[i][1]
        out[f"off_support_mean_lik@{q}"] = records[i][2]
        out[f"queries@{q}"] = int(costs[i])
    return out


def _measure(log_lik: np.ndarray, n_test: int, off: np.ndarray) -> "tuple[float, float]":
    """Test error of the first ``n_test`` contexts, mean likelihood of the off-support centres after them."""
    lik = np.exp(log_lik)
    centres = lik[n_test:]
    return float(1.0 - lik[:n_test].mean()), float(centres[off].mean()) if off.any() else float("nan")


def figure1_algorithms(seeds: Sequence[int], setting: Optional[Dict[str, Any]] = None,
                       algorithms: Sequence[str] = ALGORITHMS, backend: str = "loky", n_jobs: Optional[int] = None,
                       cache_dir: Optional[Any] = None, threads_per_worker: int = 1, progress: bool = False,
                       client: Any = None) -> List[Dict[str, Any]]:
    """Algorithm 1, Algorithm 2 and adaptive-step SGD from each seed's Figure-1 base model, one
    :func:`lpgx.sweep` cell per (algorithm, seed).

    Parameters
    ----------
    seeds : sequence of int
    setting : dict, optional
        Figure 1's settings (:func:`figure1_settings`; default: the paper's).
    algorithms : sequence of {"alg1", "alg2", "sgd"}

    Returns
    -------
    list of dict
        One row per (algorithm, seed): ``test_error@Q``, ``off_support_mean_lik@Q`` and
        ``queries@Q`` (the queries actually spent by then) for each budget Q of
        :func:`budgets`, and the run's ``steps`` and ``spent``.
    """
    setting = SETTINGS.resolve(False, {}) if setting is None else SETTINGS.resolve(False, dict(setting))
    for a in algorithms:
        if a not in ALGORITHMS:
            raise ValueError(f"algorithms: unknown {a!r}; choose from {ALGORITHMS}")
    sw = sweep(cell_algorithm, {"setting": [setting], "algorithm": list(algorithms)}, seeds=list(seeds),
               backend=backend, n_jobs=n_jobs, cache_dir=cache_dir, progress=progress,
               threads_per_worker=threads_per_worker, client=client)
    return [{k: val for k, val in r.items() if k != "setting"} for r in sw.rows]
