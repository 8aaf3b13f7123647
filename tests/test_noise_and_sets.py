"""Noisy rewards, correct sets with many answers, imperfect process rewards (theory §4, §5):
verdicts against numpy formulas, noise rates by binomial tests with fixed seeds, set likelihoods
against brute-force enumeration, and unchanged results without noise."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

import lpgx
from lpgx import algorithms, correct_sets
from cases import random_model


def responses(n, N, k, seed, p_wrong=0.5):
    """y* and responses whose first error is uniform over 0..N−1, or none."""
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, k, (n, N))
    y = ys.copy()
    first = np.where(rng.random(n) < p_wrong, rng.integers(0, N, n), N)
    for j in np.flatnonzero(first < N):
        e = first[j]
        y[j, e] = (y[j, e] + rng.integers(1, k)) % k
        y[j, e + 1:] = rng.integers(0, k, N - e - 1)
    return y.astype(np.int32), ys.astype(np.int32), first


# ---- noise ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fp, fn", [(0.2, 0.0), (0.0, 0.3), (0.1, 0.25)])
def test_one_sided_noise_rates(fp, fn):
    y, ys, first = responses(20000, 6, 4, 0)
    r = lpgx.OutcomeReward(values=(1, 0), false_positive=fp, false_negative=fn)(y, ys, rng=1)
    right, wrong = first == 6, first < 6
    for truth, rate, said in ((right, fn, r[right] == 0), (wrong, fp, r[wrong] == 1)):
        test = stats.binomtest(int(said.sum()), int(truth.sum()), rate) if 0 < rate < 1 else None
        if test is None:
            assert said.sum() == (0 if rate == 0 else truth.sum())
        else:
            assert test.pvalue > 1e-3, (rate, said.mean())


def test_prm_noise_is_per_prefix():
    y, ys, first = responses(5000, 8, 3, 1)
    r = lpgx.ProcessReward(values=(1, 0), false_negative=0.2, false_positive=0.1)(y, ys, rng=2)
    truth = np.arange(8)[None, :] < first[:, None]
    said_wrong_of_right = (r[truth] == 0).sum()
    said_right_of_wrong = (r[~truth] == 1).sum()
    assert stats.binomtest(int(said_wrong_of_right), int(truth.sum()), 0.2).pvalue > 1e-3
    assert stats.binomtest(int(said_right_of_wrong), int((~truth).sum()), 0.1).pvalue > 1e-3


def test_prm_error_position_jitter_is_uniform():
    N, j = 20, 3
    y, ys, first = responses(30000, N, 4, 3, p_wrong=1.0)
    keep = (first >= j) & (first < N - j)  # no clamping at the ends
    r = lpgx.ProcessReward(values=(1, 0), jitter=j)(y[keep], ys[keep], rng=4)
    reported = np.where((r == 0).any(1), (r == 0).argmax(1), N)
    shift = reported - first[keep]
    counts = np.bincount(shift + j, minlength=2 * j + 1)
    assert len(counts) == 2 * j + 1
    assert stats.chisquare(counts).pvalue > 1e-3, counts
    # correct responses are reported correct
    ok = lpgx.ProcessReward(values=(1, 0), jitter=j)(ys[:50], ys[:50], rng=5)
    assert (ok == 1).all()


def test_short_sighted_prm_judges_the_window():
    N, w = 10, 3
    y, ys, first = responses(500, N, 3, 5)
    r = lpgx.ProcessReward(values=(1, 0), window=w)(y, ys, rng=0)
    miss = y != ys
    want = np.array([[not miss[b, max(0, i - w + 1): i + 1].any() for i in range(N)] for b in range(len(y))])
    np.testing.assert_array_equal(r == 1, want)


def test_symmetric_rates_equal_flip_prob_bitwise():
    task = lpgx.TeacherTask(6, 4, 8, rng=0)
    runs = []
    for reward in (lpgx.OutcomeReward(flip_prob=0.2), lpgx.OutcomeReward(false_positive=0.2, false_negative=0.2),
                   lpgx.ProcessReward(flip_prob=0.1), lpgx.ProcessReward(false_positive=0.1, false_negative=0.1,
                                                                        jitter=0, window=0,
                                                                        correct=lpgx.CorrectSet())):
        m = lpgx.LinearARModel(4, 8, 6)
        lpgx.post_train(m, task, reward=reward, steps=4, batch_size=32, rng=1)
        runs.append(m.w.copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[2], runs[3])


def test_query_counts_stay_exact_under_noise():
    task = lpgx.TeacherTask(6, 4, 8, rng=0)
    for reward in (lpgx.OutcomeReward(false_positive=0.3), lpgx.ProcessReward(false_negative=0.2, jitter=2)):
        res = lpgx.post_train(lpgx.LinearARModel(4, 8, 6), task, reward=reward, steps=5, batch_size=12, rng=0)
        np.testing.assert_array_equal(res.queries, 12 * np.arange(1, 6))
    # a PRM that rejects everything: best-of-m spends m queries at the first token, then stops
    res = lpgx.post_train(lpgx.LinearARModel(4, 8, 6), task, reward=lpgx.ProcessReward(false_negative=1.0),
                          behavior=lpgx.Behavior.best_of_m(5), steps=3, batch_size=10, rng=0)
    np.testing.assert_array_equal(res.queries, 50 * np.arange(1, 4))
    # ... and the algorithms: 1 + m queries per step when every verdict is "wrong"
    lock, base = lpgx.combination_lock(3, 5, 2, rng=0)
    for run, reward in ((algorithms.pg_outcome_multi, lpgx.OutcomeReward(false_negative=1.0)),
                        (algorithms.pg_process, lpgx.ProcessReward(false_negative=1.0))):
        r = run(base.copy(), lock, base, steps=7, m=4, reward=reward, rng=0)
        np.testing.assert_array_equal(r.queries, 5 * np.arange(1, 8))
        assert reward.queries == 35 and not r.success.any()


def test_algorithms_refuse_the_wrong_reward():
    lock, base = lpgx.combination_lock(3, 5, 2, rng=0)
    with pytest.raises(ValueError, match="process reward"):
        algorithms.pg_process(base.copy(), lock, base, steps=1, m=2, reward=lpgx.OutcomeReward())
    with pytest.raises(ValueError, match="not both"):
        algorithms.pg_outcome(base.copy(), lock, base, steps=1, reward=lpgx.OutcomeReward(), flip_prob=0.1)


# ---- correct sets --------------------------------------------------------------------------------

def test_set_verdicts_match_the_rule():
    N = 8
    y, ys, _ = responses(400, N, 3, 7)
    for correct in (lpgx.CorrectSet(positions=[-1]), lpgx.CorrectSet(tolerance=2),
                    lpgx.CorrectSet(positions=[0, 3, 5], tolerance=1)):
        cols = correct.checked(N) or list(range(N))
        mask = np.zeros(N, bool)
        mask[cols] = True
        miss = np.cumsum((y != ys) & mask, axis=1)
        out = lpgx.OutcomeReward(values=(1, 0), correct=correct)(y, ys)
        np.testing.assert_array_equal(out == 1, miss[:, -1] <= correct.tolerance)
        pro = lpgx.ProcessReward(values=(1, 0), correct=correct)(y, ys)
        np.testing.assert_array_equal(pro == 1, miss <= correct.tolerance)


def enumerate_set(model, x, answers, correct):
    k, N = model.vocab_size, model.seq_len
    all_y = np.array(list(itertools.product(range(k), repeat=N)), dtype=np.int32)
    out = []
    for b in range(len(x)):
        lp = model.log_prob(np.repeat(x[b:b + 1], len(all_y), 0), all_y)
        inside = correct_sets.in_set(all_y, np.repeat(answers[b:b + 1], len(all_y), 0), correct)
        out.append(np.log(np.exp(lp[inside]).sum()))
    return np.array(out)


@pytest.mark.parametrize("blocks", [("context", "prev_token"), ("context", "prev_token", "position", "bias")])
@pytest.mark.parametrize("correct", [lpgx.CorrectSet(), lpgx.CorrectSet(positions=[-1]),
                                     lpgx.CorrectSet(tolerance=1), lpgx.CorrectSet(positions=[0, 2], tolerance=1)])
def test_set_likelihood_equals_enumeration(blocks, correct):
    rng = np.random.default_rng(0)
    m, x = random_model(rng, 0.8, 4, 3, 5, 2, blocks=blocks)
    ys = rng.integers(0, 3, (4, 5))
    got = correct_sets.set_log_likelihood(m, x, ys, correct)
    np.testing.assert_allclose(got, enumerate_set(m, x, ys[:, None], correct), rtol=1e-12)
    # several answers (duplicates counted once), exact for the single-answer rule
    many = np.stack([ys, rng.integers(0, 3, (4, 5)), ys], 1)
    if correct.is_exact:
        np.testing.assert_allclose(correct_sets.set_log_likelihood(m, x, many, correct),
                                   enumerate_set(m, x, many, correct), rtol=1e-12)


def test_monte_carlo_set_estimate_against_the_exact_value():
    rng = np.random.default_rng(1)
    m, x = random_model(rng, 0.8, 3, 3, 5, 2)
    answers = rng.integers(0, 3, (3, 2, 5))
    correct = lpgx.CorrectSet(tolerance=1)
    exact = np.exp(enumerate_set(m, x, answers, correct))
    n = 40000
    est = np.exp(correct_sets.set_log_likelihood(m, x, answers, correct, n_samples=n, rng=2))
    se = np.sqrt(exact * (1 - exact) / n)
    assert np.all(np.abs(est - exact) < 4 * se), (est, exact)
    with pytest.raises(ValueError, match="n_samples"):
        correct_sets.set_log_likelihood(m, x, answers, correct)


def test_long_sequences_do_not_underflow():
    m = lpgx.LinearARModel(32, 2000, 4)
    x = np.ones((2, 4))
    ys = np.zeros((2, 2000), dtype=int)
    ll = correct_sets.set_log_likelihood(m, x, ys, lpgx.CorrectSet(tolerance=3))
    assert np.all(np.isfinite(ll)) and np.all(ll < -2000 * np.log(32) + 100)
    ll_last = correct_sets.set_log_likelihood(m, x, ys, lpgx.CorrectSet(positions=[-1]))
    np.testing.assert_allclose(ll_last, -np.log(32), rtol=1e-12)  # uniform: only the last token matters


def test_measures_take_a_correct_set():
    task = lpgx.TeacherTask(6, 4, 6, rng=0)
    m = lpgx.LinearARModel(4, 6, 6)
    lpgx.pretrain(m, task, steps=20, batch_size=32, rng=0)
    x, ys = task.sample(64, rng=1)
    wide = lpgx.CorrectSet(tolerance=2)
    assert lpgx.sequence_error(m, x, ys, correct=wide) < lpgx.sequence_error(m, x, ys)
    assert lpgx.likelihood_quantile(m, x, ys, 0.1, correct=wide) >= lpgx.likelihood_quantile(m, x, ys, 0.1)
    q = np.exp(correct_sets.set_log_likelihood(m, x, ys, wide))
    np.testing.assert_allclose(correct_sets.set_pass_at_k(m, x, ys, 4, wide), 1 - (1 - q) ** 4, rtol=1e-12)
    with pytest.raises(ValueError, match="token-level"):
        lpgx.token_likelihood_quantile(m, x, ys, 0.1, correct=wide)


def test_training_with_a_correct_set_reward():
    task = lpgx.TeacherTask(6, 4, 6, rng=0)
    reward = lpgx.OutcomeReward(correct=lpgx.CorrectSet(positions=[-1]))
    m = lpgx.LinearARModel(4, 6, 6)
    res = lpgx.post_train(m, task, reward=reward, steps=3, batch_size=64, rng=0)
    y = m.sample(np.zeros((1, 6)), rng=0)
    assert res.success.max() > 0.2  # a quarter of uniform responses end with the right token
    assert reward.queries == 192 and y.shape == (1, 6)


def test_multi_teacher_task():
    task = lpgx.MultiTeacherTask(6, 4, 5, num_teachers=3, rng=0)
    x, _ = task.sample(50, rng=1)
    ans = task.answers(x)
    assert ans.shape == (50, 3, 5)
    reward = task.reward("outcome", values=(1, 0))
    for t in range(3):
        np.testing.assert_array_equal(reward.fn(x, ans[:, t]), 1.0)
    wrong = (ans[:, 0] + 1) % 4
    np.testing.assert_array_equal(reward.fn(x, wrong), correct_sets.in_set(wrong, ans, lpgx.CorrectSet()))
    prm = task.reward("process", values=(1, 0)).fn(x, ans[:, 1])
    np.testing.assert_array_equal(prm, 1.0)
    res = lpgx.post_train(lpgx.LinearARModel(4, 5, 6), task, reward=reward, steps=2, batch_size=20, rng=0)
    np.testing.assert_array_equal(res.queries, [20, 40])
    import pickle
    back = pickle.loads(pickle.dumps(task))
    np.testing.assert_array_equal(back.answers(x), ans)
