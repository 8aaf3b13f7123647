"""The linear autoregressive softmax policy (docs/theory.md §1).

    p_w(y_i = c | x, y_<i) = softmax_c(<w, φ(x, y_<i, c)>),   p_w(y | x) = Π_i p_w(y_i | x, y_<i)

The logit of token c at position i is the sum of the enabled blocks' contributions
(``context``: (xᵀW1)[c]; ``prev_token``: W2[c, y_{i-1}]; ``position``: P[i, c];
``context_position``: Σ_j x_j C[j, i, c]; ``bias``: b[c]). Everything runs in ``_core``.
"""
from __future__ import annotations

from typing import Any, Dict, Literal, Optional, Sequence, Tuple, Union, overload

import numpy as np

from . import _core, _io, _rng
from . import _validate as v
from .sparse_gradient import SparseGradient

#: Block names in flat-layout order, with their bit in the core's block mask (the engine's table).
BLOCKS: Tuple[str, ...] = tuple(_core.kinds()["block"])
DEFAULT_BLOCKS: Tuple[str, ...] = ("context", "prev_token")


def block_mask(blocks: Sequence[str]) -> int:
    if isinstance(blocks, str):
        blocks = (blocks,)
    try:
        names = list(blocks)
    except TypeError:
        raise TypeError(f"blocks must be a sequence of block names, got {type(blocks).__name__}") from None
    if not names:
        raise ValueError("blocks must name at least one block")
    mask = 0
    for name in names:
        if name not in BLOCKS:
            raise ValueError(f"blocks: unknown block {name!r}; choose from {BLOCKS}")
        mask |= 1 << BLOCKS.index(name)
    return mask


