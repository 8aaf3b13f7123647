"""Advantage estimators for :func:`lpgx.post_train` (docs/theory.md §6.2, §10).

A step draws ``batch_size`` contexts and ``group_size`` = G responses per context. Each
estimator turns a group's rewards into advantages A; the step ascends Σ A ∇log π. For outcome
rewards the formula applies to the G rewards of whole responses; for process rewards it applies
per position i, to the G rewards r_{g,i} of the prefixes ending at i, and A_{g,i} weighs token i.

- :class:`Reinforce` (the paper's): A = r, or r minus the batch mean (``baseline="batch"``).
- :class:`RLOO`: A_g = r_g − (1/(G−1)) Σ_{h≠g} r_h. Unbiased for ∇J.
- :class:`GRPO`: A_g = (r_g − mean) / (std + eps) with the group's standard deviation
  (``scale="group"``), the batch's (``"batch"``) or none (``"none"``: Dr. GRPO). Standard
  deviations divide by n − 1, as TRL and verl compute them. The division reweights contexts
  by about 1/√(p(1−p)), p the context's success rate: GRPO does not estimate ∇J itself.
- :class:`BatchNorm`: A = (r − batch mean) / (batch std + eps), as REINFORCE++ normalises.
- :class:`PassAtK`: the unbiased gradient estimator of the pass@k objective 1 − (1 − q)^k on the
  verdicts c_g = [r_g = values[0]]: A_g = c_g · k · C(G−1−c₋g, k−1)/C(G−1, k−1), c₋g the
  number correct among the other G − 1; with the leave-one-out baseline (default) minus the
  others' pass@k estimate 1 − C(G−1−c₋g, k)/C(G−1, k). At k = 1 this is RLOO on 0/1 verdicts
  (Reinforce without baseline when ``baseline="none"``).

Every estimator also takes, as fields:

- ``kl=β`` with ``kl_estimator="exact" | "k1" | "k2" | "k3"``: β·KL(π ‖ π_ref) added to the loss
  at every visited prefix, exactly (with its exact gradient) or by the sampled estimators k1 =
  −log ρ, k2 = ½(log ρ)², k3 = ρ − 1 − log ρ at the drawn token (ρ = π_ref/π, gradient through π),
  as TRL and verl add them. ``reference``: the model π_ref (default: the model as it was when
  ``post_train`` started).
- ``entropy=c``: a bonus c·H(π(·|s)) at every visited prefix, with its exact gradient.
- ``clip=ε`` and ``epochs=μ``: each sampled batch is used for μ updates; after the first, each
  token's weight is A·ρ with ρ = π_θ(y|s)/π_old(y|s) against the policy that sampled it, and 0
  where PPO's clipped surrogate min(ρA, clip(ρ, 1−ε, 1+ε)A) is flat. Reuses cost no queries.
  The first update is on-policy (ρ = 1): with μ = 1 clipping changes nothing.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from . import _core
from . import _validate as v
from .model import LinearARModel, check_model

_KINDS = _core.kinds()
KL_ESTIMATORS: Tuple[str, ...] = tuple(_KINDS["kl_estimator"])
GRPO_SCALES: Tuple[str, ...] = tuple(_KINDS["grpo_scale"])


class Estimator:
    """The fields every estimator has (see the module docstring); use a subclass."""

    kind = "reinforce"

    def __init__(self, group_size: int = 1, *, kl: float = 0.0, kl_estimator: str = "exact",
                 reference: Optional[LinearARModel] = None, clip: Optional[float] = None, epochs: int = 1,
                 entropy: float = 0.0) -> None:
        self.group_size = v.positive_int(group_size, "group_size", maximum=v.INT32_MAX)
        self.kl = v.finite_float(kl, "kl", 0.0)
        self.kl_estimator = v.option(kl_estimator, "kl_estimator", KL_ESTIMATORS)
        self.reference = None if reference is None else check_model(reference, "reference").copy()
        self.clip = None if clip is None else v.finite_float(clip, "clip", 0.0)
        if self.clip == 0.0:
            raise ValueError("clip must be > 0 (or None for no clipping)")
        self.epochs = v.positive_int(epochs, "epochs", maximum=v.INT32_MAX)
        self.entropy = v.finite_float(entropy, "entropy", 0.0)

    def _params(self) -> Dict[str, Any]:
        return {}

    def config(self) -> Dict[str, Any]:
        """The estimator's settings (JSON-ready; the reference as its config)."""
        out: Dict[str, Any] = {"kind": self.kind, "group_size": self.group_size, **self._params(), "kl": self.kl,
                               "kl_estimator": self.kl_estimator, "clip": self.clip, "epochs": self.epochs,
                               "entropy": self.entropy}
        if self.reference is not None:
            out["reference"] = self.reference.config()
        return out

    def _core_config(self, reward_kind: str) -> Any:
        e = _core.Estimator()
        e.kind = getattr(_core.EstimatorKind, self.kind)
        e.group_size = self.group_size
        e.kl = self.kl
        e.kl_estimator = KL_ESTIMATORS.index(self.kl_estimator)
        e.clip = 0.0 if self.clip is None else self.clip
        e.epochs = self.epochs
        e.entropy = self.entropy
        self._fill(e, reward_kind)
        return e

    def _fill(self, e: Any, reward_kind: str) -> None:
        pass

    def __repr__(self) -> str:
        cfg = {k: val for k, val in self.config().items() if k not in ("kind", "reference")}
        common = {"kl": 0.0, "kl_estimator": "exact", "clip": None, "epochs": 1, "entropy": 0.0}
        shown = ", ".join(f"{k}={val!r}" for k, val in cfg.items() if common.get(k, object()) != val)
        ref = ", reference=..." if self.reference is not None else ""
        return f"{type(self).__name__}({shown}{ref})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Estimator) and type(self) is type(other) and repr(self) == repr(other) and \
            self.reference == other.reference

    __hash__ = None  # type: ignore[assignment]


