"""Supervised pre-training (docs/theory.md §6.1) and mini-batch policy-gradient post-training
(docs/theory.md §6.2), with the whole step loop in C++.

Per PG step: a fresh batch of B contexts, one response each from the behaviour policy,
rewards, then one optimizer step on

    loss = − mean_{b,i} A_bi · log p_w(y_bi | x_b, y_b,<i)

with A_bi = r_b − mean_b r_b (ORM, baseline on) or r_b; A_bi = r_bi (PRM) or minus the
per-position batch mean. Pre-training is the same loop with y = y* and A = 1.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np

from . import _core, _rng
from ._optional import require
from . import _validate as v
from .behavior import Behavior, BehaviorLike, make_behavior
from .estimators import Estimator, make_estimator
from .model import LinearARModel, check_model
from .optim import OptimizerLike, make_optimizer
from .rewards import RewardLike, _Reward, make_reward
from .tasks import check_task

Pairs = Tuple[np.ndarray, np.ndarray]


def record_steps(steps: int, every: int) -> np.ndarray:
    """The steps (updates done) at which records are taken: 0, every, 2·every, …, steps."""
    if every <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.append(np.arange(0, steps + 1, every), steps)).astype(np.int64)


@dataclass(frozen=True)
class TrainResult:
    """What a training run recorded. Records at step s are taken after s updates."""

    test_steps: np.ndarray        #: steps at which the test error was measured
    test_error: np.ndarray        #: 1 − mean_x q(y*|x) on the test set
    track_steps: np.ndarray       #: steps at which the tracked contexts were measured
    tracked_log_lik: np.ndarray   #: (len(track_steps), n_tracked) log q(y*|x)
    queries: np.ndarray           #: (steps,) cumulative reward queries after each step
    mean_reward: np.ndarray       #: (steps,) mean reward given to each update
    success: np.ndarray           #: (steps,) fraction of responses equal to y*
    seconds: float                #: wall time
    steps_done: int               #: completed steps (< steps when interrupted)
    config: Dict[str, Any] = field(default_factory=dict)
    #: at test_steps: mean per-token entropy of the policy along its own samples on the test contexts
    test_entropy: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: at test_steps: mean per-token exact KL(π ‖ π_ref) along those samples (π_ref: the estimator's
    #: reference, by default the model when the run started)
    test_kl: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: at test_steps: log token-level LQ(0.1) of y* on the test contexts (docs/theory.md §5)
    test_token_log_lq: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: (steps,) fraction of groups whose G rewards were all equal (empty for G = 1)
    all_equal: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: (steps,) fraction of weighted tokens clipped in the reuse epochs (empty without reuse)
    clipped: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def to_pandas(self) -> Any:
        """Per-step table (step, queries, mean_reward, success, all_equal, clipped; test_error and
        the test diagnostics where measured)."""
        pd = require("pandas")
        n = len(self.queries)
        per_step = {"step": np.arange(1, n + 1), "queries": self.queries, "mean_reward": self.mean_reward,
                    "success": self.success}
        for name in ("all_equal", "clipped"):
            if len(getattr(self, name)) == n:
                per_step[name] = getattr(self, name)
        test = {"step": self.test_steps, "test_error": self.test_error}
        for name in ("test_entropy", "test_kl", "test_token_log_lq"):
            if len(getattr(self, name)) == len(self.test_steps):
                test[name] = getattr(self, name)
        return (pd.DataFrame(test).merge(pd.DataFrame(per_step), on="step", how="outer").sort_values("step")
                .reset_index(drop=True))

    def save(self, path: Any) -> None:
        from ._io import save_npz
        arrays = {k: np.asarray(val) for k, val in asdict(self).items() if k not in ("config", "seconds",
                                                                                  "steps_done")}
        save_npz(path, arrays, {"kind": "TrainResult", "config": self.config, "seconds": self.seconds,
                                "steps_done": self.steps_done})

    @classmethod
    def load(cls, path: Any) -> "TrainResult":
        from ._io import load_npz
        arrays, meta = load_npz(path, "TrainResult")
        try:
            return cls(**arrays, seconds=meta["seconds"], steps_done=meta["steps_done"], config=meta["config"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a complete TrainResult file ({exc})") from None


def _pairs(value: Any, name: str, model: LinearARModel) -> Optional[Pairs]:
    if value is None:
        return None
    try:
        x, y = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (x, y_star) of arrays") from None
    x = v.contexts(x, model.context_dim, f"{name} x")
    y = v.tokens(y, (x.shape[0], model.seq_len), model.vocab_size, f"{name} y")
    return x, y


def _progress_bar(progress: Union[bool, Callable[[int], Any]], steps: int, s0: int, desc: str) -> Tuple[Any, Any]:
    if callable(progress):
        return progress, None
    if not progress:
        return None, None
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped, unused-ignore]
    except ImportError:  # progress is a nicety: never fail a run for it
        import warnings
        warnings.warn("progress=True needs tqdm (pip install tqdm)", stacklevel=3)
        return None, None
    bar = tqdm(total=steps, initial=s0, desc=desc, unit="step")
    last = [s0]

    def update(s: int) -> None:
        bar.update(s - last[0])
        last[0] = s
    return update, bar


def _run(model: LinearARModel, task: Any, cfg: Any, reward: Optional[_Reward], behavior: Behavior, optimizer: Any,
         test: Optional[Pairs], track: Optional[Pairs], progress: Any, config: Dict[str, Any], desc: str,
         reference: Optional[LinearARModel] = None) -> TrainResult:
    steps = cfg.steps
    test_steps = record_steps(steps, cfg.test_every if test is not None else 0)
    track_steps = record_steps(steps, cfg.track_every if track is not None else 0)
    base = behavior.base
    run = _core.TrainRun(model._h, task._h, None if base is None else base._h,
                         None if reference is None else reference._h, cfg, test, track,
                         optimizer._state_for(model.num_params))
    hook, bar = _progress_bar(progress, steps, 0, desc)
    t0 = time.perf_counter()

    def result() -> TrainResult:
        rec = run.records()
        n = int(rec["steps_done"])
        optimizer.state = rec["opt_state"]  # the state after the last completed step
        if reward is not None:
            reward.queries += int(rec["total_queries"])
        track_out = rec["track_log_lik"]
        tested = test_steps <= n
        return TrainResult(test_steps=test_steps[tested], test_error=rec["test_error"][tested],
                           track_steps=track_steps[track_steps <= n],
                           tracked_log_lik=track_out[track_steps <= n] if len(track_out) else
                           np.zeros((int((track_steps <= n).sum()), 0)),
                           queries=rec["queries"][:n], mean_reward=rec["mean_reward"][:n],
                           success=rec["success"][:n], seconds=time.perf_counter() - t0, steps_done=n,
                           config=config, test_entropy=rec["test_entropy"][tested], test_kl=rec["test_kl"][tested],
                           test_token_log_lq=rec["test_token_log_lq"][tested],
                           all_equal=rec["all_equal"][:n] if cfg.estimator.group_size > 1 and reward else np.zeros(0),
                           clipped=rec["clipped"][:n] if cfg.estimator.epochs > 1 else np.zeros(0))
    try:
        run.run(None if reward is None else reward._callable(), hook)
    except BaseException as exc:  # Ctrl-C or a failing user reward: keep what was done
        exc.partial_result = result()  # type: ignore[attr-defined]
        raise
    finally:
        if bar is not None:
            bar.close()
    return result()


# One-pass steps (the gradient accumulated while sampling, where the estimator allows it);
# the tests switch this off to compare the two executions of the step.
_ONE_PASS = True


def _base_config(steps: int, batch_size: int, rng: Any, n_threads: Optional[int], model: LinearARModel
                 ) -> Tuple[Any, int]:
    cfg = _core.TrainConfig()
    cfg.one_pass = _ONE_PASS
    cfg.steps = v.positive_int(steps, "steps", minimum=0)
    cfg.batch = v.positive_int(batch_size, "batch_size")
    # the loop's per-step buffers (contexts, tokens, advantages) and the per-step records
    v.check_bytes(cfg.batch * (8.0 * model.context_dim + 24.0 * model.seq_len), "a batch of this size")
    v.check_bytes(32.0 * cfg.steps, "the per-step records")
    seed = _rng.key(rng)
    cfg.seed = seed
    cfg.n_threads = v.n_threads(n_threads)
    return cfg, seed


def _test_and_track(model: LinearARModel, task: Any, test: Any, track: Any, rng_test: Any
                    ) -> Tuple[Optional[Pairs], Optional[Pairs]]:
    if isinstance(test, (int, np.integer)) and not isinstance(test, bool):
        test = task.sample(v.positive_int(test, "test"), rng=rng_test)
    if isinstance(track, str):
        if track != "centres":
            raise ValueError(f"track must be None, 'centres' or a pair (x, y_star), got {track!r}")
        track = task.centres()
    return _pairs(test, "test", model), _pairs(track, "track", model)


def pretrain(model: LinearARModel, task: Any, steps: int, batch_size: int = 256, optimizer: OptimizerLike = None,
             rng: _rng.RNGLike = None, test: Any = None, test_every: int = 50, track: Any = None,
             track_every: int = 1, progress: Any = False, n_threads: Optional[int] = None) -> TrainResult:
    """Supervised pre-training (docs/theory.md §6.1), in place on ``model``.

    Each step draws a fresh batch of (x, y*(x)) from ``task`` and takes one optimizer step
    on the teacher-forced cross-entropy averaged over batch × positions. ``optimizer``
    defaults to ``Adagrad(lr=0.1)``. ``test``: a pair (x, y*) or a number of contexts to
    draw; ``track``: a pair or ``"centres"``. ``progress``: True for a tqdm bar or a
    callable(step). Ctrl-C raises KeyboardInterrupt within a fraction of a second (a step
    it lands in is abandoned), with the model at its last completed step and
    ``exc.partial_result`` holding the records so far."""
    model = check_model(model)
    task = check_task(task, model)
    opt = make_optimizer(optimizer)
    cfg, seed = _base_config(steps, batch_size, rng, n_threads, model)
    cfg.reward.kind = _core.RewardKind.none
    cfg.estimator.kind = _core.EstimatorKind.supervised
    behavior = Behavior.teacher_forcing()
    cfg.behavior = behavior._core_config()
    cfg.optimizer = opt._core_config()
    cfg.test_every = v.positive_int(test_every, "test_every")
    cfg.track_every = v.positive_int(track_every, "track_every")
    test, track = _test_and_track(model, task, test, track, seed ^ 0x7E57)
    config = dict(kind="pretrain", steps=cfg.steps, batch_size=cfg.batch, optimizer=repr(opt), seed=seed,
                  task=task.config(), model=model.config())
    return _run(model, task, cfg, None, behavior, opt, test, track, progress, config, "pretrain")


def post_train(model: LinearARModel, task: Any, reward: RewardLike = "outcome", steps: int = 1000,
               batch_size: int = 1024, optimizer: OptimizerLike = None, baseline: Optional[bool] = None,
               behavior: BehaviorLike = "on_policy", rng: _rng.RNGLike = None, test: Any = None,
               test_every: int = 50, track: Any = None, track_every: int = 1, progress: Any = False,
               n_threads: Optional[int] = None, estimator: Optional[Estimator] = None) -> TrainResult:
    """Mini-batch policy-gradient post-training (docs/theory.md §6.2, §10), in place on ``model``.

    Each step draws ``batch_size`` contexts and the estimator's ``group_size`` responses to each
    (one by default). ``reward``: ``"outcome"``, ``"process"`` or a reward object (±1 by
    default). ``estimator``: how rewards become advantages, :class:`lpgx.Reinforce` (default),
    :class:`lpgx.RLOO`, :class:`lpgx.GRPO` or :class:`lpgx.PassAtK`, with optional KL, entropy
    and clipping terms. ``baseline`` is the shorthand ``Reinforce(baseline="batch"/"none")``:
    subtract the batch mean of the rewards (per position for the PRM); by default on for outcome
    rewards and off for process rewards, as in the authors' Figure-1 run. ``behavior``:
    ``"on_policy"`` or an :class:`lpgx.Behavior`. ``optimizer`` defaults to
    ``Adagrad(lr=0.1)``. Returns a :class:`TrainResult`; the reward object's ``queries`` grows
    by the queries spent (reused batches cost none). Interrupts as in :func:`pretrain`."""
    model = check_model(model)
    task = check_task(task, model)
    rew = make_reward(reward)
    beh = make_behavior(behavior, model)
    est = make_estimator(estimator, baseline)
    if beh.kind == "best_of_m" and rew.kind != "process":
        raise ValueError("best_of_m exploration needs a process reward")
    if est.epochs > 1 and beh.kind != "on_policy":
        raise ValueError("epochs > 1 reuses a batch with the ratio against the policy that sampled it: "
                         "it needs behavior='on_policy'")
    if est.reference is not None and est.reference.config() != model.config():
        raise ValueError(f"the estimator's reference has {est.reference.config()}, the model {model.config()}")
    opt = make_optimizer(optimizer)
    cfg, seed = _base_config(steps, batch_size, rng, n_threads, model)
    v.check_bytes(cfg.batch * est.group_size * 40.0 * model.seq_len, "a batch with this group size")
    cfg.reward = rew._core_spec(model.seq_len)
    cfg.estimator = est._core_config(rew.kind)
    cfg.behavior = beh._core_config()
    cfg.optimizer = opt._core_config()
    cfg.test_every = v.positive_int(test_every, "test_every")
    cfg.track_every = v.positive_int(track_every, "track_every")
    test, track = _test_and_track(model, task, test, track, seed ^ 0x7E57)
    config = dict(kind="post_train", reward=repr(rew), reward_kind=rew.kind, baseline=cfg.estimator.baseline,
                  estimator=est.config(), behavior=beh.kind, steps=cfg.steps, batch_size=cfg.batch,
                  optimizer=repr(opt), seed=seed, task=task.config(), model=model.config())
    return _run(model, task, cfg, rew, beh, opt, test, track, progress, config, f"post-train ({rew.kind})",
                est.reference)


def pg_step(model: LinearARModel, x: Any, y_star: Any, y: Any, reward: Optional[RewardLike] = "outcome",
            optimizer: OptimizerLike = None, baseline: Optional[bool] = None, rng: _rng.RNGLike = None,
            n_threads: Optional[int] = None, estimator: Optional[Estimator] = None) -> float:
    """One PG update of ``model`` from given responses (the loop body of :func:`post_train`,
    for inspection and tests): contexts ``x`` (B, d) with correct responses ``y_star`` (B, N)
    and the estimator's G responses per context ``y`` (B·G, N), context by context.
    ``reward=None`` is a supervised step (A = 1). ``estimator`` and ``baseline`` as in
    :func:`post_train` (a KL term's default reference: the model before the step). Returns the
    mean reward."""
    model = check_model(model)
    x = v.contexts(x, model.context_dim)
    y_star = v.tokens(y_star, (x.shape[0], model.seq_len), model.vocab_size, "y_star")
    opt = make_optimizer(optimizer)
    cfg = _core.TrainConfig()
    cfg.one_pass = _ONE_PASS
    cfg.n_threads = v.n_threads(n_threads)
    cfg.optimizer = opt._core_config()
    cfg.seed = _rng.key(rng)
    rew, est = None, None
    if reward is None:
        cfg.reward.kind = _core.RewardKind.none
        cfg.estimator.kind = _core.EstimatorKind.supervised
        if estimator is not None:
            raise ValueError("a supervised step (reward=None) takes no estimator")
    else:
        rew = make_reward(reward)
        cfg.reward = rew._core_spec(model.seq_len)
        est = make_estimator(estimator, baseline)
        cfg.estimator = est._core_config(rew.kind)
    G = 1 if est is None else est.group_size
    y = v.tokens(y, (x.shape[0] * G, model.seq_len), model.vocab_size, "y")
    reference = None if est is None or est.reference is None else est.reference._h
    mean_r, queries, opt.state = _core.pg_step(model._h, reference, cfg, x, y_star, y,
                                               None if rew is None else rew._callable(),
                                               opt._state_for(model.num_params))
    if rew is not None:
        rew.queries += int(queries)
    return float(mean_r)