class LinearARModel:
    """A linear autoregressive softmax policy over block features.

    Parameters
    ----------
    vocab_size : int
        k, the number of tokens.
    seq_len : int
        N, the response length.
    context_dim : int
        d, the context dimension.
    blocks : sequence of str
        Enabled feature blocks, any of ``BLOCKS``; default ``("context", "prev_token")``.
    w : array_like, optional
        Flat parameters (length ``num_params``, the flat layout of docs/theory.md §1); zeros (the uniform policy)
        when omitted.
    """

    def __init__(self, vocab_size: int, seq_len: int, context_dim: int,
                 blocks: Sequence[str] = DEFAULT_BLOCKS, w: Optional[Any] = None) -> None:
        self.vocab_size = v.positive_int(vocab_size, "vocab_size")
        self.seq_len = v.positive_int(seq_len, "seq_len")
        self.context_dim = v.positive_int(context_dim, "context_dim")
        self._mask = block_mask(blocks)
        self.blocks = tuple(b for b in BLOCKS if self._mask >> BLOCKS.index(b) & 1)
        k, N, d = self.vocab_size, self.seq_len, self.context_dim
        sizes = {"context": d * k, "prev_token": k * k, "position": N * k, "context_position": d * N * k, "bias": k}
        v.check_bytes(8.0 * sum(sizes[b] for b in self.blocks), "the model's parameters")
        self._h = _core.Model(k, N, d, self._mask)
        self.num_params = int(self._h.num_params)
        # the engine's flat layout: name -> (offset, shape)
        self._layout: Dict[str, Tuple[int, Tuple[int, ...]]] = {
            name: (int(off), tuple(int(n) for n in shape)) for name, off, shape in self._h.layout()}
        if w is not None:
            self.w = w

    # -- parameters -------------------------------------------------------------------
    @property
    def w(self) -> np.ndarray:
        """Flat float64 parameters: enabled blocks concatenated, each row-major (docs/theory.md
        §1), as a read-only snapshot. Assign ``model.w = ...`` to replace them all, or write
        through the live views of :meth:`block`. (The engine keeps the prev-token block
        transposed, so that a token's logits read contiguous memory.)"""
        w: np.ndarray = self._h.flat()
        w.flags.writeable = False
        return w

    @w.setter
    def w(self, value: Any) -> None:
        self._h.set_w(v.float_array(value, "w", (self.num_params,)))

    def block(self, name: str) -> np.ndarray:
        """A live, writable view of one block's weights: ``context`` W1 (d, k), ``prev_token``
        W2 (k, k) indexed [c, prev], ``position`` P (N, k), ``context_position`` C (d, N, k),
        ``bias`` b (k,)."""
        if not isinstance(name, str) or name not in self._layout:
            raise KeyError(f"block {name!r} is not enabled in this model (blocks: {self.blocks})")
        view: np.ndarray = self._h.block_view(name)
        return view

    @property
    def shape(self) -> Tuple[int, int, int]:
        """(vocab_size, seq_len, context_dim)."""
        return self.vocab_size, self.seq_len, self.context_dim

    # -- batched operations ----------------------------------------------------------
    def token_log_prob(self, x: Any, y: Any, n_threads: Optional[int] = None) -> np.ndarray:
        """log p_w(y_i | x, y_<i) for every sequence and position, shape (B, N), float64."""
        x = v.contexts(x, self.context_dim)
        y = v.tokens(y, (x.shape[0], self.seq_len), self.vocab_size)
        return self._h.token_log_prob(x, y, v.n_threads(n_threads))

    def log_prob(self, x: Any, y: Any, n_threads: Optional[int] = None) -> np.ndarray:
        """log p_w(y | x) = Σ_i log p_w(y_i | x, y_<i), shape (B,), float64 (log space: no
        underflow at any N)."""
        x = v.contexts(x, self.context_dim)
        y = v.tokens(y, (x.shape[0], self.seq_len), self.vocab_size)
        return self._h.log_prob(x, y, v.n_threads(n_threads))

    def sample(self, x: Any, rng: _rng.RNGLike = None, n_threads: Optional[int] = None,
               return_log_prob: bool = False) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """Draw y ~ p_w(· | x) for every context: (B, N) int32 tokens, and with
        ``return_log_prob`` also the (B, N) token log-probabilities.

        Sequence b uses its own counter-based stream keyed by ``rng`` and b, so the
        result is identical for every ``n_threads``."""
        x = v.contexts(x, self.context_dim)
        with_logp = v.flag(return_log_prob, "return_log_prob")
        v.check_bytes((12.0 if with_logp else 4.0) * x.shape[0] * self.seq_len, "the sampled tokens")
        y, logp = self._h.sample(x, _rng.key(rng), with_logp, v.n_threads(n_threads))
        return (y, logp) if with_logp else y

    def greedy(self, x: Any, n_threads: Optional[int] = None) -> np.ndarray:
        """Greedy decoding y_i = argmax_c logit_i(c) (ties to the smallest token), (B, N)."""
        x = v.contexts(x, self.context_dim)
        v.check_bytes(4.0 * x.shape[0] * self.seq_len, "the decoded tokens")
        return self._h.greedy(x, v.n_threads(n_threads))

    @overload
    def grad_log_prob(self, x: Any, y: Any, weights: Optional[Any] = ..., n_threads: Optional[int] = ...,
                      return_log_prob: Literal[False] = ..., sparse: Literal[False] = ...) -> np.ndarray: ...

    @overload
    def grad_log_prob(self, x: Any, y: Any, weights: Optional[Any] = ..., n_threads: Optional[int] = ..., *,
                      return_log_prob: Literal[True], sparse: Literal[False] = ...) -> Tuple[np.ndarray, np.ndarray]: ...

    @overload
    def grad_log_prob(self, x: Any, y: Any, weights: Optional[Any] = ..., n_threads: Optional[int] = ...,
                      return_log_prob: Literal[False] = ..., *, sparse: Literal[True]) -> SparseGradient: ...

    @overload
    def grad_log_prob(self, x: Any, y: Any, weights: Optional[Any] = ..., n_threads: Optional[int] = ..., *,
                      return_log_prob: Literal[True], sparse: Literal[True]) -> Tuple[SparseGradient, np.ndarray]: ...

    @overload
    def grad_log_prob(self, x: Any, y: Any, weights: Optional[Any] = ..., n_threads: Optional[int] = ...,
                      return_log_prob: bool = ..., sparse: bool = ...
                      ) -> Union[np.ndarray, SparseGradient, Tuple[Union[np.ndarray, SparseGradient], np.ndarray]]: ...

    def grad_log_prob(self, x: Any, y: Any, weights: Optional[Any] = None,
                      n_threads: Optional[int] = None, return_log_prob: bool = False, sparse: bool = False
                      ) -> Union[np.ndarray, SparseGradient, Tuple[Union[np.ndarray, SparseGradient], np.ndarray]]:
        """∇_w Σ_b Σ_i weights[b, i] · log p_w(y_bi | x_b, y_b,<i) as a flat vector.

        ``weights`` is None (all ones), shape (B,) (one per sequence) or (B, N). With
        ``return_log_prob`` the (B, N) token log-probs computed on the way come too. With
        ``sparse`` the result is a :class:`SparseGradient`: the prev-token block as its nonzero
        columns, one per previous token that occurs (O(B·N·k) at most instead of k²: at large
        k, allocating and zeroing the dense k² result costs more than computing it)."""
        x = v.contexts(x, self.context_dim)
        B, N = x.shape[0], self.seq_len
        y = v.tokens(y, (B, N), self.vocab_size)
        if weights is not None:
            wts = v.float_array(weights, "weights", (B,) if np.ndim(weights) == 1 else (B, N))
            weights = np.ascontiguousarray(np.broadcast_to(wts[:, None], (B, N))) if wts.ndim == 1 else wts
        with_logp = v.flag(return_log_prob, "return_log_prob")
        as_columns = v.flag(sparse, "sparse")
        grad, logp, prev, columns = self._h.grad_log_prob(x, y, weights, v.n_threads(n_threads), sparse=as_columns)
        g: Union[np.ndarray, SparseGradient] = SparseGradient(grad, prev, columns, dict(self._layout)) if as_columns else grad
        return (g, logp) if with_logp else g

    # -- persistence -------------------------------------------------------------------
    def config(self) -> Dict[str, Any]:
        return {"vocab_size": self.vocab_size, "seq_len": self.seq_len,
                "context_dim": self.context_dim, "blocks": list(self.blocks)}

    def copy(self) -> "LinearARModel":
        return LinearARModel(**self.config(), w=self.w)

    def __getstate__(self) -> Dict[str, Any]:
        return {"config": self.config(), "w": self.w.copy()}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(**state["config"], w=state["w"])  # type: ignore[misc]

    def save(self, path: Any) -> None:
        """Write the model to ``path`` (.npz with JSON metadata), atomically: a path (through
        symlinks; a device such as /dev/null is written directly) or an open binary file."""
        _io.save_npz(path, {"w": self.w}, dict(self.config(), kind="LinearARModel",
                                                  lpgx_version=_core.__version__))

    @classmethod
    def load(cls, path: _io.PathLike) -> "LinearARModel":
        """Read a model written by :meth:`save`; damaged or foreign files raise ValueError."""
        arrays, meta = _io.load_npz(path, "LinearARModel")
        try:
            return cls(meta["vocab_size"], meta["seq_len"], meta["context_dim"], meta["blocks"], w=arrays["w"])
        except KeyError as exc:
            raise ValueError(f"{path}: model file lacks {exc}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LinearARModel):
            return NotImplemented
        return self.config() == other.config() and np.array_equal(self.w, other.w)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (f"LinearARModel(vocab_size={self.vocab_size}, seq_len={self.seq_len}, "
                f"context_dim={self.context_dim}, blocks={self.blocks}, |w|={np.linalg.norm(self.w):.4g})")


def check_model(model: Any, name: str = "model") -> LinearARModel:
    if not isinstance(model, LinearARModel):
        raise TypeError(f"{name} must be an lpgx.LinearARModel, got {type(model).__name__}")
    return model
