"""Advantage estimators and their terms (theory §10), against independent numpy formulas, exact
expectations (lpgx.exact, itself checked against enumeration and finite differences), and
statistical tests with fixed seeds."""
from __future__ import annotations

import math

import numpy as np
import pytest

import lpgx
import reference as ref
from lpgx import exact
from cases import random_model

K, N, D = 3, 4, 2
BLOCKS = ("context", "prev_token")


# ---- independent formulas ------------------------------------------------------------------

def formula(name, r, G, pos, **kw):
    """Advantages of one column of G rewards, written from the definitions."""
    r = np.asarray(r, dtype=float)
    if name == "reinforce":
        return r.copy()
    if name == "rloo":
        return np.array([r[g] - np.mean(np.delete(r, g)) for g in range(G)])
    if name == "grpo":
        dev = r - r.mean()
        if kw["scale"] == "group":
            return dev / (np.std(r, ddof=1) + kw["eps"]) if np.any(dev != 0) else dev
        return dev  # "none"; "batch" is divided by the batch's std by the caller
    if name == "pass_at_k":
        k, out = kw["k"], np.zeros(G)
        c = (r == pos).astype(int)
        for g in range(G):
            others = int(c.sum() - c[g])
            n = G - 1
            out[g] = c[g] * k * math.comb(n - others, k - 1) / math.comb(n, k - 1)
            if kw["baseline"] == "loo":
                out[g] -= 1 - math.comb(n - others, k) / math.comb(n, k)
        return out
    raise ValueError(name)


ESTIMATORS = {
    "reinforce_none": (lambda G: lpgx.Reinforce("none", group_size=G), "reinforce", {}),
    "reinforce_batch": (lambda G: lpgx.Reinforce("batch", group_size=G), "reinforce", {"batch_mean": True}),
    "rloo": (lambda G: lpgx.RLOO(G), "rloo", {}),
    "grpo_group": (lambda G: lpgx.GRPO(G), "grpo", {"scale": "group", "eps": 1e-4}),
    "grpo_batch": (lambda G: lpgx.GRPO(G, scale="batch", eps=1e-3), "grpo", {"scale": "batch", "eps": 1e-3}),
    "grpo_none": (lambda G: lpgx.GRPO(G, scale="none"), "grpo", {"scale": "none", "eps": 0.0}),
    "pass2_loo": (lambda G: lpgx.PassAtK(G, 2), "pass_at_k", {"k": 2, "baseline": "loo"}),
    "batch_norm": (lambda G: lpgx.estimators.BatchNorm(G, eps=1e-3), "reinforce", {"batch_norm": 1e-3}),
    "pass3_none": (lambda G: lpgx.PassAtK(G, 3, baseline="none"), "pass_at_k", {"k": 3, "baseline": "none"}),
}


def hand_made(G=4, B=3, seed=0):
    """B contexts with G responses each: some correct, some wrong at various positions."""
    rng = np.random.default_rng(seed)
    m, x = random_model(rng, 0.5, B, K, N, D)
    y_star = rng.integers(0, K, (B, N))
    y = np.repeat(y_star, G, axis=0)
    for j in range(B * G):
        e = int(rng.integers(0, N + 2))  # first error (N or more: correct)
        if e < N:
            y[j, e:] = (y[j, e:] + rng.integers(1, K, N - e)) % K
    return m, x, y_star, y


def numpy_advantages(key, y, y_star, G, kind, values):
    name, kw = ESTIMATORS[key][1], ESTIMATORS[key][2]
    B = y_star.shape[0]
    pos, neg = values
    ystar_rep = np.repeat(y_star, G, axis=0)
    wrong = y != ystar_rep
    first = np.where(wrong.any(1), wrong.argmax(1), N)
    r = np.where(first == N, pos, neg)[:, None] if kind == "outcome" else \
        np.where(np.arange(N)[None, :] < first[:, None], pos, neg)
    A = np.zeros(r.shape)
    for b in range(B):
        for j in range(r.shape[1]):
            A[b * G:(b + 1) * G, j] = formula(name, r[b * G:(b + 1) * G, j], G, pos, **kw)
    if kw.get("batch_mean"):
        A = A - r.mean(0)
    if "batch_norm" in kw:
        A = (A - r.mean(0)) / (r.std(0, ddof=1) + kw["batch_norm"])
    if kw.get("scale") == "batch":
        A = A / (r.std(0, ddof=1) + kw["eps"])
    return np.repeat(A, N, axis=1) if kind == "outcome" else A


