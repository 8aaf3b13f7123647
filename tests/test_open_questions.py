"""The open-question tools and experiments (docs/open_questions.md): the learned PRM against an
independent optimiser and the exact PRM, noise rates by binomial tests with fixed seeds,
set measures against enumeration, unchanged results without noise, and small runs of
``lpgx noise``, ``lpgx many-answers`` and ``lpgx prm-quality``."""
from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy import optimize, stats

import lpgx
import lpgx.experiments._open
from lpgx import algorithms, cli, correct_sets
from lpgx.experiments import open_many_answers, open_noise, open_prm_quality
from lpgx.experiments._open import mean_ci
from lpgx.learned_prm import LearnedPRM, fit_groups, learn_prm
from cases import random_model


# ---- the learned PRM -------------------------------------------------------------------------

def test_group_fits_match_an_independent_optimiser():
    rng = np.random.default_rng(0)
    n, D, G, lam = 300, 4, 3, 0.05
    X = np.concatenate([rng.standard_normal((n, D - 1)), np.ones((n, 1))], 1)
    g = rng.integers(0, G, n)
    lab = (rng.random(n) < 1 / (1 + np.exp(-X @ np.array([1.0, -2.0, 0.5, 0.3])))).astype(float)
    w = rng.uniform(0.5, 2.0, n) / n
    got = fit_groups(X, g, lab, w, G, lam, iters=3000)
    for j in range(G):
        s = g == j

        def loss(t):
            z = X[s] @ t
            return (w[s] * (np.logaddexp(0, z) - lab[s] * z)).sum() + 0.5 * lam * t @ t
        ref = optimize.minimize(loss, np.zeros(D), method="BFGS", options={"gtol": 1e-12}).x
        np.testing.assert_allclose(got[j], ref, atol=1e-5)


def test_a_group_without_data_stays_at_zero():
    X = np.ones((4, 2))
    got = fit_groups(X, np.array([0, 0, 2, 2]), np.array([1.0, 0, 1, 1]), np.full(4, 0.25), 3, 0.1, 50)
    np.testing.assert_array_equal(got[1], 0.0)


def lock_with_base():
    """A task the learned PRM can represent: one-hot contexts, a base that is right half the time."""
    task, base = lpgx.combination_lock(3, 4, 4, alphas=0.5 ** 4, rng=0)
    model = lpgx.LinearARModel(3, 4, 4, blocks=("context_position",))
    return task, base, model


def test_learned_prm_approaches_the_exact_prm_and_counts_its_labels():
    task, base, _ = lock_with_base()
    x, ys = task.sample(2000, rng=1)
    y = base.sample(x, rng=2)
    truth = np.logical_and.accumulate(y == ys, axis=1)
    reward = lpgx.OutcomeReward(values=(1, 0))
    prm = learn_prm(base, task, 4000, reward=reward, rng=3, iters=400)
    assert reward.queries == 4000 and prm.budget == 4000 and 0 < prm.positives < 4000
    assert (prm.verdicts(x, y) == truth).mean() > 0.97
    small = learn_prm(base, task, 8, rng=3)
    assert prm.agreement(x, y, ys)["accuracy"] > small.agreement(x, y, ys)["accuracy"]
    # the verdicts are the running AND of the token scores, the reward pays its values
    np.testing.assert_array_equal(prm.verdicts(x, y), np.logical_and.accumulate(prm.scores(x, y) >= 0.5, 1))
    r = prm.reward(values=(2.0, -3.0))
    assert r.kind == "process" and r.values == (2.0, -3.0)
    np.testing.assert_array_equal(r.fn(x, y), np.where(prm.verdicts(x, y), 2.0, -3.0))


def test_learned_prm_without_a_correct_sample_rejects_everything():
    task, base = lpgx.combination_lock(4, 6, 2, rng=0)  # uniform base: 4^-6 per context
    prm = learn_prm(base, task, 50, rng=0)
    assert prm.positives == 0
    x, ys = task.sample(20, rng=1)
    assert not prm.verdicts(x, ys).any()


def test_learned_prm_trains_and_refuses_bad_input():
    task, base, model = lock_with_base()
    prm = learn_prm(base, task, 200, rng=0)
    res = lpgx.post_train(model, task, reward=prm.reward(), steps=3, batch_size=16, rng=0)
    np.testing.assert_array_equal(res.queries, [16, 32, 48])
    with pytest.raises(ValueError, match="budget"):
        learn_prm(base, task, 0)
    with pytest.raises(ValueError, match="l2"):
        learn_prm(base, task, 10, l2=0.0)
    with pytest.raises(TypeError, match="reward"):
        learn_prm(base, task, 10, reward=lpgx.ProcessReward())
    with pytest.raises(ValueError, match="coef"):
        LearnedPRM(np.zeros((3, 2)))
    assert lpgx.learn_prm is learn_prm and repr(prm).startswith("LearnedPRM(")


