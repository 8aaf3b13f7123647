"""Training loops (theory §6.1–6.3) against numpy reference steps computed from the formulas."""
import numpy as np
import pytest

import lpgx
import reference as ref
from cases import random_model

K, N, D = 3, 4, 2
BLOCKS = ("context", "prev_token")


def small_problem(B=5, seed=0):
    rng = np.random.default_rng(seed)
    m, x = random_model(rng, 0.5, B, K, N, D)
    y_star = rng.integers(0, K, (B, N))
    y = y_star.copy()
    y[1, 2:] = (y[1, 2:] + 1) % K   # first error at 2
    y[2, 0] = (y[2, 0] + 1) % K     # first error at 0
    y[3, 3] = (y[3, 3] + 2) % K     # first error at 3; rows 0 and 4 correct
    return m, x, y_star, y


def adagrad_ref(w, G, count, lr, acc, eps=1e-10):
    g = -G / count
    acc = acc + g * g
    return w - lr * g / (np.sqrt(acc) + eps), acc


@pytest.mark.parametrize("kind, baseline", [("outcome", True), ("outcome", False), ("process", False),
                                            ("process", True)])
def test_pg_step_matches_formula(kind, baseline):
    m, x, y_star, y = small_problem()
    B = x.shape[0]
    first = np.array([N, 2, 0, 3, N])
    if kind == "outcome":
        r = np.where(first == N, 1.0, -1.0)
        A = np.repeat((r - r.mean() if baseline else r)[:, None], N, 1)
    else:
        r = np.where(np.arange(N)[None, :] < first[:, None], 1.0, -1.0)
        A = r - r.mean(0) if baseline else r
    G = ref.grad(K, N, D, BLOCKS, m.w, x, y, A)
    want, acc = adagrad_ref(m.w, G, B * N, 0.1, np.zeros(m.num_params))
    opt = lpgx.Adagrad(lr=0.1)
    reward = lpgx.OutcomeReward() if kind == "outcome" else lpgx.ProcessReward()
    mean_r = lpgx.pg_step(m, x, y_star, y, reward=reward, optimizer=opt, baseline=baseline)
    np.testing.assert_allclose(m.w, want, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(opt.state, acc, rtol=1e-10, atol=1e-16)
    assert mean_r == pytest.approx(r.mean())
    assert reward.queries == B


def test_prm_advantages_hand_made_batch():
    # Two sequences, N=4: correct, and wrong from position 1. PRM (1, 0) values, no baseline:
    # A = [[1,1,1,1],[1,0,0,0]]; with baseline: minus per-position mean [1, .5, .5, .5].
    m = lpgx.LinearARModel(K, N, D)
    m.w = np.linspace(-1, 1, m.num_params)
    x = np.array([[1.0, -0.5], [0.3, 2.0]])
    y_star = np.array([[0, 1, 2, 0], [2, 2, 1, 0]])
    y = np.array([[0, 1, 2, 0], [2, 0, 1, 0]])
    for baseline, A in ((False, [[1, 1, 1, 1], [1, 0, 0, 0]]),
                        (True, [[0, .5, .5, .5], [0, -.5, -.5, -.5]])):
        mm = m.copy()
        lpgx.pg_step(mm, x, y_star, y, reward=lpgx.ProcessReward(values=(1, 0)), optimizer=lpgx.SGD(lr=1.0),
                     baseline=baseline)
        G = ref.grad(K, N, D, BLOCKS, m.w, x, y, np.array(A, dtype=float))
        np.testing.assert_allclose(mm.w, m.w + G / (2 * N), rtol=1e-12, atol=1e-14)


def test_adagrad_two_steps_and_adaptive_step():
    m, x, y_star, _ = small_problem()
    w0 = m.w.copy()
    opt = lpgx.Adagrad(lr=0.3)
    lpgx.pg_step(m, x, y_star, y_star, reward=None, optimizer=opt)
    G1 = ref.grad(K, N, D, BLOCKS, w0, x, y_star, np.ones(y_star.shape))
    w1, acc = adagrad_ref(w0, G1, y_star.size, 0.3, np.zeros_like(w0))
    lpgx.pg_step(m, x, y_star, y_star, reward=None, optimizer=opt)
    G2 = ref.grad(K, N, D, BLOCKS, w1, x, y_star, np.ones(y_star.shape))
    w2, acc = adagrad_ref(w1, G2, y_star.size, 0.3, acc)
    np.testing.assert_allclose(m.w, w2, rtol=1e-10)
    # the paper's adaptive step: w + G/(4 + 2|G|^2), G summed over the batch
    m2 = lpgx.LinearARModel(K, N, D, w=w0)
    lpgx.pg_step(m2, x[:1], y_star[:1], y_star[:1], reward=None, optimizer=lpgx.AdaptiveStep())
    G = ref.grad(K, N, D, BLOCKS, w0, x[:1], y_star[:1], np.ones((1, N)))
    np.testing.assert_allclose(m2.w, w0 + G / (4 + 2 * G @ G), rtol=1e-12)


def teacher_task(seed=0, inputs="mixture"):
    return lpgx.TeacherTask(8, 4, 6, inputs=inputs, num_mix=8, sigma=0.1, rng=seed)


def test_pretrain_learns_small_task():
    task = teacher_task()
    m = lpgx.LinearARModel(4, 6, 8)
    res = lpgx.pretrain(m, task, steps=300, batch_size=128, optimizer=lpgx.Adagrad(lr=0.5), rng=1, test=512,
                        test_every=100)
    assert list(res.test_steps) == [0, 100, 200, 300]
    assert res.test_error[0] == pytest.approx(1 - 4.0 ** -6)
    assert res.test_error[-1] < 0.05
    assert np.all(res.queries == 0) and res.steps_done == 300


@pytest.mark.parametrize("reward", ["outcome", "process"])
def test_runs_identical_across_threads(reward):
    task = teacher_task(inputs="rademacher")
    runs = []
    for nt in (1, 2):
        m = lpgx.LinearARModel(4, 6, 8)
        lpgx.pretrain(m, task, steps=20, batch_size=64, rng=3, n_threads=nt)
        res = lpgx.post_train(m, task, reward=reward, steps=15, batch_size=64, rng=4, test=100, test_every=5,
                              track=task.sample(7, rng=0), n_threads=nt)
        runs.append((m.w.copy(), res))
    (w1, r1), (w2, r2) = runs
    assert np.array_equal(w1, w2)
    for name in ("test_error", "tracked_log_lik", "queries", "mean_reward", "success"):
        assert np.array_equal(getattr(r1, name), getattr(r2, name)), name


@pytest.mark.parametrize("make_reward, baseline", [
    (lambda: lpgx.OutcomeReward(), True), (lambda: lpgx.OutcomeReward(), False),
    (lambda: lpgx.OutcomeReward(values=(1, 0)), True), (lambda: lpgx.OutcomeReward(flip_prob=0.3), True),
    (lambda: lpgx.ProcessReward(), False), (lambda: lpgx.ProcessReward(values=(1, 0), flip_prob=0.2), False)])
def test_one_pass_step_equals_two_pass_step(monkeypatch, make_reward, baseline):
    # On-policy steps sample and accumulate the gradient in one pass (cpp/lpgx/step.hpp);
    # the two-pass execution (sample, then rewards, then gradient; checked against the
    # formulas above) must see the same responses, rewards and queries and make the same update.
    task = teacher_task(inputs="mixture")
    base = lpgx.LinearARModel(4, 6, 8)
    lpgx.pretrain(base, task, steps=10, batch_size=64, rng=0)
    runs = []
    for one_pass in (True, False):
        monkeypatch.setattr(lpgx.training, "_ONE_PASS", one_pass)
        m, reward = base.copy(), make_reward()
        res = lpgx.post_train(m, task, reward=reward, steps=1, batch_size=200, baseline=baseline, rng=5,
                              optimizer=lpgx.SGD(lr=1.0))  # the update is the gradient itself
        runs.append((m.w - base.w, res, reward.queries))
    (d1, r1, q1), (d2, r2, q2) = runs
    assert q1 == q2 == 200
    for name in ("queries", "mean_reward", "success"):
        assert np.array_equal(getattr(r1, name), getattr(r2, name)), name
    np.testing.assert_allclose(d1, d2, rtol=1e-11, atol=1e-14 * np.abs(d2).max())
    assert np.abs(d1).max() > 0


def test_query_counts():
    task = teacher_task()
    m = lpgx.LinearARModel(4, 6, 8)
    rew = lpgx.OutcomeReward()
    res = lpgx.post_train(m, task, reward=rew, steps=7, batch_size=10, rng=0)
    np.testing.assert_array_equal(res.queries, 10 * np.arange(1, 8))
    assert rew.queries == 70
    # best-of-m under the PRM with a policy certain of y*: exactly one query per token
    sure = task.teacher.copy()
    sure.w = sure.w * 1e3
    res = lpgx.post_train(sure, task, reward="process", steps=3, batch_size=10, optimizer=lpgx.SGD(lr=0.0),
                          behavior=lpgx.Behavior.best_of_m(5), rng=0)
    np.testing.assert_array_equal(res.queries, 10 * 6 * np.arange(1, 4))
    assert np.all(res.success == 1.0)
    # ... and with a policy certain of a wrong first token: m queries, then off track
    wrong = lpgx.LinearARModel(4, 6, 8)
    wrong.block("context")[:] = -1e3 * task.teacher.block("context")
    res = lpgx.post_train(wrong, task, reward="process", steps=2, batch_size=10, optimizer=lpgx.SGD(lr=0.0),
                          behavior=lpgx.Behavior.best_of_m(5), rng=0)
    np.testing.assert_array_equal(res.queries, 10 * 5 * np.arange(1, 3))


def test_tracking_and_records():
    task = teacher_task()
    m = lpgx.LinearARModel(4, 6, 8)
    res = lpgx.post_train(m, task, steps=10, batch_size=16, rng=0, track="centres", track_every=4, test=50,
                          test_every=3)
    assert list(res.track_steps) == [0, 4, 8, 10] and list(res.test_steps) == [0, 3, 6, 9, 10]
    cx, cy = task.centres()
    np.testing.assert_allclose(res.tracked_log_lik[-1], m.log_prob(cx, cy), rtol=1e-12)
    assert res.tracked_log_lik[0] == pytest.approx(np.full(8, -6 * np.log(4)))
    df = res.to_pandas()
    assert len(df) == 11 and "test_error" in df


def test_callable_reward_matches_builtin():
    task = teacher_task()
    fn = lambda x, y: np.where((y == task.correct(x)).all(1), 1.0, -1.0)  # noqa: E731
    m1, m2 = lpgx.LinearARModel(4, 6, 8), lpgx.LinearARModel(4, 6, 8)
    r1 = lpgx.post_train(m1, task, reward="outcome", steps=5, batch_size=32, rng=9)
    cr = lpgx.CallableReward(fn, kind="outcome")
    r2 = lpgx.post_train(m2, task, reward=cr, steps=5, batch_size=32, rng=9, baseline=True)
    assert np.array_equal(m1.w, m2.w) and np.array_equal(r1.queries, r2.queries)
    assert cr.queries == 5 * 32


def test_failing_callable_keeps_last_completed_step():
    task = teacher_task()
    calls = []

    def fn(x, y):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("verifier crashed")
        return np.ones(len(x))
    m = lpgx.LinearARModel(4, 6, 8)
    with pytest.raises(RuntimeError, match="verifier crashed") as info:
        lpgx.post_train(m, task, reward=lpgx.CallableReward(fn), steps=10, batch_size=8, rng=1)
    assert info.value.partial_result.steps_done == 3
    ref_m = lpgx.LinearARModel(4, 6, 8)
    lpgx.post_train(ref_m, task, reward=lpgx.CallableReward(lambda x, y: np.ones(len(x))), steps=3,
                    batch_size=8, rng=1)
    assert np.array_equal(m.w, ref_m.w)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        lpgx.post_train(m, task, reward=lpgx.CallableReward(lambda x, y: np.ones((len(x), 2))), steps=2,
                        batch_size=8, rng=1)
    with pytest.raises(ValueError, match="NaN"):
        lpgx.post_train(m, task, reward=lpgx.CallableReward(lambda x, y: np.full(len(x), np.nan)), steps=2,
                        batch_size=8, rng=1)


def test_interrupt_keeps_consistent_model():
    task = teacher_task()

    def stop_at_5(step):
        if step == 5:
            raise KeyboardInterrupt
    m = lpgx.LinearARModel(4, 6, 8)
    with pytest.raises(KeyboardInterrupt) as info:
        lpgx.post_train(m, task, steps=50, batch_size=16, rng=2, progress=stop_at_5)
    assert info.value.partial_result.steps_done == 5
    ref_m = lpgx.LinearARModel(4, 6, 8)
    lpgx.post_train(ref_m, task, steps=5, batch_size=16, rng=2)
    assert np.array_equal(m.w, ref_m.w)


@pytest.mark.parametrize("behavior", ["uniform", "teacher_forcing", "eps", "frozen", "seq", "token"])
def test_behaviours_run_and_frozen_samples_are_base_samples(behavior):
    task = teacher_task()
    base = lpgx.LinearARModel(4, 6, 8)
    lpgx.pretrain(base, task, steps=30, batch_size=64, rng=0)
    beh = {"uniform": "uniform", "teacher_forcing": "teacher_forcing", "eps": lpgx.Behavior.eps_mixture(0.2),
           "frozen": lpgx.Behavior.frozen(base), "seq": lpgx.Behavior.base_uniform(base),
           "token": lpgx.Behavior.base_uniform(base, per="token")}[behavior]
    m = base.copy()
    res = lpgx.post_train(m, task, steps=20, batch_size=64, behavior=beh, rng=1)
    assert np.all(np.isfinite(m.w)) and res.steps_done == 20
    if behavior == "teacher_forcing":
        assert np.all(res.success == 1.0)


def test_bad_arguments():
    task = teacher_task()
    m = lpgx.LinearARModel(4, 6, 8)
    with pytest.raises(ValueError, match="task has"):
        lpgx.pretrain(lpgx.LinearARModel(4, 5, 8), task, steps=1)
    with pytest.raises(ValueError, match="reward"):
        lpgx.post_train(m, task, reward="banana", steps=1)
    with pytest.raises(ValueError, match="behavior"):
        lpgx.post_train(m, task, behavior="frozen", steps=1)
    with pytest.raises(ValueError, match="best_of_m"):
        lpgx.post_train(m, task, reward="outcome", behavior=lpgx.Behavior.best_of_m(2), steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        lpgx.post_train(m, task, batch_size=0, steps=1)
    with pytest.raises(TypeError, match="optimizer"):
        lpgx.post_train(m, task, optimizer=3, steps=1)
    with pytest.raises(TypeError, match="task"):
        lpgx.post_train(m, "task", steps=1)