@pytest.mark.parametrize("kind", ["outcome", "process"])
@pytest.mark.parametrize("key", list(ESTIMATORS))
@pytest.mark.parametrize("values", [(1.0, 0.0), (1.0, -1.0)])
def test_group_advantages_match_the_formulas(key, kind, values):
    G = 4
    m, x, y_star, y = hand_made(G)
    est = ESTIMATORS[key][0](G)
    A = numpy_advantages(key, y, y_star, G, kind, values)
    want = ref.grad(K, N, D, BLOCKS, m.w, np.repeat(x, G, axis=0), y, A)
    reward = (lpgx.OutcomeReward if kind == "outcome" else lpgx.ProcessReward)(values=values)
    w0 = m.w.copy()
    lpgx.pg_step(m, x, y_star, y, reward=reward, estimator=est, optimizer=lpgx.SGD(lr=1.0))
    got = (m.w - w0) * (len(y) * N)  # SGD on the mean loss: Δw = G / (B·G·N)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert reward.queries == len(y)


# ---- one pass, two passes, threads ------------------------------------------------------------

TASK = lpgx.TeacherTask(8, 4, 6, inputs="mixture", num_mix=8, rng=0)
BASE = lpgx.LinearARModel(4, 6, 8)
lpgx.pretrain(BASE, TASK, steps=10, batch_size=64, rng=0)


@pytest.mark.parametrize("make", [lambda: lpgx.RLOO(4), lambda: lpgx.GRPO(4), lambda: lpgx.GRPO(4, scale="batch"),
                                  lambda: lpgx.PassAtK(4, 2), lambda: lpgx.GRPO(4, kl=0.2),
                                  lambda: lpgx.estimators.BatchNorm(4),
                                  lambda: lpgx.RLOO(4, kl=0.1, kl_estimator="k3", entropy=0.05),
                                  lambda: lpgx.GRPO(4, clip=0.2, epochs=3)])
@pytest.mark.parametrize("reward", ["outcome", "process"])
def test_one_pass_equals_two_passes(monkeypatch, make, reward):
    runs = []
    for one_pass in (True, False):
        monkeypatch.setattr(lpgx.training, "_ONE_PASS", one_pass)
        m = BASE.copy()
        res = lpgx.post_train(m, TASK, reward=reward, estimator=make(), steps=2, batch_size=50, rng=5,
                              optimizer=lpgx.SGD(lr=1.0))
        runs.append((m.w - BASE.w, res))
    (d1, r1), (d2, r2) = runs
    for name in ("queries", "mean_reward", "success", "all_equal"):
        np.testing.assert_array_equal(getattr(r1, name), getattr(r2, name), err_msg=name)
    np.testing.assert_allclose(d1, d2, rtol=1e-10, atol=1e-13 * np.abs(d2).max())
    assert np.abs(d1).max() > 0


@pytest.mark.parametrize("make", [lambda: lpgx.GRPO(8, kl=0.1, entropy=0.01), lambda: lpgx.PassAtK(8, 4),
                                  lambda: lpgx.RLOO(4, clip=0.1, epochs=4, kl=0.2, kl_estimator="k2")])