# ---- noise: rates and exact query counts ---------------------------------------------------------

@pytest.mark.parametrize("p", [0.1, 0.3])
def test_symmetric_flip_rates(p):
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 4, (20000, 6)).astype(np.int32)
    y = ys.copy()
    y[::2, 3] = (y[::2, 3] + 1) % 4  # half the responses wrong from position 3
    out = lpgx.OutcomeReward(values=(1, 0), flip_prob=p)(y, ys, rng=5)
    truth = (y == ys).all(1)
    flipped = (out == 1) != truth
    assert stats.binomtest(int(flipped.sum()), len(y), p).pvalue > 1e-3
    pro = lpgx.ProcessReward(values=(1, 0), flip_prob=p)(y, ys, rng=6)
    truth_p = np.logical_and.accumulate(y == ys, axis=1)
    assert stats.binomtest(int(((pro == 1) != truth_p).sum()), truth_p.size, p).pvalue > 1e-3


def test_query_counts_stay_exact_under_symmetric_noise():
    task = lpgx.TeacherTask(6, 4, 8, rng=0)
    for reward in (lpgx.OutcomeReward(flip_prob=0.3), lpgx.ProcessReward(flip_prob=0.3, window=2)):
        res = lpgx.post_train(lpgx.LinearARModel(4, 8, 6), task, reward=reward, steps=4, batch_size=10, rng=0)
        np.testing.assert_array_equal(res.queries, 10 * np.arange(1, 5))
        assert reward.queries == 40
    # Algorithm 1 under noise: 1 + (draws until the first accepted one, at most m) per step;
    # with p = 1/2 every verdict is a fair coin, so a step costs 1 + Geometric(1/2) capped at m
    lock, base = lpgx.combination_lock(3, 5, 1, rng=0)
    reward = lpgx.OutcomeReward(flip_prob=0.5)
    r = algorithms.pg_outcome_multi(base.copy(), lock, base, steps=4000, m=3, reward=reward, rng=0)
    per_step = np.diff(np.concatenate([[0], r.queries]))
    assert per_step.min() >= 1 and per_step.max() <= 4 and reward.queries == r.total_queries
    # P(step = 1 query) = P(the on-policy sample is accepted) = 1/2
    assert stats.binomtest(int((per_step == 1).sum()), len(per_step), 0.5).pvalue > 1e-3


def test_pg_process_bounds_m_with_a_jittered_prm():
    lock, base = lpgx.combination_lock(3, 5, 1, rng=0)
    with pytest.raises(ValueError, match="m=2147483647"):
        algorithms.pg_process(base.copy(), lock, base, steps=1, m=2**31 - 1, reward=lpgx.ProcessReward(jitter=1))
    r = algorithms.pg_process(base.copy(), lock, base, steps=20, m=50, reward=lpgx.ProcessReward(jitter=1), rng=0)
    assert r.total_queries <= 20 * (5 * 50 + 1)


# ---- no noise, one answer: today's results, bitwise ----------------------------------------------

def test_noiseless_singleton_rewards_change_nothing():
    task = lpgx.TeacherTask(6, 4, 8, rng=0)
    for kind, obj in (("outcome", lpgx.OutcomeReward(flip_prob=0.0, correct=lpgx.CorrectSet())),
                      ("process", lpgx.ProcessReward(false_positive=0.0, false_negative=0.0, jitter=0, window=0,
                                                     correct=lpgx.CorrectSet()))):
        a, b = lpgx.LinearARModel(4, 8, 6), lpgx.LinearARModel(4, 8, 6)
        ra = lpgx.post_train(a, task, reward=kind, steps=5, batch_size=32, rng=1)
        rb = lpgx.post_train(b, task, reward=obj, steps=5, batch_size=32, rng=1)
        np.testing.assert_array_equal(a.w, b.w)
        np.testing.assert_array_equal(ra.success, rb.success)
    lock, base = lpgx.combination_lock(3, 5, 2, alphas=[0.1, 0.01], rng=0)
    for run, reward in ((algorithms.pg_outcome_multi, lpgx.OutcomeReward()),
                        (algorithms.pg_process, lpgx.ProcessReward())):
        a, b = base.copy(), base.copy()
        ra = run(a, lock, base, steps=50, m=20, rng=3)
        rb = run(b, lock, base, steps=50, m=20, rng=3, reward=reward)
        np.testing.assert_array_equal(a.w, b.w)
        np.testing.assert_array_equal(ra.queries, rb.queries)
    x, ys = lock.contexts, lock.y_star
    np.testing.assert_array_equal(correct_sets.set_log_likelihood(base, x, ys, lpgx.CorrectSet()),
                                  base.log_prob(x, ys))
    np.testing.assert_array_equal(lpgx.sequence_error(base, x, ys, correct=lpgx.CorrectSet()),
                                  lpgx.sequence_error(base, x, ys))


