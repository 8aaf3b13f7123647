"""The training axes a run can be drawn against: steps, reward queries or sampled tokens.

The paper's bounds count reward queries (``docs/theory.md`` §4), and compute goes with the
tokens sampled, so a comparison at equal steps can differ from one at equal cost. All three
are read from a run's own records: the queries from its cumulative query record, the tokens
from its batch size, group size and response length (every on-policy response is a whole
sequence of N sampled tokens).
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np

from ..training import TrainResult

AXES = ("steps", "queries", "tokens")
LABELS: Dict[str, str] = {"steps": "post-training step", "queries": "reward queries",
                          "tokens": "sampled tokens"}


def check_axis(x: Any, name: str = "x") -> str:
    """``x`` if it names an axis, else a ValueError naming the argument."""
    if not isinstance(x, str) or x not in AXES:
        raise ValueError(f"{name} must be one of {AXES}, got {x!r}")
    return x


def axis_label(x: str) -> str:
    return LABELS[check_axis(x)]


def sequences_per_step(run: TrainResult) -> int:
    """Responses sampled per step: batch size × group size (from the run's config)."""
    cfg = run.config
    group = int(cfg.get("estimator", {}).get("group_size", 1))
    return int(cfg["batch_size"]) * group


def run_axis(run: TrainResult, steps: Any, x: str = "steps") -> np.ndarray:
    """The ``x`` axis of ``run`` after each of ``steps`` (updates done).

    Parameters
    ----------
    run : TrainResult
        A post-training run (its ``queries`` record and config).
    steps : array of int
        Steps at which records were taken (0 = before the first update).
    x : {"steps", "queries", "tokens"}
        ``"queries"``: the run's cumulative reward-query record after each step (0 at step 0);
        ``"tokens"``: steps × responses per step × N.

    Returns
    -------
    numpy.ndarray of int64, the same shape as ``steps``.
    """
    x = check_axis(x)
    s = np.asarray(steps, dtype=np.int64)
    if s.size and (s.min() < 0 or s.max() > len(run.queries)):
        raise ValueError(f"steps must lie in [0, {len(run.queries)}] (the run's steps), got {s.min()}..{s.max()}")
    if x == "steps":
        same: np.ndarray = s.copy()
        return same
    if x == "queries":
        cumulative = np.concatenate([[0], np.asarray(run.queries, dtype=np.int64)])
        out: np.ndarray = cumulative[s]
        return out
    seq_len = int(run.config["model"]["seq_len"])
    tokens: np.ndarray = s * sequences_per_step(run) * seq_len
    return tokens