def test_identical_for_one_and_two_threads(make):
    runs = []
    for nt in (1, 2):
        m = BASE.copy()
        res = lpgx.post_train(m, TASK, reward="outcome", estimator=make(), steps=3, batch_size=40, rng=7,
                              n_threads=nt, test=32, test_every=1)
        runs.append((m.w.copy(), res))
    (w1, a), (w2, b) = runs
    np.testing.assert_array_equal(w1, w2)
    for name in ("test_error", "test_entropy", "test_kl", "test_token_log_lq", "all_equal", "clipped", "queries"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


# ---- expectations -------------------------------------------------------------------------------

def enumerable(seed=0):
    """A finite task with 3 contexts on k = 3, N = 4 (81 responses each), a random policy."""
    task, base = lpgx.staircase(K, N, [0.4, 0.1, 0.02], rng=seed)
    m = base.copy()
    m.w = m.w + 0.3 * np.random.default_rng(seed).standard_normal(m.num_params)
    return task, m


def mean_gradient(model, task, est, reward, runs=40, batch=1500):
    """Mean and standard error over independent steps of the ascent direction per response."""
    grads = []
    for s in range(runs):
        m = model.copy()
        lpgx.post_train(m, task, reward=reward, estimator=est, steps=1, batch_size=batch, rng=1000 + s,
                        optimizer=lpgx.SGD(lr=1.0))
        grads.append((m.w - model.w) * N)  # Δw = G/(n·N); per response: G/n
    g = np.array(grads)
    return g.mean(0), g.std(0, ddof=1) / np.sqrt(runs)


@pytest.mark.parametrize("make", [lambda: lpgx.Reinforce("none"), lambda: lpgx.RLOO(4), lambda: lpgx.PassAtK(4, 2),
                                  lambda: lpgx.GRPO(4, scale="none"), lambda: lpgx.GRPO(4)])
def test_mean_of_many_estimates_is_the_exact_expected_update(make):
    task, m = enumerable()
    est = make()
    reward = lpgx.OutcomeReward(values=(1, 0))
    mean, se = mean_gradient(m, task, est, reward)
    want = exact.expected_update(m, task.contexts, task.y_star, reward, est)
    z = np.abs(mean - want) / np.maximum(se, 1e-12)
    # 60 coordinates at 40 runs of 6000 responses: |z| < 5 everywhere unless the means differ
    assert z.max() < 5.0, (z.max(), mean, want)
    if isinstance(est, (lpgx.RLOO, lpgx.Reinforce)):  # unbiased for ∇J
        np.testing.assert_allclose(want, exact.policy_gradient(m, task.contexts, task.y_star, reward), atol=1e-15)
    if isinstance(est, lpgx.PassAtK):  # unbiased for ∇pass@k
        np.testing.assert_allclose(want, exact.policy_gradient(m, task.contexts, task.y_star, "pass@k", k=2),
                                   atol=1e-15)
    if isinstance(est, lpgx.GRPO):  # reweighted: not ∇J
        pg = exact.policy_gradient(m, task.contexts, task.y_star, reward)
        assert np.abs(want - pg).max() > 0.05 * np.abs(pg).max()


def test_group_weights_of_the_documented_reweighting():
    q = np.array([0.05, 0.3, 0.5, 0.9])
    np.testing.assert_allclose(exact.group_weight(lpgx.RLOO(6), q), 1.0, rtol=1e-12)
    np.testing.assert_allclose(exact.group_weight(lpgx.GRPO(6, scale="none"), q), 1 - 1 / 6, rtol=1e-12)
    np.testing.assert_allclose(exact.group_weight(lpgx.PassAtK(6, 3), q), 3 * (1 - q) ** 2, rtol=1e-12)
    np.testing.assert_allclose(exact.group_weight(lpgx.PassAtK(6, 3, baseline="none"), q), 3 * (1 - q) ** 2,
                               rtol=1e-12)
    big = exact.group_weight(lpgx.GRPO(400, eps=0.0), q)  # ≈ 1/√(q(1−q)) for large groups
    np.testing.assert_allclose(big, 1 / np.sqrt(q * (1 - q)), rtol=0.05)


def test_process_reinforce_ascends_its_token_level_expectation():
    task, m = enumerable(1)
    reward = lpgx.ProcessReward(values=(1, 0))
    mean, se = mean_gradient(m, task, lpgx.Reinforce("none"), reward)
    want = exact.expected_update(m, task.contexts, task.y_star, reward)
    assert (np.abs(mean - want) / np.maximum(se, 1e-12)).max() < 5.0
    pg = exact.policy_gradient(m, task.contexts, task.y_star, reward)
    assert np.abs(want - pg).max() > 0.05 * np.abs(pg).max()  # credits each token with its own prefix only


@pytest.mark.parametrize("reward", ["outcome", "process", lpgx.OutcomeReward(values=(2, -1), flip_prob=0.15),
                                    lpgx.ProcessReward(values=(1, 0), flip_prob=0.3)])
def test_closed_forms_equal_enumeration_and_finite_differences(reward):
    task, m = enumerable(2)
    x, ys = task.contexts, task.y_star
    assert exact.objective(m, x, ys, reward) == pytest.approx(exact.objective(m, x, ys, reward, method="enumerate"),
                                                              rel=1e-12, abs=1e-14)
    g = exact.policy_gradient(m, x, ys, reward)
    np.testing.assert_allclose(g, exact.policy_gradient(m, x, ys, reward, method="enumerate"), atol=1e-14)
    w0, h = m.w.copy(), 1e-6
    for j in np.random.default_rng(0).choice(m.num_params, 6, replace=False):
        e = np.zeros_like(w0)
        e[j] = h
        m.w = w0 + e
        up = exact.objective(m, x, ys, reward)
        m.w = w0 - e
        down = exact.objective(m, x, ys, reward)
        m.w = w0
        assert (up - down) / (2 * h) == pytest.approx(g[j], rel=1e-5, abs=1e-9)


def test_pass_at_k_objective():
    task, m = enumerable(3)
    q = np.exp(m.log_prob(task.contexts, task.y_star))
    assert exact.objective(m, task.contexts, task.y_star, "pass@k", k=4) == pytest.approx(np.mean(1 - (1 - q) ** 4))


# ---- the KL and entropy terms ----------------------------------------------------------------

def sampled_policy(seed=0, B=400, N_=6):
    rng = np.random.default_rng(seed)
    m = lpgx.LinearARModel(5, N_, 3)
    m.w = 0.7 * rng.standard_normal(m.num_params)
    r = lpgx.LinearARModel(5, N_, 3)
    r.w = m.w + 0.5 * rng.standard_normal(m.num_params)
    x = rng.standard_normal((B, 3))
    return m, r, x


def test_sampled_kl_estimators_have_the_exact_kl_as_mean():
    m, r, x = sampled_policy()
    y = m.sample(x, rng=1)
    t = exact.token_kl(m, r, x, y)
    kl = t["kl"].mean()
    for name in ("k1", "k3"):  # unbiased at every prefix
        vals = t[name].ravel()
        se = vals.std(ddof=1) / np.sqrt(vals.size)
        assert abs(vals.mean() - kl) < 4 * se, (name, vals.mean(), kl, se)
    assert np.all(t["k3"] >= 0) and np.all(t["kl"] >= 0)


def kl_sum(model, reference, x, y):
    return exact.token_kl(model, reference, x, y)["kl"].sum()


@pytest.mark.parametrize("term", ["exact", "k1", "k2", "k3", "entropy"])
def test_term_gradients_match_finite_differences(term):
    m, r, x = sampled_policy(1, B=6)
    y = m.sample(x, rng=2)
    uniform = lpgx.LinearARModel(5, 6, 3)  # KL(π ‖ U) = log k − H: the entropy through the KL
    if term == "entropy":
        est = lpgx.Reinforce("none", entropy=0.7)
        F = lambda mm: -0.7 * exact.token_kl(mm, uniform, x, y)["kl"].sum()  # noqa: E731 (c·ΣH up to a constant)
    elif term == "exact":
        est = lpgx.Reinforce("none", kl=0.7, reference=r)
        F = lambda mm: -0.7 * kl_sum(mm, r, x, y)  # noqa: E731
    else:
        est = lpgx.Reinforce("none", kl=0.7, kl_estimator=term, reference=r)
        F = lambda mm: -0.7 * exact.token_kl(mm, r, x, y)[term].sum()  # noqa: E731
    zero = lpgx.OutcomeReward(values=(0, 0))  # A = 0: only the term moves the weights
    step = m.copy()
    lpgx.pg_step(step, x, np.zeros_like(y), y, reward=zero, estimator=est, optimizer=lpgx.SGD(lr=1.0))
    got = (step.w - m.w) * (len(y) * m.seq_len)
    w0, h = m.w.copy(), 1e-6
    for j in np.random.default_rng(3).choice(m.num_params, 8, replace=False):
        e = np.zeros_like(w0)
        e[j] = h
        m.w = w0 + e
        up = F(m)
        m.w = w0 - e
        down = F(m)
        m.w = w0
        assert got[j] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8), (term, j)