def test_one_teacher_verifier_equals_the_built_in_one():
    task = lpgx.MultiTeacherTask(6, 4, 5, num_teachers=1, rng=0)
    x, ys = task.sample(300, rng=1)
    y = lpgx.LinearARModel(4, 5, 6).sample(x, rng=2)
    y[::3] = ys[::3]
    for kind, builtin in (("outcome", lpgx.OutcomeReward()), ("process", lpgx.ProcessReward())):
        mine = task.reward(kind)
        assert mine.values == builtin.values
        np.testing.assert_array_equal(mine.fn(x, y), builtin(y, ys))


# ---- correct sets: sizes and pass@k against enumeration -------------------------------------------

@pytest.mark.parametrize("family,size", [("tolerance", 0), ("tolerance", 1), ("tolerance", 3), ("unchecked", 2),
                                         ("teachers", 3)])
def test_log_set_size_counts_the_set(family, size):
    k, N = 3, 4
    ys = np.array([[0, 1, 2, 0]])
    if family == "teachers":
        answers = np.array([[[0, 1, 2, 0], [1, 1, 1, 1], [2, 0, 2, 1]]])
        rule = lpgx.CorrectSet()
    else:
        answers = ys[:, None]
        rule = lpgx.CorrectSet(tolerance=size) if family == "tolerance" else lpgx.CorrectSet(positions=range(size, N))
    all_y = np.array(list(itertools.product(range(k), repeat=N)))
    count = correct_sets.in_set(all_y, np.repeat(answers, len(all_y), 0), rule).sum()
    assert open_many_answers.log_set_size(family, size, k, N) == pytest.approx(math.log(count), rel=1e-12)


def test_set_pass_at_k_equals_enumeration():
    rng = np.random.default_rng(4)
    m, x = random_model(rng, 0.7, 3, 3, 4, 2)
    answers = rng.integers(0, 3, (3, 2, 4))
    all_y = np.array(list(itertools.product(range(3), repeat=4)), dtype=np.int32)
    for ans, rule in ((answers[:, :1], lpgx.CorrectSet(tolerance=1)), (answers, lpgx.CorrectSet())):
        q = np.array([np.exp(m.log_prob(np.repeat(x[b:b + 1], len(all_y), 0), all_y))[
            correct_sets.in_set(all_y, np.repeat(ans[b:b + 1], len(all_y), 0), rule)].sum() for b in range(3)])
        np.testing.assert_allclose(correct_sets.set_pass_at_k(m, x, ans, 5, rule), 1 - (1 - q) ** 5, rtol=1e-10)


# ---- the experiments ------------------------------------------------------------------------------

def same(a, b):
    """Rows equal, NaN included."""
    return json.dumps(a) == json.dumps(b)


TINY_FIGURE1 = dict(context_dim=6, vocab_size=4, seq_len=8, num_mix=4, pre_steps=20, pre_batch=32, post_steps=10,
                    post_batch=16, test_size=32, seeds=2)


def test_noise_experiment_runs_fits_and_round_trips(tmp_path):
    res = lpgx.experiments.noise(out=tmp_path, backend="sequential", plot=True, noise=[0.0, 0.1, 0.2],
                                 stair_seeds=2, stair_max_queries=200_000, **TINY_FIGURE1)
    assert {r["part"] for r in res.rows} == {"planted", "figure1"}
    assert len(res.select(part="planted")) == 4 * 3 * 2 and len(res.select(part="figure1")) == 2 * 3 * 2
    assert "prm: exponent" in res.fits and "figure1 ORM − PRM error, p=0.1" in res.fits
    back = lpgx.experiments.NoiseResult.load(tmp_path)
    assert same(back.rows, res.rows) and back.markdown() == res.markdown()
    assert (tmp_path / "noise.png").exists()
    # the exponent is the slope of ln(cost) against ln(1/(1 − 2p)) over the seed means
    x = np.log(1 / (1 - 2 * np.array([0.0, 0.1, 0.2])))
    q = res.cost("prm")
    if res.reached("prm").all():
        assert res.fits["prm: exponent"].slope == pytest.approx(np.polyfit(x, np.log(q).mean(1), 1)[0])


