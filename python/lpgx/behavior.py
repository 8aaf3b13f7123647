"""Behaviour policies (docs/theory.md §6.3): where the responses of a PG step come from.

Short names: ``"on_policy"``, ``"uniform"``, ``"teacher_forcing"``; the others take
parameters through the constructors below.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

from . import _core
from . import _validate as v
from .model import LinearARModel, check_model

_KINDS = _core.kinds()
#: The behaviours a training run can use (the engine's table, less its internal "given").
KINDS = tuple(k for k in _KINDS["behavior"] if k != "given")
#: Those that draw from a fixed base model q0.
NEEDS_BASE = tuple(_KINDS["behavior_needs_base"])


@dataclass(frozen=True)
class Behavior:
    """A behaviour policy; build with the class methods."""

    kind: str = "on_policy"
    eps: float = 0.5
    m: int = 1
    base: Optional[LinearARModel] = None

    def __post_init__(self) -> None:
        v.option(self.kind, "kind", KINDS)
        v.finite_float(self.eps, "eps", 0.0, 1.0)
        v.positive_int(self.m, "m")
        if self.base is not None:
            check_model(self.base, "base")
        elif self.kind in NEEDS_BASE:
            raise ValueError(f"behavior {self.kind!r} needs a base model")

    @classmethod
    def on_policy(cls) -> "Behavior":
        """The current policy p_w."""
        return cls("on_policy")

    @classmethod
    def frozen(cls, model: LinearARModel) -> "Behavior":
        """A fixed model q0 (e.g. the base model), copied now."""
        return cls("frozen", base=check_model(model).copy())

    @classmethod
    def uniform(cls) -> "Behavior":
        """Uniform tokens."""
        return cls("uniform")

    @classmethod
    def eps_mixture(cls, eps: float) -> "Behavior":
        """Per token: uniform with probability eps, else the current policy."""
        return cls("eps_mixture", eps=v.finite_float(eps, "eps", 0.0, 1.0))

    @classmethod
    def base_uniform(cls, base: LinearARModel, weight: float = 0.5, per: str = "sequence") -> "Behavior":
        """(1−weight)·q0 + weight·Uniform, mixed per ``"sequence"`` (Unif(Y^N)) or per ``"token"``."""
        v.option(per, "per", ("sequence", "token"))
        kind = "base_uniform_seq" if per == "sequence" else "base_uniform_token"
        return cls(kind, eps=v.finite_float(weight, "weight", 0.0, 1.0), base=check_model(base, "base").copy())

    @classmethod
    def best_of_m(cls, m: int) -> "Behavior":
        """Token-level best-of-m under the PRM: while the prefix is correct, draw up to m
        candidates for the next token from the current policy and keep the first the PRM
        accepts (else the last); one query per candidate."""
        return cls("best_of_m", m=v.positive_int(m, "m"))

    @classmethod
    def teacher_forcing(cls) -> "Behavior":
        """y = y*: supervised learning through the PG loop."""
        return cls("teacher_forcing")

    def _core_config(self) -> Any:
        b = _core.Behavior()
        b.kind = getattr(_core.BehaviorKind, self.kind)
        b.eps, b.m = self.eps, self.m
        return b


BehaviorLike = Union[Behavior, str, None]


def make_behavior(behavior: BehaviorLike, model: LinearARModel) -> Behavior:
    if behavior is None:
        return Behavior.on_policy()
    if isinstance(behavior, str):
        simple = {"on_policy": Behavior.on_policy, "uniform": Behavior.uniform,
                  "teacher_forcing": Behavior.teacher_forcing}
        if behavior not in simple:
            raise ValueError(f"behavior {behavior!r}: use one of {sorted(simple)} or an lpgx.Behavior "
                             f"(e.g. Behavior.base_uniform(base_model))")
        return simple[behavior]()
    if not isinstance(behavior, Behavior):
        raise TypeError(f"behavior must be an lpgx.Behavior or a name, got {type(behavior).__name__}")
    if behavior.base is not None and behavior.base.shape != model.shape:
        raise ValueError(f"behavior's base model has shape {behavior.base.shape}, the model {model.shape}")
    return behavior