def test_one_epoch_of_clipping_changes_nothing():
    runs = []
    for est in (lpgx.GRPO(4), lpgx.GRPO(4, clip=0.2, epochs=1)):
        m = BASE.copy()
        res = lpgx.post_train(m, TASK, estimator=est, steps=3, batch_size=30, rng=4, test=16, test_every=1)
        runs.append((m.w.copy(), res))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1].test_error, runs[1][1].test_error)
    assert len(runs[1][1].clipped) == 0  # no reuse epoch


def test_reuse_epochs_clip_and_cost_no_queries():
    reward = lpgx.OutcomeReward()
    m = BASE.copy()
    res = lpgx.post_train(m, TASK, reward=reward, estimator=lpgx.GRPO(4, clip=0.05, epochs=4), steps=3,
                          batch_size=10, rng=4, optimizer=lpgx.Adagrad(lr=0.5))
    np.testing.assert_array_equal(res.queries, 40 * np.arange(1, 4))
    assert reward.queries == 120
    assert np.all((res.clipped >= 0) & (res.clipped <= 1)) and res.clipped.max() > 0
    # no clipping at all when ε is huge: the ratio-weighted update
    res = lpgx.post_train(BASE.copy(), TASK, estimator=lpgx.GRPO(4, clip=1e9, epochs=2), steps=2, batch_size=10, rng=4)
    np.testing.assert_array_equal(res.clipped, 0.0)


