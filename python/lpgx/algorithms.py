"""The paper's query-efficient algorithms (docs/theory.md §6.4), run in C++ one context per step.

Every update is plain REINFORCE on (a prefix of) the correct response with the adaptive step

    G = ∇_w Σ_i A_i log p_w(y_i | x, y_<i),     w ← w + G / (a + b‖G‖²)   (a = 4, b = 2)

and every reward evaluation of one candidate is one query. All functions update ``model``
in place and return an :class:`AlgoResult`. ``eval`` names the contexts whose likelihood is
recorded (a pair (x, y*), ``"all"`` for every context of a finite task, or None); with
``eps`` the run stops once every evaluated context has likelihood ≥ 1 − ε. With
``iterate="random"`` the model ends at an iterate drawn uniformly from those the run visited
(steps 0..steps_done, whatever stopped it). ``reward`` is the oracle the algorithm asks (an
:class:`lpgx.OutcomeReward` or, for Algorithm 2, an :class:`lpgx.ProcessReward`: its noise and
correct set; its ``queries`` grow by the run's); ``flip_prob`` is the shorthand for a reward
whose verdicts are each flipped with that probability (docs/theory.md §4).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np

from . import _core, _rng
from . import _validate as v
from .model import LinearARModel, check_model
from .optim import SGD, AdaptiveStep, _Optimizer
from .rewards import OutcomeReward, ProcessReward, _Reward
from .tasks import check_task
from .training import _pairs, _progress_bar


@dataclass(frozen=True)
class AlgoResult:
    """Per-step records of one run (cumulative counts after each step)."""

    queries: np.ndarray             #: (steps_done,) cumulative reward queries
    success: np.ndarray             #: (steps_done,) bool: a correct response was found
    eval_steps: np.ndarray          #: steps at which the evaluated contexts were measured
                                    #: (0, eval_every, …, and the last step run)
    eval_log_lik: np.ndarray        #: (len(eval_steps), n_eval) log q(y*|x)
    expected_mistakes: np.ndarray   #: online_pg: cumulative Σ_t (1 − p_{w_t}(y*_t|x_t))
    sample_mistakes: np.ndarray     #: online_pg: cumulative rounds with a wrong own sample
    target_step: Optional[int]      #: first step at which the target likelihood was met
    steps_done: int
    iterate: Optional[int]          #: iterate="random": the step whose weights the model holds
    seconds: float
    config: Dict[str, Any] = field(default_factory=dict)

    @property
    def total_queries(self) -> int:
        return int(self.queries[-1]) if len(self.queries) else 0

    @property
    def target_queries(self) -> Optional[int]:
        """Queries spent when the target was met (None if it never was)."""
        if self.target_step is None:
            return None
        return int(self.queries[self.target_step - 1]) if self.target_step > 0 else 0

    def to_pandas(self) -> Any:
        from ._optional import require
        pd = require("pandas")
        return pd.DataFrame({"step": np.arange(1, self.steps_done + 1), "queries": self.queries,
                             "success": self.success})


def _eval_pairs(eval: Any, task: Any, model: LinearARModel) -> Any:
    if isinstance(eval, str):
        if eval != "all" or not hasattr(task, "y_star"):
            raise ValueError("eval='all' needs a finite task (lpgx.planted.FiniteTask)")
        return task.contexts, task.y_star
    return _pairs(eval, "eval", model)


def _run(kind: str, model: LinearARModel, task: Any, steps: int, base: Optional[LinearARModel], *,
         step: Optional[_Optimizer] = None, m: int = 1, mix: float = 0.5, resample: bool = False,
         eval: Any = None, eval_every: int = 1, eps: Optional[float] = None, iterate: str = "last",
         flip_prob: float = 0.0, reward: Optional[_Reward] = None, rng: _rng.RNGLike = None,
         progress: Any = False, n_threads: Optional[int] = None) -> AlgoResult:
    model = check_model(model)
    task = check_task(task, model)
    if base is not None:
        base = check_model(base, "base")
        if base.shape != model.shape:
            raise ValueError(f"base has shape {base.shape}, the model {model.shape}")
    step = AdaptiveStep() if step is None else step
    if not isinstance(step, (AdaptiveStep, SGD)):
        raise TypeError("step must be lpgx.AdaptiveStep(...) or lpgx.SGD(lr) (the constant-step variant)")
    iterate = v.option(iterate, "iterate", ("last", "random"))
    gen = _rng.generator(rng)
    cfg = _core.AlgoConfig()
    cfg.kind = getattr(_core.AlgoKind, kind)
    cfg.steps = v.positive_int(steps, "steps", minimum=0)
    v.check_bytes(16.0 * cfg.steps, "the per-step records")
    cfg.seed = int(gen.integers(0, 2**64, dtype=np.uint64))
    cfg.n_threads = v.n_threads(n_threads)
    opt = step._core_config()
    opt.mean_loss = False  # one context per step: the step acts on the summed gradient
    cfg.optimizer = opt
    cfg.m = v.positive_int(m, "m")
    cfg.mix = v.finite_float(mix, "mix", 0.0, 1.0)
    cfg.resample = v.flag(resample, "resample")
    pairs = _eval_pairs(eval, task, model)
    cfg.eval_every = v.positive_int(eval_every, "eval_every") if pairs is not None else 0
    if eps is not None:
        if pairs is None:
            raise ValueError("eps (a target likelihood) needs eval contexts")
        cfg.target_log_lik = float(np.log1p(-v.finite_float(eps, "eps", 0.0, 1.0)))
    cfg.random_iterate = iterate == "random"
    rew = _algorithm_reward(kind, reward, flip_prob)
    if rew is not None:
        cfg.reward = rew._core_spec(model.seq_len)
    config = dict(algorithm=kind, steps=cfg.steps, m=cfg.m, mix=cfg.mix, resample=cfg.resample, step=repr(step),
                  eps=eps, iterate=iterate, reward=None if rew is None else rew.config(), seed=cfg.seed,
                  task=task.config(), model=model.config())
    run = _core.AlgoRun(model._h, task._h, None if base is None else base._h, cfg, pairs)
    hook, bar = _progress_bar(progress, cfg.steps, 0, kind)
    t0 = time.perf_counter()

    def result() -> AlgoResult:
        records = run.records()
        target, iterate = int(records["target_step"]), int(records["iterate"])
        if iterate >= 0:
            config["random_iterate"] = iterate
        return AlgoResult(records["queries"], records["success"], records["eval_steps"], records["eval_log_lik"],
                          records["expected_mistakes"], records["sample_mistakes"], None if target < 0 else target,
                          int(records["steps_done"]), None if iterate < 0 else iterate, time.perf_counter() - t0,
                          config)
    try:
        run.run(hook)
    except BaseException as exc:  # Ctrl-C or a failing callback: the model holds the last completed step
        exc.partial_result = result()  # type: ignore[attr-defined]
        raise
    finally:
        if bar is not None:
            bar.close()
    res = result()
    if reward is not None:
        reward.queries += res.total_queries
    if res.iterate is not None:
        model.w = run.records()["w_iterate"]
    return res


def _algorithm_reward(kind: str, reward: Optional[_Reward], flip_prob: float) -> Optional[_Reward]:
    """The reward an algorithm asks (its kind fixed by the algorithm), or None for the exact one."""
    flip = v.finite_float(flip_prob, "flip_prob", 0.0, 1.0)
    want = {"sgd": None, "pg_process": "process"}.get(kind, "outcome")
    if reward is None:
        if flip == 0.0 or want is None:
            return None
        return OutcomeReward(flip_prob=flip) if want == "outcome" else ProcessReward(flip_prob=flip)
    if flip != 0.0:
        raise ValueError("give flip_prob or reward=, not both (set the noise on the reward)")
    if not isinstance(reward, _Reward) or reward.external:
        raise TypeError("reward must be a built-in lpgx.OutcomeReward or lpgx.ProcessReward")
    if want is None:
        raise ValueError("sgd_adaptive learns from labelled samples: it asks no reward")
    if reward.kind != want:
        raise ValueError(f"this algorithm asks a{'n' if want == 'outcome' else ''} {want} reward, got {reward.kind}")
    return reward


def sgd_adaptive(model: LinearARModel, task: Any, steps: int, step: Optional[_Optimizer] = None,
                 **kwargs: Any) -> AlgoResult:
    """SGD on labelled samples (statistical learning): A_i = 1 on (x, y*(x)) with the adaptive
    step (default) or ``step=lpgx.SGD(lr)`` for the constant step that is N times worse."""
    return _run("sgd", model, task, steps, None, step=step, **kwargs)


def pg_outcome(model: LinearARModel, task: Any, base: LinearARModel, steps: int, mix: float = 0.5,
               **kwargs: Any) -> AlgoResult:
    """PG with an outcome reward, one query per step: y ~ (1−mix)·q0 + mix·Unif(Y^N); update
    on success. Queries Õ(m/(γ²ε)) with m = min(1/LQ_{q0}(ε), k^N)."""
    return _run("pg_outcome", model, task, steps, base, mix=mix, **kwargs)


def pg_outcome_multi(model: LinearARModel, task: Any, base: LinearARModel, steps: int, m: int, mix: float = 0.5,
                     **kwargs: Any) -> AlgoResult:
    """Algorithm 1: one on-policy sample (1 query); on failure up to ``m`` draws from
    (1−mix)·q0 + mix·Unif(Y^N), stopping at the first success; update on a success.
    Per context with base likelihood α: Õ((1/α + 1/ε)/γ²) queries."""
    return _run("pg_outcome_multi", model, task, steps, base, m=m, mix=mix, **kwargs)


def pg_process(model: LinearARModel, task: Any, base: LinearARModel, steps: int, m: int, mix: float = 0.5,
               resample: bool = False, **kwargs: Any) -> AlgoResult:
    """Algorithm 2 (process reward): one on-policy sample reveals its first error (1 query);
    from there, per position, up to ``m`` tokens from (1−mix)·q0(·|prefix) + mix·Unif(Y) until
    the PRM accepts one (1 query each); update on the longest verified prefix. At most
    N·m + 1 queries per step (token-by-token continuation; ``resample=True`` resamples the
    rest on-policy after each verified token, one more query each). With a jittered
    ``reward`` m is at most :data:`MAX_M_JITTER` (a hidden error stalls the step for m queries)."""
    reward = kwargs.get("reward")
    if isinstance(reward, _Reward) and reward.jitter and v.positive_int(m, "m") > MAX_M_JITTER:
        # A jittered PRM can accept a prefix that hides an error; past it every candidate is
        # rejected, so each such step spends all m queries: an unbounded m never ends.
        raise ValueError(f"m={m}: with a jittered PRM (jitter={reward.jitter}) a step can spend all m "
                         f"queries; m must be at most {MAX_M_JITTER}")
    return _run("pg_process", model, task, steps, base, m=m, mix=mix, resample=resample, **kwargs)


#: The largest m :func:`pg_process` accepts with a jittered process reward.
MAX_M_JITTER = 10**6


def online_pg(model: LinearARModel, task: Any, steps: int, mix: float = 1.0, **kwargs: Any) -> AlgoResult:
    """Online PG: each round a new context, a response from mix·Unif + (1−mix)·p_w (uniform
    by default), one ORM query, an adaptive update on success. Records both mistake counts:
    Σ_t (1 − p_{w_t}(y*_t|x_t)) and the rounds whose own sample y' ~ p_{w_t} is wrong."""
    return _run("online", model, task, steps, None, mix=mix, **kwargs)
