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

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core, _rng
from . import _validate as v

KINDS = tuple(k for k in _core.kinds()["reward"] if k != "none")


class CorrectSet:
    """Which responses count as correct (docs/theory.md §4): those that agree with the answer y*
    on the checked ``positions`` (all by default; negative indices count from the end, e.g.
    ``positions=[-1]``: only the final answer) with at most ``tolerance`` mismatches there
    (``tolerance=h``: the Hamming ball of radius h on those positions)."""

    def __init__(self, positions: Optional[Sequence[int]] = None, tolerance: int = 0) -> None:
        if positions is not None:
            if isinstance(positions, (str, bytes)) or not hasattr(positions, "__iter__"):
                raise TypeError("positions must be a sequence of ints (or None: every position)")
            positions = tuple(v.positive_int(p, "positions", minimum=-v.INT32_MAX) for p in positions)
            if not positions:
                raise ValueError("positions must name at least one position (or be None: every position)")
        self.positions: Optional[Tuple[int, ...]] = positions
        self.tolerance = v.positive_int(tolerance, "tolerance", minimum=0, maximum=v.INT32_MAX)

    @property
    def is_exact(self) -> bool:
        """Whether the set is the single answer y*."""
        return self.positions is None and self.tolerance == 0

    def checked(self, seq_len: int) -> List[int]:
        """The checked positions for responses of length seq_len (empty: all)."""
        if self.positions is None:
            return []
        out = sorted({p + seq_len if p < 0 else p for p in self.positions})
        if out[0] < 0 or out[-1] >= seq_len:
            raise ValueError(f"positions {self.positions} out of range for seq_len {seq_len}")
        return out

    def config(self) -> Dict[str, Any]:
        return {"positions": None if self.positions is None else list(self.positions), "tolerance": self.tolerance}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CorrectSet) and self.config() == other.config()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CorrectSet(positions={self.positions}, tolerance={self.tolerance})"


class _Reward:
    kind: str = "outcome"
    values: Tuple[float, float] = (1.0, -1.0)
    external = False

    def __init__(self, values: Tuple[float, float] = (1.0, -1.0), flip_prob: float = 0.0, *,
                 false_positive: Optional[float] = None, false_negative: Optional[float] = None,
                 correct: Optional[CorrectSet] = None) -> None:
        try:
            pos, neg = values
        except (TypeError, ValueError):
            raise TypeError(f"values must be a pair (correct, wrong), got {values!r}") from None
        self.values = (v.finite_float(pos, "values[0]"), v.finite_float(neg, "values[1]"))
        flip = v.finite_float(flip_prob, "flip_prob", 0.0, 1.0)
        self.false_positive = flip if false_positive is None else v.finite_float(false_positive, "false_positive",
                                                                                  0.0, 1.0)
        self.false_negative = flip if false_negative is None else v.finite_float(false_negative, "false_negative",
                                                                                  0.0, 1.0)
        if correct is not None and not isinstance(correct, CorrectSet):
            raise TypeError(f"correct must be an lpgx.CorrectSet, got {type(correct).__name__}")
        self.correct = CorrectSet() if correct is None else correct
        self.jitter, self.window = 0, 0
        self.queries = 0

    @property
    def flip_prob(self) -> float:
        """The symmetric flip probability (when both noise rates are equal)."""
        if self.false_positive != self.false_negative:
            raise ValueError("this reward's noise is one-sided: see false_positive and false_negative")
        return self.false_positive

    def _core_spec(self, seq_len: Optional[int] = None) -> Any:
        s = _core.RewardSpec()
        s.kind = getattr(_core.RewardKind, self.kind)
        s.pos, s.neg = self.values
        s.false_pos, s.false_neg = self.false_positive, self.false_negative
        s.jitter, s.window = self.jitter, self.window
        if seq_len is not None:
            s.positions = self.correct.checked(seq_len)
        elif not self.correct.is_exact and self.correct.positions is not None:
            raise ValueError("the reward's correct set needs the sequence length")
        s.tolerance = self.correct.tolerance
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
        r: np.ndarray = _core.judge(self._core_spec(ys.shape[1]), yy, ys, k, _rng.key(rng), v.n_threads(n_threads))
        self.queries += ys.shape[0]
        return r

    def config(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"kind": self.kind, "values": list(self.values), "false_positive": self.false_positive,
                               "false_negative": self.false_negative, "jitter": self.jitter, "window": self.window}
        return dict(out, **self.correct.config())

    def __repr__(self) -> str:
        noise = (f"flip_prob={self.false_positive}" if self.false_positive == self.false_negative else
                 f"false_positive={self.false_positive}, false_negative={self.false_negative}")
        extra = "".join(f", {k}={getattr(self, k)}" for k in ("jitter", "window") if getattr(self, k))
        if not self.correct.is_exact:
            extra += f", correct={self.correct!r}"
        return f"{type(self).__name__}(values={self.values}, {noise}{extra}, queries={self.queries})"


class OutcomeReward(_Reward):
    """r(x, y) = values[0] if y is correct (y = y*(x), or in the ``correct`` set) else values[1]
    (default ±1, as in the authors' runs). ``flip_prob`` flips each verdict; ``false_positive``
    and ``false_negative`` set the two kinds of error apart."""

    kind = "outcome"


class ProcessReward(_Reward):
    """r_i = values[0] if the prefix y_1..i is correct (it can still be completed into the correct
    set) else values[1], for every i. Noise as :class:`OutcomeReward`'s, per prefix verdict;
    ``jitter=j`` reports the first error up to j positions early or late; ``window=w`` is a
    short-sighted PRM that judges each prefix by its last w positions only."""

    kind = "process"

    def __init__(self, values: Tuple[float, float] = (1.0, -1.0), flip_prob: float = 0.0, *,
                 false_positive: Optional[float] = None, false_negative: Optional[float] = None,
                 correct: Optional[CorrectSet] = None, jitter: int = 0, window: int = 0) -> None:
        super().__init__(values, flip_prob, false_positive=false_positive, false_negative=false_negative,
                         correct=correct)
        self.jitter = v.positive_int(jitter, "jitter", minimum=0, maximum=v.INT32_MAX)
        self.window = v.positive_int(window, "window", minimum=0, maximum=v.INT32_MAX)

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
