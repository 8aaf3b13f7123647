"""The paper's algorithms (theory §6.4) and planted instances (theory §8)."""
import numpy as np
import pytest

import lpgx
from lpgx import algorithms as alg
import reference as ref


def test_planted_alphas_are_exact():
    k, N = 5, 12
    alphas = np.array([0.9, 0.3, 1e-3, 1e-7, k ** -N * 1.0001, 2e-9])
    task, base = lpgx.staircase(k, N, alphas, masses=np.arange(1, 7), rng=0)
    got = base.log_prob(task.contexts, task.y_star)
    np.testing.assert_allclose(got, np.log(alphas), rtol=1e-9)
    np.testing.assert_allclose(task.masses, np.arange(1, 7) / 21)
    # per-token probability τ = α^{1/N} at every position
    np.testing.assert_allclose(base.token_log_prob(task.contexts, task.y_star), np.log(alphas)[:, None] / N * np.ones(N),
                               rtol=1e-9)
    uniform_task, uniform_base = lpgx.combination_lock(k, N, 3, rng=1)
    np.testing.assert_allclose(uniform_base.log_prob(uniform_task.contexts, uniform_task.y_star), -N * np.log(k),
                               rtol=1e-12)


def test_combination_lock_margin():
    task, _ = lpgx.combination_lock(4, 6, 5, teacher_weight=3.0, rng=2)
    res = lpgx.margins(task.teacher, task.contexts, task.y_star)
    np.testing.assert_allclose(res.margin, 1 / np.sqrt(5 * 6), rtol=1e-12)
    np.testing.assert_array_equal(task.teacher.greedy(task.contexts), task.y_star)
    with pytest.raises(ValueError, match="alphas"):
        lpgx.staircase(4, 6, [0.5, 1.0])


def certain(model, task, sign=1.0):
    """A copy of the task's teacher scaled so the policy is certain of y* (or of not-y*)."""
    m = model.copy()
    m.w = sign * 1e3 * task.teacher.w
    return m


def lock(M=3, N=4, k=3, seed=0):
    task, base = lpgx.combination_lock(k, N, M, rng=seed)
    return task, base


def test_query_counts_on_scripted_outcomes():
    task, base = lock()
    sure, wrong = certain(base, task), certain(base, task, -1.0)
    # the policy is right at once: one query, one success, every step
    r = alg.pg_outcome_multi(sure.copy(), task, base, steps=6, m=4, rng=0)
    np.testing.assert_array_equal(r.queries, np.arange(1, 7))
    assert r.success.all()
    # policy and exploration both certainly wrong (mix = 0): 1 + m queries, no update
    w_before = wrong.w.copy()
    r = alg.pg_outcome_multi(wrong, task, wrong.copy(), steps=5, m=4, mix=0.0, rng=0)
    np.testing.assert_array_equal(r.queries, 5 * np.arange(1, 6))
    assert not r.success.any() and np.array_equal(wrong.w, w_before)
    # policy wrong, exploration right: 2 queries (1 failure, 1 success) per step
    r = alg.pg_outcome_multi(certain(base, task, -1.0), task, sure, steps=5, m=4, mix=0.0, rng=0)
    np.testing.assert_array_equal(r.queries, 2 * np.arange(1, 6))
    assert r.success.all()
    # single-query PG: exactly one query per step, success iff the mixture draw is right
    r = alg.pg_outcome(base.copy(), task, sure, steps=7, mix=0.0, rng=0)
    np.testing.assert_array_equal(r.queries, np.arange(1, 8))
    assert r.success.all()


def test_query_counts_process():
    N, m = 4, 3
    task, base = lock(N=N)
    sure = certain(base, task)
    # wrong at position 0, exploration always right: 1 + N queries, full prefix verified
    r = alg.pg_process(certain(base, task, -1.0), task, sure, steps=4, m=m, mix=0.0, rng=0)
    np.testing.assert_array_equal(r.queries, (1 + N) * np.arange(1, 5))
    assert r.success.all()
    # exploration always wrong: 1 + m queries and no update
    wrong = certain(base, task, -1.0)
    w0 = wrong.w.copy()
    r = alg.pg_process(wrong, task, wrong.copy(), steps=3, m=m, mix=0.0, rng=0)
    np.testing.assert_array_equal(r.queries, (1 + m) * np.arange(1, 4))
    assert np.array_equal(wrong.w, w0)


