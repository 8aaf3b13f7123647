"""Determinism (issue 6, part 3).

Same rng -> bitwise-identical samples, measures, training histories (pretrain/post_train
records and final w), algorithm results and experiment artifacts (figure1 arrays), for
n_threads 1, 2 and 4, across repeated calls and across processes (a subprocess with other
OMP_NUM_THREADS / PYTHONHASHSEED computes the same SHA-256 of every array), and whatever the
memory alignment of the inputs.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import lpgx
from lpgx import algorithms

THREADS = (1, 2, 4)


def sha(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str(a.dtype).encode() + repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _train_hash(res, model):
    return sha(res.test_steps, res.test_error, res.track_steps, res.tracked_log_lik, res.queries, res.mean_reward,
               res.success, np.array([res.steps_done]), model.w)


def _algo_hash(res, model):
    return sha(res.queries, res.success, res.eval_steps, res.eval_log_lik, res.expected_mistakes,
               res.sample_mistakes, np.array([-1 if res.target_step is None else res.target_step, res.steps_done]),
               model.w)


def _prm_verifier(x, y):
    return np.cumprod(y % 2 == 0, axis=1).astype(float)


def workload(nt):
    """SHA-256 of everything rng-driven that lpgx computes, at n_threads=nt."""
    out = {}
    task = lpgx.TeacherTask(6, 5, 9, inputs="mixture", num_mix=8, sigma=0.3, rng=11)
    rad = lpgx.TeacherTask(6, 5, 9, rng=12)
    model = lpgx.LinearARModel(5, 9, 6, blocks=lpgx.BLOCKS)
    model.w = 0.4 * np.random.default_rng(13).standard_normal(model.num_params)
    x, ys = task.sample(40, rng=14, n_threads=nt)
    out["task.sample"] = sha(x, ys)
    out["task.sample_margin"] = sha(*rad.sample(30, rng=15, min_margin=0.02, n_threads=nt))
    out["sample_inputs"] = sha(*task.sample_inputs(50, rng=16, n_threads=nt))
    y, logp = model.sample(x, rng=17, return_log_prob=True, n_threads=nt)
    out["sample"] = sha(y, logp)
    out["sample_generator"] = sha(model.sample(x, rng=np.random.default_rng(18), n_threads=nt))
    out["greedy"] = sha(model.greedy(x, n_threads=nt))
    out["token_log_prob"] = sha(model.token_log_prob(x, ys, n_threads=nt))
    wts = np.random.default_rng(19).standard_normal((40, 9))
    out["grad"] = sha(*model.grad_log_prob(x, y, weights=wts, return_log_prob=True, n_threads=nt))
    big_x = np.random.default_rng(20).standard_normal((300, 6))  # several gradient chunks
    big_y = model.sample(big_x, rng=21, n_threads=nt)
    out["grad_big"] = sha(model.grad_log_prob(big_x, big_y, n_threads=nt))
    out["mc_hits"] = sha(lpgx.mc_hits(model, x, ys, 9, rng=22, n_threads=nt))
    mg = lpgx.margins(model, x, ys, n_threads=nt)
    out["margins"] = sha(mg.margin, mg.gap, np.array([mg.R, mg.w_norm]))
    out["measures"] = sha(np.array([lpgx.sequence_error(model, x, ys, n_threads=nt)]),
                          lpgx.likelihood_quantile(model, x, ys, [0.1, 0.5], log=True, n_threads=nt),
                          lpgx.coverage(model, x, ys, [1e-9, 1e-3], n_threads=nt))

    base = lpgx.LinearARModel(5, 9, 6)
    lpgx.pretrain(base, task, 15, 32, rng=23, n_threads=nt)
    runs = {
        "pretrain": dict(fn=lpgx.pretrain, kw=dict(steps=10, batch_size=32, test=16, test_every=3, track="centres")),
        "post_orm": dict(fn=lpgx.post_train, kw=dict(steps=8, batch_size=32, test=(x, ys), test_every=2,
                                                     track="centres")),
        "post_prm_sgd": dict(fn=lpgx.post_train, kw=dict(reward="process", steps=8, batch_size=32,
                                                         optimizer=lpgx.SGD(lr=0.5))),
        "post_noisy": dict(fn=lpgx.post_train, kw=dict(reward=lpgx.OutcomeReward(flip_prob=0.2), steps=6,
                                                       batch_size=32, baseline=False)),
        "post_eps_mix": dict(fn=lpgx.post_train, kw=dict(steps=6, batch_size=32,
                                                         behavior=lpgx.Behavior.eps_mixture(0.3))),
        "post_best_of_m": dict(fn=lpgx.post_train, kw=dict(reward="process", steps=6, batch_size=32,
                                                           behavior=lpgx.Behavior.best_of_m(3))),
        "post_base_token": dict(fn=lpgx.post_train, kw=dict(steps=6, batch_size=32, optimizer="adaptive",
                                                            behavior=lpgx.Behavior.base_uniform(base, 0.5, "token"))),
        "post_callable": dict(fn=lpgx.post_train, kw=dict(reward=lpgx.CallableReward(_prm_verifier, kind="process"),
                                                          steps=6, batch_size=32)),
    }
    for name, r in runs.items():
        m = base.copy()
        res = r["fn"](m, task, rng=24, n_threads=nt, **r["kw"])
        out[name] = _train_hash(res, m)
    m = base.copy()
    out["pg_step"] = sha(np.array([lpgx.pg_step(m, x, ys, y, reward=lpgx.ProcessReward(flip_prob=0.3), rng=25,
                                                n_threads=nt)]), m.w)

    lock, q0 = lpgx.combination_lock(3, 4, 6, alphas=np.geomspace(0.5, 1e-3, 6), rng=26)
    algo_runs = {
        "sgd": lambda m: algorithms.sgd_adaptive(m, lock, 30, eval="all", rng=27, n_threads=nt),
        "pg_outcome": lambda m: algorithms.pg_outcome(m, lock, q0, 30, eval="all", rng=27, n_threads=nt),
        "pg_outcome_multi": lambda m: algorithms.pg_outcome_multi(m, lock, q0, 30, m=5, eval="all", eps=0.05,
                                                                  rng=27, n_threads=nt),
        "pg_process": lambda m: algorithms.pg_process(m, lock, q0, 30, m=4, resample=True, eval="all", rng=27,
                                                      n_threads=nt),
        "online": lambda m: algorithms.online_pg(m, lock, 30, mix=0.7, eval="all", iterate="random", rng=27,
                                                 n_threads=nt),
    }
    for name, run in algo_runs.items():
        m = lpgx.LinearARModel(3, 4, 6, blocks=("context_position",))
        out["algo_" + name] = _algo_hash(run(m), m)

    with tempfile.TemporaryDirectory() as d:
        lpgx.experiments.figure1(out=d, quick=True, plot=False, seq_len=16, pre_steps=20, post_steps=20,
                                 post_batch=64, test_size=64, n_threads=nt)
        with np.load(os.path.join(d, "figure1.npz")) as f:
            for name in sorted(f.files):
                if name != "__meta__":  # the metadata holds wall times
                    out["figure1/" + name] = sha(f[name])
    return out


@pytest.fixture(scope="module")
def reference():
    return workload(1)


@pytest.mark.parametrize("nt", [2, 4])
def test_thread_count_never_changes_a_bit(reference, nt):
    got = workload(nt)
    assert got.keys() == reference.keys()
    diff = [k for k in reference if got[k] != reference[k]]
    assert not diff, f"n_threads={nt} changed: {diff}"


def test_repeated_calls_are_identical(reference):
    assert workload(1) == reference


@pytest.mark.parametrize("nt, env", [(1, {"OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "123"}),
                                     (4, {"OMP_NUM_THREADS": "3", "PYTHONHASHSEED": "0"})])
def test_identical_across_processes(reference, nt, env):
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import test_determinism as t; "
            "print(json.dumps(t.workload(int(sys.argv[2]))))")
    r = subprocess.run([sys.executable, "-c", code, os.path.dirname(__file__), str(nt)], capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, **env))
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    diff = [k for k in reference if got.get(k) != reference[k]]
    assert not diff, f"another process (n_threads={nt}, {env}) changed: {diff}"


def test_default_thread_count_is_deterministic(reference):
    """n_threads=None (all cores) gives the same bits as any explicit count."""
    task = lpgx.TeacherTask(6, 5, 9, inputs="mixture", num_mix=8, sigma=0.3, rng=11)
    x, ys = task.sample(40, rng=14)
    assert sha(x, ys) == reference["task.sample"]


def test_figure1_results_in_memory_match_across_threads():
    kw = dict(quick=True, plot=False, seq_len=16, pre_steps=20, post_steps=20, post_batch=64, test_size=64)
    results = [lpgx.experiments.figure1(n_threads=nt, **kw) for nt in THREADS]
    for r in results[1:]:
        np.testing.assert_array_equal(r.base_centre_log_lik, results[0].base_centre_log_lik)
        for name in ("outcome", "process"):
            a, b = results[0].post[name], r.post[name]
            for f in ("test_steps", "test_error", "track_steps", "tracked_log_lik", "queries", "mean_reward",
                      "success"):
                np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f"{name}.{f}")


def test_equivalent_rng_forms_agree():
    """An int seed, a fresh Generator and a SeedSequence with that seed are the same stream;
    a Generator reused advances (one draw per call)."""
    m = lpgx.LinearARModel(4, 7, 3, w=np.linspace(-2, 2, 28))
    x = np.random.default_rng(0).standard_normal((20, 3))
    a = m.sample(x, rng=5)
    assert (m.sample(x, rng=np.random.default_rng(5)) == a).all()
    assert (m.sample(x, rng=np.random.SeedSequence(5)) == a).all()
    assert (m.sample(x, rng=np.uint64(5)) == a).all()
    g = np.random.default_rng(5)
    first, second = m.sample(x, rng=g), m.sample(x, rng=g)
    assert (first == a).all() and not (second == a).all()


def test_alignment_and_layout_never_change_a_bit():
    """The engine copies x and w to aligned storage: an input at any byte offset, Fortran
    order or strides gives the same bits."""
    m = lpgx.LinearARModel(5, 8, 7, blocks=lpgx.BLOCKS)
    m.w = np.random.default_rng(1).standard_normal(m.num_params)
    x0 = np.random.default_rng(2).standard_normal((33, 7))
    y = m.sample(x0, rng=3)
    ref = (m.log_prob(x0, y), m.grad_log_prob(x0, y), m.sample(x0, rng=4), m.greedy(x0))
    buf = np.zeros(x0.size * 2 + 16)
    for off in range(1, 8):  # 8-byte steps: every alignment mod 64
        xa = buf[off: off + x0.size].reshape(x0.shape)
        xa[...] = x0
        assert xa.ctypes.data % 64 == (buf.ctypes.data + 8 * off) % 64
        for xv in (xa, np.asfortranarray(xa), np.repeat(xa, 2, axis=1)[:, ::2]):
            got = (m.log_prob(xv, y), m.grad_log_prob(xv, y), m.sample(xv, rng=4), m.greedy(xv))
            for g, r in zip(got, ref):
                assert np.array_equal(g, r)