def test_query_counts_with_groups():
    for kind, est in (("outcome", lpgx.RLOO(8)), ("process", lpgx.GRPO(8, kl=0.1))):
        reward = lpgx.OutcomeReward() if kind == "outcome" else lpgx.ProcessReward()
        res = lpgx.post_train(BASE.copy(), TASK, reward=reward, estimator=est, steps=4, batch_size=16, rng=0)
        np.testing.assert_array_equal(res.queries, 16 * 8 * np.arange(1, 5))
        assert reward.queries == 16 * 8 * 4


def test_pass_at_1_is_rloo_or_reinforce_without_baseline():
    G = 5
    m, x, y_star, y = hand_made(G, B=4, seed=3)
    reward = lpgx.OutcomeReward(values=(1, 0))
    updates = {}
    for name, est in (("pass_loo", lpgx.PassAtK(G, 1)), ("rloo", lpgx.RLOO(G)),
                      ("pass_none", lpgx.PassAtK(G, 1, baseline="none")), ("reinforce", lpgx.Reinforce("none", G))):
        mm = m.copy()
        lpgx.pg_step(mm, x, y_star, y, reward=reward, estimator=est, optimizer=lpgx.SGD(lr=1.0))
        updates[name] = mm.w - m.w
    np.testing.assert_allclose(updates["pass_loo"], updates["rloo"], rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(updates["pass_none"], updates["reinforce"], rtol=1e-12, atol=1e-16)


def test_all_equal_groups_are_counted():
    sure = TASK.teacher.copy()
    sure.w = sure.w * 1e3  # every response correct: every group all-equal
    res = lpgx.post_train(sure, TASK, estimator=lpgx.RLOO(4), steps=2, batch_size=8, rng=0,
                          optimizer=lpgx.SGD(lr=0.0))
    np.testing.assert_array_equal(res.all_equal, 1.0)
    res = lpgx.post_train(BASE.copy(), TASK, steps=2, batch_size=8, rng=0)
    assert len(res.all_equal) == 0  # G = 1: no groups


def test_diagnostics_start_at_the_reference():
    res = lpgx.post_train(BASE.copy(), TASK, estimator=lpgx.GRPO(4), steps=3, batch_size=20, rng=1, test=32,
                          test_every=1)
    assert res.test_kl[0] == 0.0 and np.all(res.test_kl[1:] > 0)
    assert np.all(res.test_entropy > 0) and np.all(res.test_entropy <= np.log(4) + 1e-12)
    assert np.all(res.test_token_log_lq <= 0)


@pytest.mark.parametrize("bad, match", [
    (lambda: lpgx.RLOO(1), "group_size >= 2"),
    (lambda: lpgx.GRPO(1), "group_size >= 2"),
    (lambda: lpgx.PassAtK(3, 3), "group_size >= 4"),
    (lambda: lpgx.PassAtK(3, 0), "k must be >= 1"),
    (lambda: lpgx.GRPO(4, scale="mean"), "scale"),
    (lambda: lpgx.GRPO(4, kl=-1.0), "kl"),
    (lambda: lpgx.GRPO(4, kl_estimator="k4"), "kl_estimator"),
    (lambda: lpgx.GRPO(4, clip=0.0), "clip"),
    (lambda: lpgx.GRPO(4, epochs=0), "epochs"),
    (lambda: lpgx.Reinforce("mean"), "baseline"),
    (lambda: lpgx.post_train(BASE.copy(), TASK, estimator=lpgx.RLOO(2), baseline=True, steps=1), "not both"),
    (lambda: lpgx.post_train(BASE.copy(), TASK, estimator=lpgx.GRPO(2, epochs=2), behavior="uniform", steps=1),
     "on_policy"),
    (lambda: lpgx.post_train(BASE.copy(), TASK, estimator="grpo", steps=1), "estimator"),
    (lambda: lpgx.post_train(BASE.copy(), TASK, estimator=lpgx.GRPO(2, kl=0.1, reference=lpgx.LinearARModel(3, 6, 8)),
                             steps=1), "reference"),
])
def test_bad_estimators_are_refused(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        bad()
