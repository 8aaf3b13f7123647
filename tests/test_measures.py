"""Likelihood measures (theory §5) against definitions evaluated by brute force."""
import math

import numpy as np
import pytest
from scipy import stats

import lpgx


def uniform_setup(k=32, N=128, d=8, B=50):
    m = lpgx.LinearARModel(k, N, d)
    rng = np.random.default_rng(0)
    return m, rng.standard_normal((B, d)), rng.integers(0, k, (B, N))


def test_uniform_model_lq():
    k, N = 32, 128
    m, x, y = uniform_setup(k, N)
    for eps in (0.0, 0.1, 0.5):
        assert lpgx.likelihood_quantile(m, x, y, eps, log=True) == pytest.approx(-N * math.log(k), rel=1e-12)
        assert lpgx.token_likelihood_quantile(m, x, y, eps) == pytest.approx(1 / k, rel=1e-12)
    assert lpgx.likelihood_quantile(m, x, y, 0.1) == pytest.approx(k ** -N, rel=1e-9)  # 1e-193: no underflow
    assert lpgx.sequence_error(m, x, y) == pytest.approx(1.0)


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.1, 0.29, 0.3, 0.5, 0.99])
def test_lq_matches_definition(eps):
    # α = sup{a : F(a) ≤ ε} for the right-continuous empirical CDF F is the unique value
    # with F(α−) ≤ ε < F(α); ties on purpose, and ε·n landing on integers.
    rng = np.random.default_rng(1)
    vals = np.log(np.round(rng.random(100), 2))
    got = lpgx.quantile_of_log_values(vals, eps, log=True)
    assert got in vals
    assert (vals < got).mean() <= eps < (vals <= got).mean()
    assert lpgx.quantile_of_log_values(vals, 1.0) == 1.0


def test_lq_array_eps_and_monotone():
    m = lpgx.LinearARModel(3, 4, 2)
    rng = np.random.default_rng(2)
    m.w = rng.standard_normal(m.num_params)
    x = rng.standard_normal((400, 2))
    y = rng.integers(0, 3, (400, 4))
    eps = np.linspace(0, 0.99, 23)
    lq = lpgx.likelihood_quantile(m, x, y, eps)
    assert lq.shape == eps.shape and np.all(np.diff(lq) >= 0)
    q = np.exp(m.log_prob(x, y))
    for e, a in zip(eps, lq):  # sup property: F(α-) ≤ ε < F(α) unless the max
        assert (q < a).mean() <= e + 1e-12
    tlq = lpgx.token_likelihood_quantile(m, x, y, eps)
    assert np.all(tlq >= lq - 1e-15)  # min_i q_i ≥ Π_i q_i
    with pytest.raises(ValueError, match="eps"):
        lpgx.likelihood_quantile(m, x, y, 1.5)


def test_coverage_and_alpha_tail():
    m = lpgx.LinearARModel(3, 4, 2)
    rng = np.random.default_rng(3)
    m.w = rng.standard_normal(m.num_params)
    x = rng.standard_normal((300, 2))
    y = rng.integers(0, 3, (300, 4))
    q = np.exp(m.log_prob(x, y))
    alpha = np.array([0.0, 1e-3, 0.01, 0.05, 0.2, 1.0])
    np.testing.assert_allclose(lpgx.coverage(m, x, y, alpha), [(q <= a).mean() for a in alpha])
    np.testing.assert_allclose(lpgx.alpha_tail(m, x, y, alpha), [a * (q > a).mean() for a in alpha])
    np.testing.assert_allclose(lpgx.coverage(m, x, y, np.log(alpha[1:]), log_alpha=True),
                               [(q <= a).mean() for a in alpha[1:]])


def test_pass_at_k_matches_combinatorics():
    for n in (1, 5, 20, 64):
        for c in range(n + 1):
            for k in sorted({1, min(2, n), n}):
                want = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert lpgx.pass_at_k(n, c, k) == pytest.approx(want, abs=1e-12)
    np.testing.assert_allclose(lpgx.pass_at_k(np.array([10, 10]), np.array([0, 3]), 2),
                               [0.0, 1 - math.comb(7, 2) / math.comb(10, 2)])
    assert lpgx.pass_at_k(10_000, 1, 1) == pytest.approx(1e-4)
    with pytest.raises(ValueError):
        lpgx.pass_at_k(5, 6, 1)
    with pytest.raises(TypeError):
        lpgx.pass_at_k(5.0, 1, 1)


def test_monte_carlo_likelihood_is_binomial():
    m = lpgx.LinearARModel(3, 3, 2)
    rng = np.random.default_rng(4)
    m.w = rng.standard_normal(m.num_params)
    x = rng.standard_normal((20, 2))
    y = m.greedy(x)
    q = np.exp(m.log_prob(x, y))
    n = 4000
    hits = lpgx.mc_hits(m, x, y, n, rng=9)
    # two-sided binomial test per context, Bonferroni over 20 contexts at level 1e-3
    pvals = [stats.binomtest(int(h), n, float(p)).pvalue for h, p in zip(hits, q)]
    assert min(pvals) > 1e-3 / 20
    np.testing.assert_array_equal(lpgx.mc_likelihood(m, x, y, n, rng=9), hits / n)
    np.testing.assert_array_equal(hits, lpgx.mc_hits(m, x, y, n, rng=9, n_threads=1))
