"""Numerical extremes (issue 6, part 2).

- N = 10 000 and k = 1 000: finite log-likelihoods, exact uniform values (log LQ = -N log k,
  token LQ = 1/k), agreement with a vectorised numpy reference for a non-uniform model.
- Weights of magnitude 1e300: every call raises the documented ValueError "non-finite
  logits" or returns finite results.
- All-equal logits (any common offset) and one-hot-certain policies (w x 1e6, p(y*) = 1 in
  float64): no NaN anywhere -- log_prob, gradients, sampling, margins, measures, training.

Tests named after a defect (margins at 1e300, NaN/-inf weights through the live array, greedy
and NaN, logit gaps beyond float64, log-probs at large logit offsets) were strict xfails when
written and guard the engine fixes now.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import lpgx
from lpgx import algorithms

NONFINITE = "non-finite"


def finite_tree(obj):
    """Every number reachable in obj (arrays, tuples, dataclasses) is finite."""
    if isinstance(obj, (tuple, list)):
        return all(finite_tree(o) for o in obj)
    if hasattr(obj, "__dataclass_fields__"):
        return all(finite_tree(getattr(obj, f)) for f in obj.__dataclass_fields__ if f != "config")
    if isinstance(obj, dict) or obj is None or isinstance(obj, str):
        return True
    a = np.asarray(obj)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def finite_or_refused(fn):
    """Run fn: it returns finite results, or raises ValueError('non-finite ...'). Returns the
    result (None when refused)."""
    try:
        out = fn()
    except ValueError as exc:
        assert NONFINITE in str(exc), exc
        return None
    assert finite_tree(out), out
    return out


# ----------------------------------------------------------------------------------------
# long sequences, large vocabularies
N_BIG, K_BIG, D_BIG = 10_000, 1_000, 2


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, D_BIG))
    y = rng.integers(0, K_BIG, (3, N_BIG))
    return x, y


def test_uniform_model_at_n10000_k1000(big):
    x, y = big
    u = lpgx.LinearARModel(K_BIG, N_BIG, D_BIG)
    ll = u.log_prob(x, y, n_threads=1)
    np.testing.assert_allclose(ll, -N_BIG * np.log(K_BIG), rtol=1e-12)
    tok = u.token_log_prob(x, y, n_threads=1)
    np.testing.assert_allclose(tok, -np.log(K_BIG), rtol=1e-12)
    np.testing.assert_allclose(lpgx.likelihood_quantile(u, x, y, [0.0, 0.5, 0.99], log=True, n_threads=1),
                               -N_BIG * np.log(K_BIG), rtol=1e-12)
    assert lpgx.likelihood_quantile(u, x, y, 0.5, n_threads=1) == 0.0  # k^-N underflows: that is why log=True
    np.testing.assert_allclose(lpgx.token_likelihood_quantile(u, x, y, [0.0, 0.5], n_threads=1), 1 / K_BIG,
                               rtol=1e-12)
    assert lpgx.sequence_error(u, x, y, n_threads=1) == 1.0
    s, logp = u.sample(x[:1], rng=0, return_log_prob=True, n_threads=1)
    assert s.min() >= 0 and s.max() < K_BIG and len(np.unique(s)) > 900  # uniform over 1000 tokens
    np.testing.assert_allclose(logp, -np.log(K_BIG), rtol=1e-12)
    g = u.grad_log_prob(x[:1], y[:1], n_threads=1)
    assert np.isfinite(g).all()
    # the W2 gradient of the uniform model: counts of (c, prev) pairs minus (N-1)/k per prev
    W2 = g[D_BIG * K_BIG:].reshape(K_BIG, K_BIG)
    counts = np.zeros((K_BIG, K_BIG))
    np.add.at(counts, (y[0, 1:], y[0, :-1]), 1.0)
    prev_counts = np.bincount(y[0, :-1], minlength=K_BIG)
    np.testing.assert_allclose(W2, counts - prev_counts[None, :] / K_BIG, atol=1e-9)


def _reference_log_prob(model, x, y):
    """Vectorised float64 log p(y|x) of the default-block model (independent of the engine)."""
    W1, W2 = model.block("context"), model.block("prev_token")
    out = []
    for b in range(x.shape[0]):
        logits = np.repeat((x[b] @ W1)[None, :], model.seq_len, axis=0)
        logits[1:] += W2[:, y[b, :-1]].T
        m = logits.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
        out.append((logits[np.arange(model.seq_len), y[b]] - lse).sum())
    return np.array(out)


def test_random_model_at_n10000_k1000(big):
    x, y = big
    m = lpgx.LinearARModel(K_BIG, N_BIG, D_BIG)
    m.w = 0.5 * np.random.default_rng(1).standard_normal(m.num_params)
    ll = m.log_prob(x, y, n_threads=2)
    assert np.isfinite(ll).all() and (ll < 0).all()
    np.testing.assert_allclose(ll, _reference_log_prob(m, x, y), rtol=1e-10)
    # LQ from exact per-context values: the sorted log-likelihoods
    np.testing.assert_allclose(lpgx.likelihood_quantile(m, x, y, [0.0, 0.34, 0.67], log=True),
                               np.sort(ll), rtol=1e-12)
    s, logp = m.sample(x[:1], rng=3, return_log_prob=True)
    np.testing.assert_allclose(logp, m.token_log_prob(x[:1], s), rtol=1e-9, atol=1e-9)
    assert np.isfinite(m.grad_log_prob(x[:1], s)).all()


# ----------------------------------------------------------------------------------------
# weights of magnitude 1e300
def _huge_model(blocks, seed):
    rng = np.random.default_rng(seed)
    m = lpgx.LinearARModel(4, 6, 3, blocks=blocks)
    m.w = 1e300 * rng.choice([-1.0, 1.0], m.num_params) * rng.random(m.num_params)
    return m


@pytest.mark.parametrize("blocks", [lpgx.DEFAULT_BLOCKS, lpgx.BLOCKS, ("bias",), ("position", "prev_token")])
@pytest.mark.parametrize("xscale", [1.0, 1e-300, 5e-324, 1e8])
@pytest.mark.parametrize("seed", [0, 1])
def test_weights_of_magnitude_1e300(blocks, xscale, seed):
    m = _huge_model(blocks, seed)
    rng = np.random.default_rng(seed + 10)
    x = xscale * rng.standard_normal((3, 3))
    y = rng.integers(0, 4, (3, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy overflow/invalid inside lpgx = silent garbage
        for fn in (lambda: m.greedy(x), lambda: m.sample(x, rng=0, return_log_prob=True),
                   lambda: lpgx.mc_hits(m, x, y, 7, rng=1)):
            finite_or_refused(fn)
        for fn in (lambda: m.token_log_prob(x, y), lambda: m.log_prob(x, y),
                   lambda: m.grad_log_prob(x, y, weights=rng.standard_normal((3, 6)), return_log_prob=True),
                   lambda: lpgx.likelihood_quantile(m, x, y, [0.1, 0.9], log=True),
                   lambda: lpgx.token_likelihood_quantile(m, x, y, 0.5, log=True),
                   lambda: lpgx.sequence_error(m, x, y), lambda: lpgx.coverage(m, x, y, [1e-300, 0.5])):
            finite_or_refused(fn)
        if xscale <= 1:  # larger: logit gaps overflow, see test_margins_with_a_logit_gap_beyond_float64
            finite_or_refused(lambda: lpgx.margins(m, x, y))
        out = finite_or_refused(lambda: m.sample(x, rng=0, return_log_prob=True))
        if out is not None:  # the sampled log-probs agree with the scored ones
            np.testing.assert_allclose(out[1], m.token_log_prob(x, out[0]), rtol=1e-9)
        mm = m.copy()
        finite_or_refused(lambda: lpgx.pg_step(mm, x, y, y, reward=None, optimizer="adaptive", n_threads=1))
        assert np.isfinite(mm.w).all()


def test_weights_of_magnitude_1e300_in_training():
    task = lpgx.TeacherTask(3, 4, 6, rng=0)
    for opt in ("adagrad", "adaptive"):
        for reward in ("outcome", "process"):
            m = _huge_model(lpgx.DEFAULT_BLOCKS, 2)
            finite_or_refused(lambda: lpgx.post_train(m, task, reward=reward, steps=3, batch_size=4, optimizer=opt,
                                                      rng=0, test=8, n_threads=1))
            assert np.isfinite(m.w).all()
        m = _huge_model(lpgx.DEFAULT_BLOCKS, 3)
        finite_or_refused(lambda: lpgx.pretrain(m, task, 3, 4, optimizer=opt, rng=0, test=8, n_threads=1))
        assert np.isfinite(m.w).all()
    for alg in ("sgd_adaptive", "online_pg"):
        m = _huge_model(lpgx.DEFAULT_BLOCKS, 4)
        finite_or_refused(lambda: getattr(algorithms, alg)(m, task, 4, eval=task.sample(4, rng=1), rng=0))
        assert np.isfinite(m.w).all()
    m = _huge_model(lpgx.DEFAULT_BLOCKS, 5)
    finite_or_refused(lambda: algorithms.pg_process(m, task, _huge_model(lpgx.DEFAULT_BLOCKS, 6), 4, m=2, rng=0))
    assert np.isfinite(m.w).all()


def test_margins_with_weights_of_magnitude_1e300():
    m = _huge_model(lpgx.DEFAULT_BLOCKS, 0)
    x = np.random.default_rng(10).standard_normal((3, 3))
    y = m.greedy(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        mg = lpgx.margins(m, x, y)
    assert np.isfinite(mg.w_norm) and mg.w_norm > 1e300
    assert np.all(mg.margin > 0)  # y is the greedy decoding: positive margins (ties have measure 0)


@pytest.mark.parametrize("case", ["overflow", "nan_weight"])
def test_margins_refuse_non_finite_logits(case):
    m = _huge_model(lpgx.DEFAULT_BLOCKS, 0)
    x = 1e8 * np.random.default_rng(10).standard_normal((3, 3))
    if case == "nan_weight":
        m = lpgx.LinearARModel(4, 6, 3, w=np.linspace(-1, 1, 28))
        m.block("context").flat[0] = np.nan  # block views are live: writes bypass the setter's check
        x = np.ones((3, 3))
    y = np.zeros((3, 6), dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        finite_or_refused(lambda: lpgx.margins(m, x, y))


def test_margins_with_a_logit_gap_beyond_float64():
    m = lpgx.LinearARModel(2, 1, 1, blocks=("bias",), w=[-1.4e308, 1.4e308])
    finite_or_refused(lambda: lpgx.margins(m, np.zeros((1, 1)), np.array([[0]])))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("block", ["bias", "context"])
def test_non_finite_weights_written_through_the_live_array_are_refused(bad, block):
    """model.w and model.block() are writable views (documented): NaN/inf written there
    bypass the setter, so the engine itself must refuse them."""
    x, y = np.ones((2, 3)), np.zeros((2, 5), dtype=int)
    m = lpgx.LinearARModel(4, 5, 3, blocks=("context", "prev_token", "bias"))
    m.block(block).flat[1] = bad
    for fn in (lambda: m.log_prob(x, y), lambda: m.sample(x), lambda: m.grad_log_prob(x, y),
               lambda: lpgx.mc_hits(m, x, y, 3)):
        with pytest.raises(ValueError, match=NONFINITE):
            fn()


def test_greedy_refuses_nan_logits():
    m = lpgx.LinearARModel(4, 5, 3, blocks=("context", "prev_token", "bias"))
    m.block("bias")[1] = np.nan
    with pytest.raises(ValueError, match=NONFINITE):
        m.greedy(np.ones((2, 3)))


def test_logit_gap_beyond_float64_range():
    m = lpgx.LinearARModel(2, 1, 1, blocks=("bias",), w=[1.5e308, -1.5e308])
    finite_or_refused(lambda: m.token_log_prob(np.zeros((1, 1)), np.array([[1]])))


# ----------------------------------------------------------------------------------------
# all-equal logits
def _offset_model(C, k=4, N=7):
    # bias C on every token plus prev_token/position blocks of zero: all k logits equal C
    return lpgx.LinearARModel(k, N, 2, blocks=("prev_token", "position", "bias"),
                              w=np.concatenate([np.zeros(k * k + N * k), np.full(k, C)]))


@pytest.mark.parametrize("C", [0.0, 1.0, -1e3, 1e3, 1e10, 1e17, -1e17, 1e300, -1e300])
def test_all_equal_logits_no_nan(C):
    m = _offset_model(C)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2))
    y = rng.integers(0, 4, (64, 7))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        tok = m.token_log_prob(x, y)
        assert np.isfinite(tok).all() and (tok <= 0).all()
        s, logp = m.sample(x, rng=1, return_log_prob=True)
        np.testing.assert_allclose(logp, -np.log(4), rtol=1e-12)  # the sampler gets it right at any offset
        counts = np.bincount(s.ravel(), minlength=4)
        assert counts.min() > 64 * 7 / 4 * 0.6  # uniform draws
        assert (m.greedy(x) == 0).all()  # ties go to the smallest token
        g = m.grad_log_prob(x, y)
        assert np.isfinite(g).all()
        # the bias gradient of a uniform policy: counts minus B*N/k
        np.testing.assert_allclose(g[-4:], np.bincount(y.ravel(), minlength=4) - 64 * 7 / 4, atol=1e-9)
        mg = lpgx.margins(m, x, y)
        assert np.isfinite(mg.margin).all() and np.isfinite(mg.gap).all() and (mg.gap == 0).all()
        assert np.isfinite(mg.w_norm)
        assert np.isfinite(lpgx.sequence_error(m, x, y))
        mm = m.copy()
        lpgx.pg_step(mm, x, y, s, optimizer="adagrad", n_threads=1)
        assert np.isfinite(mm.w).all()


@pytest.mark.parametrize("C", [0.0, 1.0, -1e3, 1e3])
def test_all_equal_logits_exact_log_prob(C):
    np.testing.assert_allclose(_offset_model(C).token_log_prob(np.zeros((2, 2)), np.zeros((2, 7), int)), -np.log(4),
                               rtol=1e-12)


@pytest.mark.parametrize("C", [1e10, 1e17, -1e17, 1e300])
def test_all_equal_logits_exact_log_prob_at_large_offsets(C):
    m = _offset_model(C)
    x, y = np.zeros((2, 2)), np.zeros((2, 7), int)
    np.testing.assert_allclose(m.token_log_prob(x, y), -np.log(4), rtol=1e-12)
    np.testing.assert_allclose(m.grad_log_prob(x, y, return_log_prob=True)[1], -np.log(4), rtol=1e-12)


# ----------------------------------------------------------------------------------------
# one-hot-certain policies: w x 1e6, p(y*) = 1 in float64
@pytest.fixture(scope="module")
def certain():
    task = lpgx.TeacherTask(8, 6, 12, rng=0)
    x, ys = task.sample(16, rng=1)
    m = task.teacher.copy()
    m.w = m.w * 1e6
    return task, m, x, ys


def test_certain_policy_scores_and_samples(certain):
    task, m, x, ys = certain
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert (m.log_prob(x, ys) == 0.0).all()
        s, logp = m.sample(x, rng=0, return_log_prob=True)
        assert (s == ys).all() and (logp == 0.0).all()
        assert (m.greedy(x) == ys).all()
        g = m.grad_log_prob(x, ys)
        assert np.isfinite(g).all() and np.abs(g).max() < 1e-200
        # a wrong token: hugely negative but finite log-prob, gradient e_y - p exactly
        yw = ys.copy()
        yw[:, 3] = (yw[:, 3] + 1) % 6
        g2, lp2 = m.grad_log_prob(x, yw, return_log_prob=True)
        assert np.isfinite(g2).all() and np.isfinite(lp2).all() and lp2[:, 3].max() < -1e3
        mg = lpgx.margins(m, x, ys)
        np.testing.assert_allclose(mg.margin, lpgx.margins(task.teacher, x, ys).margin, rtol=1e-9)
        assert lpgx.likelihood_quantile(m, x, ys, 0.1) == 1.0
        assert lpgx.token_likelihood_quantile(m, x, ys, 0.1) == 1.0
        assert lpgx.sequence_error(m, x, ys) == 0.0
        assert (lpgx.mc_likelihood(m, x, ys, 10, rng=0) == 1.0).all()
        assert lpgx.coverage(m, x, ys, 0.5) == 0.0 and lpgx.alpha_tail(m, x, ys, 0.5) == 0.5


@pytest.mark.parametrize("opt", ["adagrad", "sgd", "adaptive"])
def test_certain_policy_training(certain, opt):
    task, m, x, ys = certain
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for reward in ("outcome", "process"):
            mm = m.copy()
            r = lpgx.post_train(mm, task, reward=reward, steps=3, batch_size=8, optimizer=opt, rng=0, test=(x, ys),
                                test_every=1, n_threads=1)
            assert finite_tree(r) and np.isfinite(mm.w).all() and (r.test_error == 0).all()
            assert (r.success == 1).all()
        mm = m.copy()
        r = lpgx.pretrain(mm, task, 3, 8, optimizer=opt, rng=0, n_threads=1)
        assert finite_tree(r) and np.isfinite(mm.w).all()
        yw = ys.copy()
        yw[:, 0] = (yw[:, 0] + 1) % 6
        mm = m.copy()
        assert lpgx.pg_step(mm, x, ys, yw, optimizer=opt, n_threads=1) == -1.0
        assert np.isfinite(mm.w).all()


def test_certain_policy_algorithms(certain):
    task, m, x, ys = certain
    for name in ("sgd_adaptive", "online_pg"):
        mm = m.copy()
        r = getattr(algorithms, name)(mm, task, 5, eval=(x, ys), rng=0)
        assert finite_tree(r) and np.isfinite(mm.w).all() and (r.eval_log_lik == 0).all()
    for name in ("pg_outcome", "pg_outcome_multi", "pg_process"):
        mm = m.copy()
        kw = {} if name == "pg_outcome" else {"m": 3}
        r = getattr(algorithms, name)(mm, task, m, 5, eval=(x, ys), eps=0.01, rng=0, **kw)
        assert finite_tree(r) and np.isfinite(mm.w).all() and r.target_step == 0