def test_many_answers_experiment_runs(tmp_path):
    res = lpgx.experiments.many_answers(out=tmp_path, backend="sequential", plot=True, tolerance=[0, 2],
                                        unchecked=[0, 4], teachers=[1, 2], **TINY_FIGURE1)
    assert len(res.rows) == 2 * 6 * 2
    # the three families start from the same set: the single answer, the same base error
    base = {f: res.values("base_test_error", reward="outcome", family=f, size=s)
            for f, s in (("tolerance", 0), ("unchecked", 0), ("teachers", 1))}
    np.testing.assert_allclose(base["tolerance"], base["unchecked"], rtol=1e-12)
    np.testing.assert_allclose(base["tolerance"], base["teachers"], rtol=1e-12)
    # ... and the runs of the single answer are those of the other experiments (the same
    # weights; the error is summed in another order)
    setting = lpgx.experiments._open.figure1_setting(dict(lpgx.experiments.many_answers_settings(), **TINY_FIGURE1))
    for reward in ("outcome", "process"):
        assert (open_many_answers.cell_sets(reward, "tolerance", 0, setting, 1)["test_error"]
                == pytest.approx(open_noise.cell_figure1(reward, 0.0, setting, 1)["test_error"], rel=1e-12))
    wide = res.values("base_test_error", reward="outcome", family="tolerance", size=2)
    assert np.all(wide <= base["tolerance"])
    assert same(lpgx.experiments.ManyAnswersResult.load(tmp_path).rows, res.rows)
    assert (tmp_path / "many_answers.png").exists()


def test_prm_quality_experiment_runs(tmp_path):
    res = lpgx.experiments.prm_quality(out=tmp_path, backend="sequential", plot=True, window=[1, 8], flip=[0.1, 0.4],
                                       learned=[16, 64], **TINY_FIGURE1)
    assert len(res.rows) == (2 + 6) * 2
    # a window as long as the response is the exact PRM: the same run, bitwise
    np.testing.assert_array_equal(res.values("test_error", prm="window", level=8.0),
                                  res.values("test_error", prm="exact", level=0.0))
    learned = res.select(prm="learned", level=64.0)
    assert all(0 <= r["learned_accuracy"] <= 1 for r in learned)
    orm = {r["seed"]: r["queries"] for r in res.select(prm="orm")}
    assert all(r["queries"] == orm[r["seed"]] + 64 for r in learned)
    assert "exact=0: gap" in res.fits and same(lpgx.experiments.PRMQualityResult.load(tmp_path).rows, res.rows)


def test_mean_ci_covers_the_mean():
    f = mean_ci([1.0, 2.0, 3.0, float("nan")])
    assert f.slope == 2.0 and f.low <= 2.0 <= f.high
    assert math.isnan(mean_ci([]).slope)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: lpgx.experiments.noise(noise=[0.1, 0.2]), ValueError, "noise must include 0"),
    (lambda: lpgx.experiments.noise(noise=[0.0, 0.5]), ValueError, r"noise\[1\]"),
    (lambda: lpgx.experiments.noise(methods=["orm", "nope"]), ValueError, r"methods\[1\]"),
    (lambda: lpgx.experiments.noise(stair_alpha=1e-9), ValueError, "stair_alpha"),
    (lambda: lpgx.experiments.many_answers(unchecked=[0, 64]), ValueError, "unchecked"),
    (lambda: lpgx.experiments.many_answers(teachers=[1]), ValueError, "teachers"),
    (lambda: lpgx.experiments.prm_quality(window=[1, 65]), ValueError, "window"),
    (lambda: lpgx.experiments.prm_quality(flip=[0.0, 0.1]), ValueError, r"flip\[0\]"),
    (lambda: lpgx.experiments.prm_quality(bogus=1), TypeError, "bogus"),
    (lambda: lpgx.experiments.prm_quality(n_jobs=0), ValueError, "n_jobs"),
])
def test_experiments_check_before_running(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("command", ["noise", "many-answers", "prm-quality"])
def test_cli_dry_runs_and_lists(command, capsys):
    assert cli.main([command, *cli.EXAMPLES[command], "--dry-run"]) == 0
    assert cli.main([command, "--list-settings"]) == 0
    out = capsys.readouterr().out
    assert "seeds" in out and "SPEC" not in out
    with pytest.raises(SystemExit):
        cli.main([command, "--set", "bogus=1"])
    assert "bogus" in capsys.readouterr().err


@pytest.mark.parametrize("settings", [open_noise.SETTINGS, open_many_answers.SETTINGS, open_prm_quality.SETTINGS],
                         ids=lambda s: s.experiment)
def test_defaults_pass_their_own_checks(settings):
    for quick in (False, True):
        defaults = settings.defaults(quick)
        assert settings.resolve(quick, defaults) == defaults


@pytest.mark.parametrize("command", ["noise", "many-answers", "prm-quality"])
def test_help_shows_a_valid_example(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"lpgx {command} {' '.join(cli.EXAMPLES[command])}" in " ".join(out.split()) or \
        f"lpgx {command} {' '.join(cli.EXAMPLES[command])}" in out
    assert "--list-settings" in out.split("options:")[-1]
