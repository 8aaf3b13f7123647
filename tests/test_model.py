"""The model engine against the independent numpy reference, finite differences and
exact enumeration."""
import itertools
import pickle

import numpy as np
import pytest
from scipy import stats

import lpgx
import reference as ref
from conftest import ALL_BLOCK_SETS
import cases


def random_model(blocks, k=4, N=5, d=3, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    m, x = cases.random_model(rng, scale, 6, k, N, d, blocks=blocks)
    y = rng.integers(0, k, size=(6, N))
    return m, x, y


@pytest.mark.parametrize("blocks", ALL_BLOCK_SETS, ids="+".join)
def test_matches_reference(blocks):
    m, x, y = random_model(blocks)
    k, N, d = m.shape
    assert m.num_params == ref.num_params(k, N, d, blocks)
    want = ref.token_log_probs(k, N, d, blocks, m.w, x, y)
    got = m.token_log_prob(x, y)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m.log_prob(x, y), want.sum(1), rtol=1e-10)
    weights = np.random.default_rng(1).standard_normal(y.shape)
    np.testing.assert_allclose(m.grad_log_prob(x, y, weights), ref.grad(k, N, d, blocks, m.w, x, y, weights),
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(m.greedy(x), ref.greedy(k, N, d, blocks, m.w, x))


@pytest.mark.parametrize("blocks", [("context", "prev_token"), ("context", "prev_token", "position", "bias"),
                                    ("prev_token", "context_position")], ids="+".join)
@pytest.mark.parametrize("k", [65, 72, 130, 136])
@pytest.mark.parametrize("B", [8, 40, 100], ids=["few-prev", "most-prev", "two-per-chunk"])
def test_large_vocabulary_gradient_matches_reference(blocks, k, B):
    """Past 64 tokens the prev-token block's gradient is summed as columns, one per previous
    token that occurs (or as sparse rows with context_position): against the reference, with
    zero weights that the engine skips, previous tokens in one chunk of sequences or in several
    (B = 100: two sequences per chunk), identical bits for 1 and 2 threads, and the sparse form
    holding the dense form's bits. W2's columns are written into the result a few rows at a
    time; the bits must not depend on where the result lies (arrays of other sizes in between
    move it)."""
    rng = np.random.default_rng(k)
    N, d = 6, 3
    m, x = cases.random_model(rng, 0.5, B, k, N, d, blocks=blocks)
    y = m.sample(x, rng=1)
    y[:, 1] = y[0, 1]  # many positions after the same previous token
    if B > 8:  # every previous token occurs
        cover = y[:, [0, 2, 3, 4]].ravel()
        cover[:k] = np.arange(k)
        y[:, [0, 2, 3, 4]] = cover.reshape(B, 4)
    weights = rng.standard_normal((B, N)) * (rng.random((B, N)) < 0.8)
    prevs = np.unique(y[:, :-1][weights[:, 1:] != 0])
    assert (2 * prevs.size <= k) == (B == 8)
    g1 = m.grad_log_prob(x, y, weights, n_threads=1)
    np.testing.assert_array_equal(g1, m.grad_log_prob(x, y, weights, n_threads=2))
    np.testing.assert_allclose(g1, ref.grad(k, N, d, blocks, m.w, x, y, weights), rtol=1e-9, atol=1e-11)
    keep = []
    for size in (1, 3, 5, 7):
        keep.append(np.empty(size))
        np.testing.assert_array_equal(m.grad_log_prob(x, y, weights, n_threads=2), g1)
    for nt in (1, 2):
        sg = m.grad_log_prob(x, y, weights, n_threads=nt, sparse=True)
        np.testing.assert_array_equal(sg.prev_tokens, prevs)
        np.testing.assert_array_equal(sg.to_dense(), g1)


def test_default_layout_is_spec_layout():
    k, N, d = 3, 4, 2
    m = lpgx.LinearARModel(k, N, d)
    w1 = np.arange(d * k, dtype=float).reshape(d, k)
    w2 = 100 + np.arange(k * k, dtype=float).reshape(k, k)
    m.w = np.concatenate([w1.ravel(), w2.ravel()])
    np.testing.assert_array_equal(m.block("context"), w1)
    np.testing.assert_array_equal(m.block("prev_token"), w2)
    m.block("prev_token")[1, 2] = -7.0  # views write through
    assert m.w[d * k + 1 * k + 2] == -7.0
    with pytest.raises(ValueError, match="read-only"):  # model.w is a snapshot: writes there would be lost
        m.w[0] = 1.0
    with pytest.raises(KeyError, match="bias"):
        m.block("bias")


def test_gradient_finite_differences():
    blocks = ("context", "prev_token", "position", "context_position", "bias")
    m, x, y = random_model(blocks, k=3, N=4, d=2, scale=0.7)
    weights = np.random.default_rng(2).standard_normal(y.shape)

    def f(w):
        mm = m.copy()
        mm.w = w
        return float((weights * mm.token_log_prob(x, y)).sum())

    g = m.grad_log_prob(x, y, weights)
    h = 1e-6
    fd = np.array([(f(m.w + h * e) - f(m.w - h * e)) / (2 * h) for e in np.eye(m.num_params)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


def test_weights_per_sequence_broadcast():
    m, x, y = random_model(("context", "prev_token"))
    wb = np.random.default_rng(3).standard_normal(x.shape[0])
    np.testing.assert_allclose(m.grad_log_prob(x, y, wb),
                               m.grad_log_prob(x, y, np.repeat(wb[:, None], m.seq_len, 1)), rtol=1e-14)
    np.testing.assert_allclose(m.grad_log_prob(x, y), m.grad_log_prob(x, y, np.ones(x.shape[0])), rtol=1e-14)


@pytest.mark.parametrize("blocks", [("context", "prev_token"), ("position", "bias"), ("context_position",)],
                         ids="+".join)
def test_probabilities_sum_to_one(blocks):
    m, x, _ = random_model(blocks, k=3, N=4, d=2, scale=1.5)
    seqs = np.array(list(itertools.product(range(3), repeat=4)))
    for xb in x[:3]:
        lp = m.log_prob(np.repeat(xb[None], len(seqs), 0), seqs)
        assert abs(np.exp(lp).sum() - 1.0) < 1e-12


def test_sample_frequencies_chi_square():
    m, x, _ = random_model(("context", "prev_token", "position"), k=3, N=3, d=2, scale=1.0)
    seqs = np.array(list(itertools.product(range(3), repeat=3)))
    probs = np.exp(m.log_prob(np.repeat(x[:1], len(seqs), 0), seqs))
    n = 60_000
    ys = m.sample(np.repeat(x[:1], n, 0), rng=7)
    codes = (ys * np.array([9, 3, 1])).sum(1)
    observed = np.bincount(codes, minlength=27)
    _, p = stats.chisquare(observed, probs * n)
    assert p > 1e-4, p


def test_sample_log_prob_consistent():
    m, x, _ = random_model(("context", "prev_token", "bias"), scale=2.0)
    y, lp = m.sample(x, rng=1, return_log_prob=True)
    np.testing.assert_allclose(lp, m.token_log_prob(x, y), rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(not lpgx.openmp_enabled(), reason="needs OpenMP")
def test_thread_count_does_not_change_results():
    m, _, _ = random_model(("context", "prev_token"), k=8, N=32, d=5, scale=0.5)
    x = np.random.default_rng(4).standard_normal((300, 5))
    y1 = m.sample(x, rng=11, n_threads=1)
    y2 = m.sample(x, rng=11, n_threads=2)
    y4 = m.sample(x, rng=11, n_threads=4)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(y1, y4)
    g1 = m.grad_log_prob(x, y1, n_threads=1)
    g2 = m.grad_log_prob(x, y1, n_threads=2)
    assert np.array_equal(g1, g2)  # bitwise: fixed reduction order


def test_rng_forms():
    m, x, _ = random_model(("context", "prev_token"), scale=0.5)
    a = m.sample(x, rng=5)
    np.testing.assert_array_equal(a, m.sample(x, rng=np.random.default_rng(5)))
    np.testing.assert_array_equal(a, m.sample(x, rng=np.random.SeedSequence(5)))
    assert not np.array_equal(a, m.sample(x, rng=6))
    g = np.random.default_rng(0)
    assert not np.array_equal(m.sample(x, rng=g), m.sample(x, rng=g))  # a Generator advances
    with pytest.raises(TypeError, match="rng"):
        m.sample(x, rng="seed")
    with pytest.raises(TypeError, match="rng"):
        m.sample(x, rng=1.5)


def test_long_sequences_do_not_underflow():
    k, N = 32, 4000
    m = lpgx.LinearARModel(k, N, 4)
    x = np.ones((2, 4))
    y = m.sample(x, rng=0)
    lp = m.log_prob(x, y)
    np.testing.assert_allclose(lp, -N * np.log(k), rtol=1e-12)


def test_persistence_and_pickle(tmp_path):
    m, x, y = random_model(("context", "prev_token", "bias"))
    path = tmp_path / "m.npz"
    m.save(path)
    m2 = lpgx.LinearARModel.load(path)
    assert m2 == m and m2.blocks == m.blocks
    assert np.array_equal(m2.w, m.w)
    m3 = pickle.loads(pickle.dumps(m))
    assert m3 == m
    c = m.copy()
    c.block(c.blocks[0]).flat[0] += 1
    assert c != m
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind


def test_load_rejects_damaged_files(tmp_path):
    m, _, _ = random_model(("context",))
    path = tmp_path / "m.npz"
    m.save(path)
    raw = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="trunc.npz"):
        lpgx.LinearARModel.load(tmp_path / "trunc.npz")
    np.savez(tmp_path / "foreign.npz", w=m.w)
    with pytest.raises(ValueError, match="not an lpgx"):
        lpgx.LinearARModel.load(tmp_path / "foreign.npz")
    # tamper with a weight but keep a valid zip: checksum must catch it
    arrays = dict(np.load(path))
    arrays["w"] = arrays["w"] + 1
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(ValueError, match="checksum"):
        lpgx.LinearARModel.load(tmp_path / "tampered.npz")


def test_softmax_exp_within_a_few_ulp():
    # The engine's own exp (cpp/lpgx/vexp.hpp) on the softmax's whole range [-700, 0].
    rng = np.random.default_rng(0)
    x = np.concatenate([-700.0 * rng.random(200_000), -rng.random(200_000), -1e-12 * rng.random(1000),
                        [0.0, -700.0, -np.log(2) / 2, -np.log(2), -1e-300]])
    got = lpgx._core._exp_nonpositive(x)
    want = np.exp(x)
    assert np.all(np.abs(got - want) <= 3 * np.spacing(want))  # measured: at most 2 ulp from numpy
    assert got[x == 0.0].tolist() == [1.0]  # the max's term is exactly 1
    with pytest.raises(ValueError, match="x must lie in"):
        lpgx._core._exp_nonpositive(np.array([1.0]))


@pytest.mark.parametrize("k", [8, 5])  # the vectorised and the scalar token draw
def test_memoised_and_per_token_paths_agree(k):
    # Without position blocks each next-token distribution is computed once per sequence and
    # previous token, then recalled; a zero position block forces the per-token path on the
    # same policy. Samples, log-probs and greedy decodes must agree bit for bit, gradients
    # (summed per distribution instead of per token) to rounding.
    N, d = 40, 5
    rng = np.random.default_rng(7)
    m = lpgx.LinearARModel(k, N, d)
    m.w = rng.standard_normal(m.num_params)
    mp = lpgx.LinearARModel(k, N, d, blocks=("context", "prev_token", "position"))
    mp.block("context")[:] = m.block("context")
    mp.block("prev_token")[:] = m.block("prev_token")
    x = rng.standard_normal((200, d))
    y, lp = m.sample(x, rng=3, return_log_prob=True)
    yp, lpp = mp.sample(x, rng=3, return_log_prob=True)
    np.testing.assert_array_equal(y, yp)
    assert np.array_equal(lp, lpp)
    assert np.array_equal(m.token_log_prob(x, y), mp.token_log_prob(x, y))
    np.testing.assert_array_equal(m.greedy(x), mp.greedy(x))
    weights = rng.standard_normal(y.shape)
    g, gp = m.grad_log_prob(x, y, weights), mp.grad_log_prob(x, y, weights)
    np.testing.assert_allclose(g, gp[:m.num_params], rtol=1e-12, atol=1e-12 * np.abs(g).max())
