"""The γ margin of docs/theory.md §3.

    margin(x) = min_i min_{c≠y*_i} (<w*, φ(x, y*_<i, y*_i)> − <w*, φ(x, y*_<i, c)>) / (‖w*‖ · R)

with R = max ‖φ‖ over the data (every position of every sample, every token).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from . import _validate as v
from .model import LinearARModel, check_model


@dataclass(frozen=True)
class Margins:
    """Per-sample normalised margins with the normalisers that produced them."""

    margin: np.ndarray  #: (B,) normalised margins; negative where y is not w's greedy decoding
    gap: np.ndarray     #: (B,) unnormalised min logit gap along y
    R: float            #: max ‖φ‖ over the data
    w_norm: float       #: ‖w‖

    @property
    def gamma(self) -> float:
        """The data's margin: the smallest per-sample margin."""
        return float(self.margin.min())


def margins(model: LinearARModel, x: Any, y: Any, n_threads: Optional[int] = None) -> Margins:
    """Per-sample γ margins of ``model``'s weights on the samples (x, y)."""
    model = check_model(model)
    x = v.contexts(x, model.context_dim)
    y = v.tokens(y, (x.shape[0], model.seq_len), model.vocab_size)
    gap, phi2 = model._h.margin_gaps(x, y, v.n_threads(n_threads))
    R = float(np.sqrt(phi2.max()))
    big = float(np.abs(model.w).max())
    w_norm = big * float(np.linalg.norm(model.w / big)) if big > 0 else 0.0  # no overflow at |w| ~ 1e300
    margin = gap / w_norm / R if w_norm > 0 and R > 0 else np.zeros_like(gap)
    return Margins(margin=margin, gap=gap, R=R, w_norm=w_norm)
