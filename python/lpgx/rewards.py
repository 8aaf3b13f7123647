"""Reward oracles (docs/theory.md §4) that count their queries.

- :class:`OutcomeReward` (ORM): r(x, y) = values[0] if y = y*(x) else values[1].
- :class:`ProcessReward` (PRM): r_i(x, y_1..i) = values[0] if y_1..i = y*_1..i else
  values[1], for every i; evaluating a sequence reveals its first wrong position.
- :class:`CallableReward`: a user's batched numpy verifier ``fn(x, y) -> r`` with r of
  shape (B,) (outcome) or (B, N) (process).

One query is one evaluation of one candidate. Built-in rewards are judged by the engine's
reward oracle (inside the C++ loops, and here for inspection: the same verdicts and noise);
callables are called once per batch. ``queries`` accumulates over every use.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Tuple, Union

import numpy as np

from . import _core, _rng
from . import _validate as v

KINDS = tuple(k for k in _core.kinds()["reward"] if k != "none")


class _Reward:
    kind: str = "outcome"
    values: Tuple[float, float] = (1.0, -1.0)
    flip_prob: float = 0.0
    external = False

    def __init__(self, values: Tuple[float, float] = (1.0, -1.0), flip_prob: float = 0.0) -> None:
        try:
            pos, neg = values
        except (TypeError, ValueError):
            raise TypeError(f"values must be a pair (correct, wrong), got {values!r}") from None
        self.values = (v.finite_float(pos, "values[0]"), v.finite_float(neg, "values[1]"))
        self.flip_prob = v.finite_float(flip_prob, "flip_prob", 0.0, 1.0)
        self.queries = 0

    def _core_spec(self) -> Any:
        s = _core.RewardSpec()
        s.kind = getattr(_core.RewardKind, self.kind)
        s.pos, s.neg = self.values
        s.flip_prob = self.flip_prob
        s.external = self.external
        return s

    def _callable(self) -> Optional[Callable[..., Any]]:
        return None

    def __call__(self, y: Any, y_star: Any, rng: _rng.RNGLike = None, n_threads: Optional[int] = None
                 ) -> np.ndarray:
        """Rewards of responses y (B, N) against y* (B, N): shape (B,) for outcome rewards,
        (B, N) for process rewards; one query per response. The engine's oracle judges them,
        with the noise the training loops use (response b: stream b of ``rng``'s key)."""
        ys = _tokens_like(y_star, "y_star")
        yy = v.tokens(y, ys.shape, _INT32_MAX, "y")
        k = int(max(yy.max(), ys.max())) + 1
        r: np.ndarray = _core.judge(self._core_spec(), yy, ys, k, _rng.key(rng), v.n_threads(n_threads))
        self.queries += ys.shape[0]
        return r

    def __repr__(self) -> str:
        return f"{type(self).__name__}(values={self.values}, flip_prob={self.flip_prob}, queries={self.queries})"


class OutcomeReward(_Reward):
    """r(x, y) = values[0] if y = y*(x) else values[1] (default ±1, as in the authors' runs)."""

    kind = "outcome"


class ProcessReward(_Reward):
    """r_i = values[0] if the prefix y_1..i is correct else values[1], for every i."""

    kind = "process"

    @staticmethod
    def first_error(y: Any, y_star: Any) -> np.ndarray:
        """Position of the first wrong token of each response (N when fully correct)."""
        y, y_star = np.asarray(y), np.asarray(y_star)
        if y.shape != y_star.shape or y.ndim != 2:
            raise ValueError(f"y and y_star must have the same (B, N) shape, got {y.shape} and {y_star.shape}")
        wrong = y != y_star
        first: np.ndarray = np.where(wrong.any(1), wrong.argmax(1), y.shape[1])
        return first


class CallableReward(_Reward):
    """A user's batched verifier ``fn(x, y) -> r``: x (B, d) float64, y (B, N) int32;
    r shape (B,) for ``kind="outcome"`` or (B, N) for ``kind="process"``. One query per
    sequence. If ``fn`` raises or returns a wrong shape, the loop stops with that error and
    the model keeps its last completed step."""

    external = True

    def __init__(self, fn: Callable[[np.ndarray, np.ndarray], Any], kind: str = "outcome") -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        v.option(kind, "kind", KINDS)
        super().__init__()
        self.fn = fn
        self.kind = kind

    def _callable(self) -> Optional[Callable[..., Any]]:
        return self.fn

    def __call__(self, y: Any, y_star: Any = None, rng: _rng.RNGLike = None, x: Any = None) -> np.ndarray:
        raise TypeError("call the user function directly; CallableReward plugs it into the loops")

    def __repr__(self) -> str:
        return f"CallableReward({self.fn!r}, kind={self.kind!r}, queries={self.queries})"


_INT32_MAX = 2**31 - 1


def _tokens_like(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (B, N), got {arr.shape}")
    return v.tokens(arr, arr.shape, _INT32_MAX, name)


RewardLike = Union[_Reward, str]


def make_reward(reward: RewardLike) -> _Reward:
    if isinstance(reward, _Reward):
        return reward
    if callable(reward):
        raise TypeError("reward: wrap a reward function in lpgx.CallableReward(fn, kind=...)")
    if not isinstance(reward, str):
        raise TypeError(f"reward must be 'outcome', 'process' or a reward object, got {type(reward).__name__}")
    if reward == "outcome":
        return OutcomeReward()
    if reward == "process":
        return ProcessReward()
    raise ValueError(f"reward must be 'outcome', 'process' or a reward object, got {reward!r}")
