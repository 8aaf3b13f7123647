"""grad_log_prob(sparse=True): W2's gradient as the columns of the previous tokens that occur.

Checked against the dense gradient (bit for bit: the same sums), an independent numpy
computation of the columns at vocabularies in the thousands, and the reference's gradient
through to_dense; plus the methods that use the sparse form without densifying it."""
import numpy as np
import pytest

import lpgx
import cases
from conftest import ALL_BLOCK_SETS


def setting(blocks, k, N=5, d=3, B=9, seed=0):
    rng = np.random.default_rng(seed)
    m, x = cases.random_model(rng, 0.5, B, k, N, d, blocks=blocks)
    y = m.sample(x, rng=seed + 1)
    weights = rng.standard_normal((B, N)) * (rng.random((B, N)) < 0.7)
    return m, x, y, weights


def prev_tokens(y, weights):
    return np.unique(y[:, :-1][weights[:, 1:] != 0])


def columns_numpy(m, x, y, weights):
    """∂/∂W2[:, p] for every previous token p of a weighted token, straight from the definition
    (default blocks): Σ over tokens i ≥ 1 after p of a_i (e_{y_i} − softmax(xᵀW1 + W2[:, p]))."""
    W1, W2 = m.block("context"), m.block("prev_token")
    out = {}
    for b in range(x.shape[0]):
        for i in range(1, m.seq_len):
            if weights[b, i] == 0:
                continue
            p = int(y[b, i - 1])
            logits = x[b] @ W1 + W2[:, p]
            q = np.exp(logits - logits.max())
            q /= q.sum()
            g = -weights[b, i] * q
            g[y[b, i]] += weights[b, i]
            out[p] = out.get(p, 0.0) + g
    return out


@pytest.mark.parametrize("blocks", [b for b in ALL_BLOCK_SETS if "prev_token" in b], ids="+".join)
@pytest.mark.parametrize("k", [6, 70])
def test_sparse_holds_the_dense_bits(blocks, k):
    m, x, y, weights = setting(blocks, k)
    for wts in (None, weights[:, 0], weights):
        dense, logp = m.grad_log_prob(x, y, wts, return_log_prob=True)
        for nt in (1, 2):
            g, logp_s = m.grad_log_prob(x, y, wts, n_threads=nt, sparse=True, return_log_prob=True)
            assert isinstance(g, lpgx.SparseGradient)
            np.testing.assert_array_equal(g.to_dense(), dense)
            np.testing.assert_array_equal(logp_s, logp)
            off, shape = g.layout["prev_token"]
            assert not g.rest[off:off + k * k].any()  # the block lives in the columns only
    g = m.grad_log_prob(x, y, weights, sparse=True)
    np.testing.assert_array_equal(g.prev_tokens, prev_tokens(y, weights))
    assert g.prev_tokens.dtype == np.int32 and g.prev_columns.shape == (g.prev_tokens.size, k)


def test_without_prev_token_block_or_weights():
    m, x, y, weights = setting(("context", "bias"), 8)
    g = m.grad_log_prob(x, y, weights, sparse=True)
    assert g.prev_tokens.size == 0 and g.prev_columns.shape == (0, 8)
    np.testing.assert_array_equal(g.to_dense(), m.grad_log_prob(x, y, weights))
    m, x, y, _ = setting(("context", "prev_token"), 100)
    g = m.grad_log_prob(x, y, np.zeros(y.shape), sparse=True)
    assert g.prev_tokens.size == 0 and g.squared_norm() == 0.0 and not g.to_dense().any()


@pytest.mark.parametrize("k", [2048, 2050])  # rows of a cache line's multiple, and not
def test_large_vocabulary_columns_against_numpy(k):
    """Rows written with streaming stores (k ≥ 2048), from a recycled buffer: a second call's
    table comes from the first one's, once that is let go, and holds its stale values until
    each row is written."""
    m, x, y, weights = setting(("context", "prev_token"), k, N=7, d=4, B=6, seed=3)
    y[1:3, 2:5] = y[0, 2:5]  # previous tokens in several sequences (and chunks)
    for rep in range(2):
        g = m.grad_log_prob(x, y, weights, sparse=True)
        want = columns_numpy(m, x, y, weights)
        assert sorted(want) == list(g.prev_tokens)
        for j, p in enumerate(g.prev_tokens):
            np.testing.assert_allclose(g.prev_columns[j], want[int(p)], rtol=1e-10, atol=1e-14)
        del g
        weights = weights[::-1].copy()  # another gradient of the same size on the second pass


def test_results_alive_are_not_reused():
    m, x, y, weights = setting(("context", "prev_token"), 3000, N=6, B=4, seed=5)
    g1 = m.grad_log_prob(x, y, weights, sparse=True)
    kept = g1.prev_columns.copy()
    for _ in range(3):
        g2 = m.grad_log_prob(x, y, -weights, sparse=True)
        np.testing.assert_array_equal(g2.prev_columns, -kept)
    np.testing.assert_array_equal(g1.prev_columns, kept)


@pytest.mark.parametrize("blocks", [("context", "prev_token", "position", "bias"), ("prev_token",)], ids="+".join)
def test_add_to_and_norm(blocks):
    m, x, y, weights = setting(blocks, 90)
    g = m.grad_log_prob(x, y, weights, sparse=True)
    dense = g.to_dense()
    np.testing.assert_allclose(g.squared_norm(), dense @ dense, rtol=1e-12)
    w = m.w.copy()
    g.add_to(w, -0.25)
    np.testing.assert_array_equal(w, m.w + -0.25 * dense)
    m2 = m.copy()
    g.add_to(m2, 2.0)  # through the live blocks (W2 kept transposed by the engine)
    np.testing.assert_array_equal(m2.w, m.w + 2.0 * dense)


def test_add_to_rejects_a_wrong_target():
    m, x, y, weights = setting(("context", "prev_token"), 9)
    g = m.grad_log_prob(x, y, weights, sparse=True)
    for bad in (np.zeros(m.num_params - 1), np.zeros(m.num_params, np.float32), m.w,
                lpgx.LinearARModel(9, 5, 4), [0.0] * m.num_params):
        with pytest.raises(ValueError, match="target"):
            g.add_to(bad)
    for bad_scale in (np.nan, np.inf):
        with pytest.raises(ValueError, match="scale"):
            g.add_to(m.w.copy(), bad_scale)
    with pytest.raises(TypeError, match="sparse"):
        m.grad_log_prob(x, y, weights, sparse="yes")