@pytest.mark.parametrize("seed", range(5))
def test_process_never_exceeds_nm_plus_one_queries(seed):
    N, m = 6, 4
    task, base = lpgx.combination_lock(3, N, 4, alphas=0.05, rng=seed)
    r = alg.pg_process(base.copy(), task, base, steps=300, m=m, rng=seed)
    per_step = np.diff(np.concatenate([[0], r.queries]))
    assert per_step.max() <= N * m + 1 and per_step.min() >= 1


def test_adaptive_step_matches_formula():
    task, base = lpgx.combination_lock(3, 4, 2, alphas=0.2, rng=0)
    x, y = task.contexts, task.y_star
    for j in range(2):  # one step of SGD on whichever context is drawn
        m = base.copy()
        r = alg.sgd_adaptive(m, task, steps=1, rng=j, eval="all")
        changed = [b for b in range(2) if not np.isclose(r.eval_log_lik[1, b], r.eval_log_lik[0, b])]
        b = changed[0]
        G = ref.grad(3, 4, 2, ("context_position",), base.w, x[b:b + 1], y[b:b + 1], np.ones((1, 4)))
        np.testing.assert_allclose(m.w, base.w + G / (4 + 2 * G @ G), rtol=1e-12)
        m2 = base.copy()
        alg.sgd_adaptive(m2, task, steps=1, rng=j, step=lpgx.SGD(lr=0.5))
        np.testing.assert_allclose(m2.w, base.w + 0.5 * G, rtol=1e-12)


def test_random_iterate_is_seeded():
    task, base = lpgx.combination_lock(3, 4, 3, alphas=0.3, rng=0)
    a, b = base.copy(), base.copy()
    ra = alg.sgd_adaptive(a, task, steps=40, iterate="random", rng=5)
    rb = alg.sgd_adaptive(b, task, steps=40, iterate="random", rng=5)
    assert np.array_equal(a.w, b.w) and ra.config["random_iterate"] == rb.config["random_iterate"]
    t = ra.config["random_iterate"]
    c = base.copy()
    # the same generator gives the same trajectory; the snapshot is the iterate after t steps
    gen = np.random.default_rng(5)
    seed = int(gen.integers(0, 2**64, dtype=np.uint64))
    alg.sgd_adaptive(c, task, steps=t, rng=np.random.default_rng(5))
    assert np.array_equal(c.w, a.w)
    assert seed == ra.config["seed"]


def test_target_stops_and_reports_queries():
    task, base = lpgx.combination_lock(4, 5, 2, alphas=0.1, rng=3)
    r = alg.pg_outcome_multi(base.copy(), task, base, steps=100_000, m=50, eval="all", eps=0.1, rng=1)
    assert r.target_step is not None and r.steps_done == r.target_step < 100_000
    assert np.all(r.eval_log_lik[-1] >= np.log(0.9))
    assert r.target_queries == r.queries[-1]


def test_online_mistakes():
    task, _ = lpgx.combination_lock(2, 3, 2, rng=0)
    m = lpgx.LinearARModel(2, 3, 2, blocks=("context_position",))
    r = alg.online_pg(m, task, steps=400, rng=0)
    np.testing.assert_array_equal(r.queries, np.arange(1, 401))
    assert r.expected_mistakes[0] == pytest.approx(1 - 2.0 ** -3)
    assert np.all(np.diff(r.expected_mistakes) >= 0) and np.all(np.diff(r.sample_mistakes) >= 0)
    assert r.expected_mistakes[-1] < 400 * (1 - 2.0 ** -3)  # it learns
    q = np.exp(m.log_prob(task.contexts, task.y_star))
    assert np.all(q > 0.5)


def test_algorithm_bad_arguments():
    task, base = lock()
    m = base.copy()
    with pytest.raises(ValueError, match="eps"):
        alg.pg_outcome_multi(m, task, base, steps=3, m=2, eps=0.1)
    with pytest.raises(ValueError, match="m must be"):
        alg.pg_outcome_multi(m, task, base, steps=3, m=0)
    with pytest.raises(ValueError, match="iterate"):
        alg.sgd_adaptive(m, task, steps=3, iterate="best")
    with pytest.raises(TypeError, match="step"):
        alg.sgd_adaptive(m, task, steps=3, step=lpgx.Adagrad())
    with pytest.raises(ValueError, match="base has shape"):
        alg.pg_outcome(m, task, lpgx.LinearARModel(3, 5, 3), steps=3)
