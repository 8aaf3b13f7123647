"""A gradient whose prev-token block is kept as its nonzero columns (docs/theory.md §1, §6.2).

The prev-token block W2 has k² parameters, but a batch's tokens follow at most B·N distinct
previous tokens p, and ∂/∂W2[:, p] is zero for every other p. At large k the dense gradient
is mostly zeros: 2 GiB at k = 16384, where the nonzero columns of a call of 1024 tokens take
at most 128 MiB. ``LinearARModel.grad_log_prob(..., sparse=True)`` returns this form.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Protocol, Tuple, Union

import numpy as np

from . import _validate as v


class _Blocks(Protocol):
    """A model with live block views (LinearARModel; not imported here: it imports this module)."""

    _layout: Dict[str, Tuple[int, Tuple[int, ...]]]

    def block(self, name: str) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)  # arrays: no elementwise __eq__ pretending to be a bool
class SparseGradient:
    """∇w with the ``prev_token`` block as columns.

    Attributes
    ----------
    rest : ndarray, shape (num_params,)
        The gradient in the flat layout, with the ``prev_token`` block zero (never written: at
        large k its pages are not even touched until read).
    prev_tokens : ndarray, shape (V,), int32
        The previous tokens p that precede a token of nonzero weight, ascending.
    prev_columns : ndarray, shape (V, k)
        Row j is the column ∂/∂W2[:, prev_tokens[j]]; every other column of W2's gradient is zero.
    layout : dict
        The model's flat layout, block name -> (offset, shape).
    """

    rest: np.ndarray
    prev_tokens: np.ndarray
    prev_columns: np.ndarray
    layout: Dict[str, Tuple[int, Tuple[int, ...]]]

    def _prev_block(self, flat: np.ndarray) -> np.ndarray:
        off, shape = self.layout["prev_token"]
        block: np.ndarray = flat[off:off + shape[0] * shape[1]].reshape(shape)
        return block

    def to_dense(self) -> np.ndarray:
        """The whole gradient as a new flat vector (num_params values: O(k²) at large k)."""
        g: np.ndarray = self.rest.copy()
        if "prev_token" in self.layout:
            self._prev_block(g)[:, self.prev_tokens] = self.prev_columns.T
        return g

    def squared_norm(self) -> float:
        """‖∇w‖², reading the nonzero columns only."""
        total = 0.0
        for name, (off, shape) in self.layout.items():
            if name != "prev_token":
                part = self.rest[off:off + int(np.prod(shape))]
                total += float(part @ part)
        return total + float(np.einsum("ij,ij->", self.prev_columns, self.prev_columns))

    def add_to(self, target: Union[np.ndarray, _Blocks], scale: float = 1.0) -> None:
        """``target += scale · ∇w`` in place, touching W2 only in the nonzero columns: a flat
        float64 vector of num_params values, or a LinearARModel (through its live blocks)."""
        scale = v.finite_float(scale, "scale")
        if isinstance(target, np.ndarray):
            if target.dtype != np.float64 or target.shape != self.rest.shape or not target.flags.writeable:
                raise ValueError(f"target: expected a writable float64 array of shape {self.rest.shape} "
                                 "or a LinearARModel")
            blocks = {name: target[off:off + int(np.prod(shape))].reshape(shape)
                      for name, (off, shape) in self.layout.items()}
        elif getattr(target, "_layout", None) == self.layout:
            blocks = {name: target.block(name) for name in self.layout}
        else:
            raise ValueError("target: expected a flat float64 array or a LinearARModel with the sizes and "
                             "blocks of the gradient's model")
        for name, view in blocks.items():
            if name == "prev_token":
                view[:, self.prev_tokens] += scale * self.prev_columns.T
            else:
                off, shape = self.layout[name]
                view += scale * self.rest[off:off + view.size].reshape(shape)
