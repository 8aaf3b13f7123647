"""A fingerprint of lpgx's numerical outputs, for checking that an engine change is bit-exact.

    python scripts/fingerprint.py --out before.json          # on the old build
    python scripts/fingerprint.py --out after.json --compare before.json

Every entry is the SHA-256 of an output array's bytes (plus a short summary for reading
diffs): samples, log-probs, gradients, greedy decodes, margins, Monte-Carlo hit counts for
several block sets and vocabularies (memoised and per-token paths), training runs with every
reward, baseline, behaviour and optimizer, one PG step, a Figure-1 quick run, and each of
the paper's algorithms on planted instances. Only the public API is used, so the script runs
unchanged against any version.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from typing import Any, Callable, Dict

import numpy as np

import lpgx
from lpgx import algorithms as alg

OUT: Dict[str, Dict[str, Any]] = {}


def put(name: str, value: Any) -> None:
    arr = np.ascontiguousarray(np.asarray(value))
    h = hashlib.sha256(str(arr.dtype).encode() + repr(arr.shape).encode() + arr.tobytes()).hexdigest()
    summary = float(np.nansum(arr.astype(float))) if arr.size else 0.0
    OUT[name] = {"sha256": h, "sum": summary, "shape": list(arr.shape)}


def attempt(name: str, fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception as exc:  # a feature missing from one version: recorded, not fatal
        OUT[name] = {"error": f"{type(exc).__name__}: {exc}"}


def model_kernels() -> None:
    rng = np.random.default_rng(0)
    cases = [(32, 16, 8, ("context", "prev_token")), (5, 6, 3, ("context", "prev_token")),
             (8, 5, 4, ("context", "prev_token", "position", "bias")), (4, 6, 3, ("context_position",)),
             (70, 12, 6, ("context", "prev_token")), (3, 7, 2, ("context", "prev_token", "bias"))]
    for k, N, d, blocks in cases:
        tag = f"k{k}_N{N}_d{d}_{'+'.join(blocks)}"
        m = lpgx.LinearARModel(k, N, d, blocks=blocks)
        m.w = 0.5 * rng.standard_normal(m.num_params)
        x = rng.standard_normal((37, d))
        wts = rng.standard_normal((37, N))  # the same weights for both thread counts
        for nt in (1, 2):
            y, lp = m.sample(x, rng=7, return_log_prob=True, n_threads=nt)
            put(f"sample/{tag}/t{nt}", y)
            put(f"sample_logp/{tag}/t{nt}", lp)
            put(f"token_log_prob/{tag}/t{nt}", m.token_log_prob(x, y, n_threads=nt))
            put(f"grad/{tag}/t{nt}", m.grad_log_prob(x, y, n_threads=nt))
            put(f"grad_w/{tag}/t{nt}", m.grad_log_prob(x, y, weights=wts, n_threads=nt))
            put(f"greedy/{tag}/t{nt}", m.greedy(x, n_threads=nt))
            mg = lpgx.margins(m, x, m.greedy(x), n_threads=nt)
            put(f"margins/{tag}/t{nt}", mg.margin)
            put(f"mc_hits/{tag}/t{nt}", lpgx.mc_hits(m, x, y, 50, rng=3, n_threads=nt))


def training() -> None:
    task = lpgx.TeacherTask(8, 6, 10, inputs="mixture", num_mix=8, rng=1)
    test = task.sample(64, rng=2)
    base = lpgx.LinearARModel(6, 10, 8)
    pre = lpgx.pretrain(base, task, steps=40, batch_size=32, rng=3, test=test, test_every=10,
                        track="centres", track_every=5)
    put("pretrain/w", base.w)
    put("pretrain/test_error", pre.test_error)
    put("pretrain/tracked", pre.tracked_log_lik)
    runs: Dict[str, Dict[str, Any]] = {
        "orm": dict(reward="outcome"),
        "orm_nobase": dict(reward="outcome", baseline=False),
        "orm_01": dict(reward=lpgx.OutcomeReward(values=(1, 0))),
        "orm_flip": dict(reward=lpgx.OutcomeReward(flip_prob=0.2)),
        "prm": dict(reward="process"),
        "prm_base": dict(reward="process", baseline=True),
        "prm_flip": dict(reward=lpgx.ProcessReward(flip_prob=0.1)),
        "prm_01_base": dict(reward=lpgx.ProcessReward(values=(1, 0)), baseline=True),
        "frozen": dict(reward="outcome", behavior=lpgx.Behavior.frozen(base)),
        "uniform": dict(reward="process", behavior="uniform"),
        "eps": dict(reward="outcome", behavior=lpgx.Behavior.eps_mixture(0.3)),
        "bu_seq": dict(reward="outcome", behavior=lpgx.Behavior.base_uniform(base, 0.5, "sequence")),
        "bu_tok": dict(reward="process", behavior=lpgx.Behavior.base_uniform(base, 0.5, "token")),
        "best_of_m": dict(reward="process", behavior=lpgx.Behavior.best_of_m(3)),
        "teacher_forcing": dict(reward="outcome", behavior="teacher_forcing"),
        "sgd": dict(reward="outcome", optimizer=lpgx.SGD(lr=0.5)),
        "adaptive": dict(reward="process", optimizer=lpgx.AdaptiveStep()),
        "callable_orm": dict(reward=lpgx.CallableReward(
            lambda x, y: (y[:, 0] == 1).astype(float) - 0.5, kind="outcome")),
        "callable_prm": dict(reward=lpgx.CallableReward(
            lambda x, y: (y == 2).astype(float), kind="process")),
    }
    for name, kw in runs.items():
        def run(name: str = name, kw: Dict[str, Any] = kw) -> None:
            for nt in (1, 2):
                m = base.copy()
                r = lpgx.post_train(m, task, steps=12, batch_size=48, rng=4, test=test, test_every=4,
                                    track="centres", track_every=3, n_threads=nt, **kw)
                put(f"post/{name}/t{nt}/w", m.w)
                put(f"post/{name}/t{nt}/test_error", r.test_error)
                put(f"post/{name}/t{nt}/tracked", r.tracked_log_lik)
                put(f"post/{name}/t{nt}/queries", r.queries)
                put(f"post/{name}/t{nt}/mean_reward", r.mean_reward)
                put(f"post/{name}/t{nt}/success", r.success)
        attempt(f"post/{name}", run)
    x, ys = task.sample(40, rng=5)
    y = base.sample(x, rng=6)
    for name, kw in {"orm": dict(reward="outcome"), "prm": dict(reward="process", baseline=True),
                     "sup": dict(reward=None)}.items():
        m = base.copy()
        r = lpgx.pg_step(m, x, ys, y, optimizer=lpgx.Adagrad(lr=0.2), rng=1, **kw)
        put(f"pg_step/{name}/w", m.w)
        put(f"pg_step/{name}/mean_reward", r)


def figure1_quick() -> None:
    r = lpgx.experiments.figure1(quick=True, seed=0, plot=False, post_steps=120, pre_steps=100)
    put("figure1/base_centre_log_lik", r.base_centre_log_lik)
    for name, res in r.post.items():
        put(f"figure1/{name}/test_error", res.test_error)
        put(f"figure1/{name}/tracked", res.tracked_log_lik)
        put(f"figure1/{name}/queries", res.queries)


def algorithms() -> None:
    task, base = lpgx.staircase(vocab_size=4, seq_len=5, alphas=[0.3, 1e-2, 1e-4], rng=0)
    lock, ubase = lpgx.combination_lock(vocab_size=3, seq_len=4, num_contexts=3, rng=2)
    tt = lpgx.TeacherTask(6, 4, 6, rng=3)
    runs: Dict[str, Callable[[], Any]] = {
        "sgd": lambda: alg.sgd_adaptive(base.copy(), task, steps=300, eval="all", eval_every=50, rng=1),
        "sgd_const": lambda: alg.sgd_adaptive(base.copy(), task, steps=300, step=lpgx.SGD(0.2), eval="all", rng=1),
        "pg_outcome": lambda: alg.pg_outcome(base.copy(), task, base, steps=400, eval="all", eval_every=40, rng=2),
        "alg1": lambda: alg.pg_outcome_multi(base.copy(), task, base, steps=300, m=50, eval="all", eval_every=30,
                                             eps=0.2, rng=3),
        "alg2": lambda: alg.pg_process(ubase.copy(), lock, ubase, steps=200, m=20, eval="all", eval_every=20, rng=4),
        "alg2_resample": lambda: alg.pg_process(ubase.copy(), lock, ubase, steps=200, m=20, resample=True,
                                                eval="all", rng=4),
        "online": lambda: alg.online_pg(lpgx.LinearARModel(3, 4, 3, blocks=("context_position",)), lock,
                                        steps=500, rng=5, eval="all", eval_every=100),
        "random_iterate": lambda: alg.pg_outcome_multi(base.copy(), task, base, steps=100, m=10, eval="all",
                                                       iterate="random", rng=6),
        "teacher_task_alg2": lambda: alg.pg_process(lpgx.LinearARModel(4, 6, 6), tt,
                                                    lpgx.LinearARModel(4, 6, 6), steps=50, m=8, rng=7),
    }
    for name, fn in runs.items():
        def run(name: str = name, fn: Callable[[], Any] = fn) -> None:
            r = fn()
            put(f"alg/{name}/queries", r.queries)
            put(f"alg/{name}/success", r.success)
            put(f"alg/{name}/eval", r.eval_log_lik)
            put(f"alg/{name}/mistakes", r.expected_mistakes)
            put(f"alg/{name}/sample_mistakes", r.sample_mistakes)
            put(f"alg/{name}/target", -1 if r.target_step is None else r.target_step)
        attempt(f"alg/{name}", run)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--compare", help="a fingerprint to compare with; exits 1 on any difference")
    a = ap.parse_args()
    for part in (model_kernels, training, figure1_quick, algorithms):
        attempt(part.__name__, part)
    with open(a.out, "w") as f:
        json.dump(OUT, f, indent=1, sort_keys=True)
    print(f"{len(OUT)} entries -> {a.out}")
    if not a.compare:
        return 0
    with open(a.compare) as f:
        old = json.load(f)
    diff = sorted(k for k in set(old) | set(OUT) if old.get(k) != OUT.get(k))
    for k in diff:
        print(f"DIFF {k}: before {old.get(k)}  after {OUT.get(k)}")
    print(f"{len(diff)} of {len(set(old) | set(OUT))} entries differ")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
