"""What the open-question experiments share (``docs/open_questions.md``): the Figure-1 base
model and one post-training run from it, paired seed differences with bootstrap CIs, and a
result of plain rows that saves, loads and tabulates itself."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from ..model import LinearARModel
from ..optim import Adagrad
from ..training import post_train
from . import paper_figure1
from ._artifacts import load_artifact, save_artifact
from ._settings import Setting, count
from ._stats import bootstrap_means
from .practice_estimators import figure1_base
from .rates import Fit

# The Figure-1 settings every open-question experiment starts from (figure1's entries), with
# shorter post-training by default: the comparisons need many runs.
FIGURE1_KEYS = ("context_dim", "vocab_size", "seq_len", "num_mix", "sigma", "pre_steps", "pre_batch", "pre_lr",
                "post_lr", "test_size", "off_support")


def figure1_table(quick_seq_len: int = 32) -> Dict[str, Setting]:
    """figure1's settings of the base model, N = 64 (quick: ``quick_seq_len``), and the
    post-training length shared by the open-question runs."""
    table = {k: paper_figure1.SETTINGS.table[k] for k in FIGURE1_KEYS}
    table["seq_len"] = Setting(64, count(), "N, the response length (figure1 uses 128)", quick=quick_seq_len)
    table["pre_steps"] = Setting(1000, count(0), "pre-training steps", quick=300)
    table["post_steps"] = Setting(1000, count(), "post-training steps of every run", quick=150)
    table["post_batch"] = Setting(256, count(), "post-training batch size (queries per step)", quick=128)
    table["test_size"] = Setting(1024, count(), "test contexts", quick=256)
    table["seeds"] = Setting(5, count(), "seeds (base models) of the Figure-1 runs", quick=2)
    return table


def figure1_setting(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The entries of ``cfg`` a Figure-1 cell depends on (its cache key holds only these)."""
    return {k: cfg[k] for k in (*FIGURE1_KEYS, "post_steps", "post_batch")}


def figure1_run(setting: Dict[str, Any], seed: int, reward: Callable[[Any, LinearARModel], Any],
                measure: Optional[Callable[[Any, LinearARModel, LinearARModel, Any], Dict[str, Any]]] = None
                ) -> Dict[str, Any]:
    """Post-train the Figure-1 base model of ``seed`` with ``reward(task, base)`` and report the
    final test error, the mean likelihood of the off-support centres (base likelihood below
    ``off_support``) and the queries; ``measure(task, base, model, test)`` adds entries."""
    t0 = time.perf_counter()
    task, base, test, centres, post_seed = figure1_base(setting, seed)
    base_ll = base.log_prob(*centres, n_threads=1)
    off = base_ll < math.log(setting["off_support"])
    model = base.copy()
    r = post_train(model, task, reward=reward(task, base), steps=setting["post_steps"],
                   batch_size=setting["post_batch"], optimizer=Adagrad(lr=setting["post_lr"]), rng=post_seed,
                   test=test, test_every=setting["post_steps"], n_threads=1)
    final_ll = model.log_prob(*centres, n_threads=1)
    out = {"test_error": float(r.test_error[-1]), "base_test_error": float(r.test_error[0]),
           "off_support_lik": float(np.exp(final_ll[off]).mean()) if off.any() else float("nan"),
           "n_off_support": int(off.sum()), "queries": int(r.queries[-1])}
    if measure is not None:
        out.update(measure(task, base, model, test))
    out["seconds"] = time.perf_counter() - t0
    return out


def mean_ci(values: Any, n_boot: int = 2000, seed: int = 0) -> Fit:
    """The mean over seeds of the finite ``values`` with a bootstrap 95% CI (:mod:`._stats`; a
    :class:`Fit` whose slope is the mean, so the rates' tables and plots take it)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return Fit(math.nan, math.nan, math.nan, math.nan)
    boots = bootstrap_means(x, n_boot=n_boot, seed=seed)
    low, high = np.percentile(boots, [2.5, 97.5])
    return Fit(float(x.mean()), float(low), float(high), 0.0)


def finite_stats(values: Any) -> "tuple[float, float, float]":
    """(mean, min, max) of the finite entries; NaNs, without a warning, when there are none."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    return (float(x.mean()), float(x.min()), float(x.max())) if len(x) else (math.nan, math.nan, math.nan)


def decode(row: Dict[str, Any]) -> Dict[str, Any]:
    """A sweep row without the (bulky) setting it ran with."""
    return {k: val for k, val in row.items() if k != "setting"}


@dataclass(frozen=True)
class RowsResult:
    """Rows of one experiment (one per run), the fits made from them, and notes."""

    config: Dict[str, Any]
    rows: List[Dict[str, Any]]
    fits: Dict[str, Fit] = field(default_factory=dict)
    notes: Dict[str, str] = field(default_factory=dict)
    name = "open"  # the artifact's name (each experiment's subclass sets it)

    def select(self, **where: Any) -> List[Dict[str, Any]]:
        """The rows matching ``where`` (e.g. ``reward="outcome", noise=0.1``)."""
        return [r for r in self.rows if all(r.get(k) == val for k, val in where.items())]

    def values(self, key: str, **where: Any) -> np.ndarray:
        """``key`` of the matching rows, ordered by seed."""
        return np.array([r[key] for r in sorted(self.select(**where), key=lambda r: r["seed"])], dtype=float)

    def summary(self) -> Dict[str, str]:
        out = {k: str(f) for k, f in self.fits.items()}
        out.update(self.notes)
        return out

    def to_pandas(self) -> Any:
        """The rows as a DataFrame."""
        from .._optional import require
        return require("pandas").DataFrame(self.rows)

    def save(self, out: Any) -> Path:
        arrays = {"rows_json": np.frombuffer(json.dumps(self.rows).encode(), dtype=np.uint8)}
        cfg = dict(self.config, fits={k: vars(f) for k, f in self.fits.items()}, notes=self.notes)
        return save_artifact(out, self.name, arrays, cfg)

    def _errorbars(self, ax: Any, x: Any, keys: List[str], **style: Any) -> None:
        """The fits ``keys`` against ``x``: their means with 95% intervals as error bars."""
        fits = [self.fits[k] for k in keys]
        mean = np.array([f.slope for f in fits])
        err = np.array([[f.slope - f.low for f in fits], [f.high - f.slope for f in fits]])
        ax.errorbar(x, mean, yerr=err, fmt="o-", capsize=3, **style)

    def _title(self, what: str) -> str:
        c = self.config
        return f"{what}: Figure-1 setting N={c['seq_len']}, {c['post_steps']} steps × {c['post_batch']}, {c['seeds']} seeds"

    @classmethod
    def load(cls, out: Any) -> Any:
        a, cfg = load_artifact(out, cls.name)
        fits = {k: Fit(**f) for k, f in cfg.pop("fits").items()}
        notes = cfg.pop("notes")
        return cls(cfg, json.loads(a["rows_json"].tobytes().decode()), fits, notes)


def fmt_fit(f: Fit, digits: int = 3) -> str:
    """``mean [low, high]`` with ``digits`` significant digits."""
    return f"{f.slope:.{digits}g} [{f.low:.{digits}g}, {f.high:.{digits}g}]"


__all__ = ["FIGURE1_KEYS", "RowsResult", "decode", "figure1_run", "finite_stats", "figure1_setting", "figure1_table", "fmt_fit",
           "mean_ci"]
