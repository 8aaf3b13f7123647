"""Optimizers for the training loops, applied in C++ to the ascent direction
G = ∇_w Σ_{b,i} A_bi log p_w(y_bi | x_b, y_b,<i) of each step.

- :class:`Adagrad` (docs/theory.md §6.1, PyTorch semantics) and :class:`SGD` minimise the loss
  −(1/BN) Σ A log p: ``acc += g²; w −= lr·g/(√acc + eps)`` with ``g = −G/(BN)``.
- :class:`AdaptiveStep` is the paper's step (docs/theory.md §6.4): ``w += G/(a + b‖G‖²)``.

An optimizer object keeps its state (Adagrad's accumulator) across calls, like a PyTorch
optimizer; make a new one (or call :meth:`reset`) to start afresh.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Union

import numpy as np

from . import _core
from . import _validate as v


class _Optimizer:
    kind: Any
    state: Optional[np.ndarray]

    def _core_config(self) -> Any:
        raise NotImplementedError

    def _state_for(self, num_params: int) -> np.ndarray:
        """The state array the core updates in place (created at the first use)."""
        if self.state is None:
            self.state = np.zeros(num_params)
            return self.state
        st = self.state
        if not isinstance(st, np.ndarray) or st.dtype != np.float64 or st.ndim != 1 or not st.flags.c_contiguous:
            raise TypeError("optimizer state must be a contiguous 1-D float64 array (or None)")
        if st.shape != (num_params,):
            raise ValueError(f"optimizer state has {st.size} entries but the model has {num_params} "
                             f"parameters; use a new optimizer")
        if not np.isfinite(st).all() or np.any(st < 0):
            raise ValueError("optimizer state must be finite and >= 0")
        return st

    def reset(self) -> None:
        """Forget the accumulated state."""
        self.state = None


@dataclass
class Adagrad(_Optimizer):
    """Adagrad with PyTorch's semantics: acc₀ = 0; acc += g²; w −= lr·g/(√acc + eps)."""

    lr: float = 0.1
    eps: float = 1e-10
    state: Optional[np.ndarray] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.lr = v.finite_float(self.lr, "lr", 0.0)
        self.eps = v.finite_float(self.eps, "eps", 0.0)

    def _core_config(self) -> Any:
        o = _core.Optimizer()
        o.kind, o.lr, o.eps = _core.OptimizerKind.adagrad, self.lr, self.eps
        return o


@dataclass
class SGD(_Optimizer):
    """Constant-step gradient descent on the mean loss: w −= lr·∇loss."""

    lr: float = 0.1
    state: Optional[np.ndarray] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.lr = v.finite_float(self.lr, "lr", 0.0)

    def _core_config(self) -> Any:
        o = _core.Optimizer()
        o.kind, o.lr = _core.OptimizerKind.sgd, self.lr
        return o


@dataclass
class AdaptiveStep(_Optimizer):
    """The paper's adaptive learning rate: w ← w + G/(a + b‖G‖²) with G the summed
    (not averaged) ascent direction; defaults a = 4, b = 2."""

    a: float = 4.0
    b: float = 2.0
    state: Optional[np.ndarray] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.a = v.finite_float(self.a, "a", 0.0)
        self.b = v.finite_float(self.b, "b", 0.0)
        if self.a == 0 and self.b == 0:
            raise ValueError("AdaptiveStep needs a > 0 or b > 0")

    def _core_config(self) -> Any:
        o = _core.Optimizer()
        o.kind, o.a, o.b = _core.OptimizerKind.adaptive, self.a, self.b
        return o


OptimizerLike = Union[_Optimizer, str, None]


def make_optimizer(opt: OptimizerLike, default_lr: float = 0.1) -> _Optimizer:
    """An optimizer object from an object, a short name (``"adagrad"``, ``"sgd"``,
    ``"adaptive"``) or None (Adagrad)."""
    if opt is None:
        return Adagrad(lr=default_lr)
    if isinstance(opt, _Optimizer):
        return opt
    if isinstance(opt, str):
        names: Dict[str, Callable[[], _Optimizer]] = {
            "adagrad": lambda: Adagrad(lr=default_lr), "sgd": lambda: SGD(lr=default_lr),
            "adaptive": lambda: AdaptiveStep()}
        if opt not in names:
            raise ValueError(f"optimizer must be one of {sorted(names)} or an optimizer object, got {opt!r}")
        return names[opt]()
    raise TypeError(f"optimizer must be an lpgx optimizer or a name, got {type(opt).__name__}")