class Reinforce(Estimator):
    """REINFORCE, the paper's estimator: A = r (``baseline="none"``) or r minus the batch mean
    (``"batch"``; per position for process rewards). ``None``: batch for outcome rewards, none
    for process rewards, as in the authors' Figure-1 run."""

    kind = "reinforce"

    def __init__(self, baseline: Optional[str] = None, group_size: int = 1, **common: Any) -> None:
        super().__init__(group_size, **common)
        self.baseline = None if baseline is None else v.option(baseline, "baseline", ("batch", "none"))

    def _params(self) -> Dict[str, Any]:
        return {"baseline": self.baseline}

    def _fill(self, e: Any, reward_kind: str) -> None:
        e.baseline = (reward_kind == "outcome") if self.baseline is None else self.baseline == "batch"


class RLOO(Estimator):
    """REINFORCE leave-one-out: A_g = r_g − mean of the group's other G − 1 rewards (G ≥ 2)."""

    kind = "rloo"

    def __init__(self, group_size: int, **common: Any) -> None:
        super().__init__(group_size, **common)
        if self.group_size < 2:
            raise ValueError("RLOO needs group_size >= 2")


class GRPO(Estimator):
    """Group-relative advantages: A_g = (r_g − group mean) / (std + eps), the standard deviation
    of the group (``scale="group"``, G ≥ 2), of the batch (``"batch"``), or no division
    (``"none"``: Dr. GRPO)."""

    kind = "grpo"

    def __init__(self, group_size: int, scale: str = "group", eps: float = 1e-4, **common: Any) -> None:
        super().__init__(group_size, **common)
        self.scale = v.option(scale, "scale", GRPO_SCALES)
        self.eps = v.finite_float(eps, "eps", 0.0)
        if self.scale == "group" and self.group_size < 2:
            raise ValueError("GRPO with scale='group' needs group_size >= 2")

    def _params(self) -> Dict[str, Any]:
        return {"scale": self.scale, "eps": self.eps}

    def _fill(self, e: Any, reward_kind: str) -> None:
        e.scale = GRPO_SCALES.index(self.scale)
        e.eps = self.eps


class PassAtK(Estimator):
    """The unbiased pass@k gradient estimator from a group of n = G responses, c of them correct
    (module docstring); ``baseline="loo"`` (default) subtracts the other responses' pass@k
    estimate (then k < G), ``"none"`` does not (k ≤ G)."""

    kind = "pass_at_k"

    def __init__(self, group_size: int, k: int, baseline: str = "loo", **common: Any) -> None:
        super().__init__(group_size, **common)
        self.k = v.positive_int(k, "k", maximum=v.INT32_MAX)
        self.baseline = v.option(baseline, "baseline", ("loo", "none"))
        need = self.k + (self.baseline == "loo")
        if self.group_size < need:
            raise ValueError(f"PassAtK(k={self.k}, baseline={self.baseline!r}) needs group_size >= {need}")

    def _params(self) -> Dict[str, Any]:
        return {"k": self.k, "baseline": self.baseline}

    def _fill(self, e: Any, reward_kind: str) -> None:
        e.k = self.k
        e.baseline = self.baseline == "loo"


class BatchNorm(Estimator):
    """Advantages normalised over the whole batch, as REINFORCE++ does: A = (r − batch mean) /
    (batch standard deviation + eps), per position for process rewards (n − 1 in the
    denominator). Unlike GRPO it keeps each context's success in the advantage."""

    kind = "batch_norm"

    def __init__(self, group_size: int = 1, eps: float = 1e-4, **common: Any) -> None:
        super().__init__(group_size, **common)
        self.eps = v.finite_float(eps, "eps", 0.0)

    def _params(self) -> Dict[str, Any]:
        return {"eps": self.eps}

    def _fill(self, e: Any, reward_kind: str) -> None:
        e.eps = self.eps


def make_estimator(estimator: Optional[Estimator], baseline: Optional[bool]) -> Estimator:
    """The estimator of a post-training run: ``estimator``, or Reinforce with ``baseline``."""
    if estimator is None:
        return Reinforce(baseline=None if baseline is None else ("batch" if v.flag(baseline, "baseline") else "none"))
    if not isinstance(estimator, Estimator):
        raise TypeError(f"estimator must be an lpgx estimator (lpgx.Reinforce, RLOO, GRPO, PassAtK), "
                        f"got {type(estimator).__name__}")
    if baseline is not None:
        raise ValueError("give baseline= or estimator=, not both (baseline is a shorthand for Reinforce)")
    return estimator


__all__ = ["BatchNorm", "Estimator", "GRPO", "PassAtK", "RLOO", "Reinforce", "make_estimator"]
