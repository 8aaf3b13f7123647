"""Bad input raises a clear Python exception naming the argument."""
import numpy as np
import pytest

import lpgx


@pytest.fixture
def setup():
    m = lpgx.LinearARModel(4, 5, 3)
    x = np.zeros((2, 3))
    y = np.zeros((2, 5), dtype=np.int64)
    return m, x, y


def test_constructor_arguments():
    with pytest.raises(ValueError, match="vocab_size"):
        lpgx.LinearARModel(0, 5, 3)
    with pytest.raises(TypeError, match="seq_len"):
        lpgx.LinearARModel(4, 2.5, 3)
    with pytest.raises(ValueError, match="blocks"):
        lpgx.LinearARModel(4, 5, 3, blocks=("context", "nope"))
    with pytest.raises(ValueError, match="blocks"):
        lpgx.LinearARModel(4, 5, 3, blocks=())
    with pytest.raises(MemoryError):
        lpgx.LinearARModel(10**6, 10**6, 10**6, blocks=("context_position",))
    with pytest.raises(ValueError, match="w"):
        lpgx.LinearARModel(4, 5, 3, w=np.zeros(7))


def test_w_assignment(setup):
    m, _, _ = setup
    with pytest.raises(ValueError, match="w must have shape"):
        m.w = np.zeros(m.num_params + 1)
    with pytest.raises(ValueError, match="NaN"):
        m.w = np.full(m.num_params, np.nan)
    with pytest.raises(TypeError, match="w"):
        m.w = np.array(["a"] * m.num_params)


@pytest.mark.parametrize("bad, exc, msg", [
    (np.zeros((2, 4)), ValueError, "x must have shape"),
    (np.zeros(3), ValueError, "x must have shape"),
    (np.zeros((0, 3)), ValueError, "x is empty"),
    (np.full((2, 3), np.inf), ValueError, "x contains NaN"),
    (np.array([["a", "b", "c"]]), TypeError, "x must be a real"),
    (np.ones((2, 3), dtype=bool), TypeError, "x must be a real"),
])
def test_bad_contexts(setup, bad, exc, msg):
    m, _, y = setup
    for call in (lambda: m.sample(bad), lambda: m.greedy(bad), lambda: m.log_prob(bad, y[: len(bad)]),
                 lambda: m.grad_log_prob(bad, y[: len(bad)])):
        with pytest.raises(exc, match=msg):
            call()


@pytest.mark.parametrize("bad, exc, msg", [
    (np.full((2, 5), 4), ValueError, "y has tokens outside"),
    (np.full((2, 5), -1), ValueError, "y has tokens outside"),
    (np.zeros((2, 4), dtype=int), ValueError, "y must have shape"),
    (np.zeros((3, 5), dtype=int), ValueError, "y must have shape"),
    (np.zeros((2, 5)), TypeError, "y must be an integer"),
])
def test_bad_tokens(setup, bad, exc, msg):
    m, x, _ = setup
    with pytest.raises(exc, match=msg):
        m.log_prob(x, bad)
    with pytest.raises(exc, match=msg):
        m.grad_log_prob(x, bad)
    with pytest.raises(exc, match=msg):
        lpgx.margins(m, x, bad)


def test_bad_weights_threads_and_model(setup):
    m, x, y = setup
    with pytest.raises(ValueError, match="weights"):
        m.grad_log_prob(x, y, np.ones(3))
    with pytest.raises(ValueError, match="weights"):
        m.grad_log_prob(x, y, np.full((2, 5), np.nan))
    with pytest.raises(ValueError, match="n_threads"):
        m.sample(x, n_threads=0)
    with pytest.raises(TypeError, match="model"):
        lpgx.likelihood_quantile("not a model", x, y, 0.1)
    with pytest.raises(ValueError, match="x must have shape"):
        lpgx.sequence_error(lpgx.LinearARModel(4, 5, 7), x, y)


def test_non_contiguous_and_readonly_inputs(setup):
    m, _, _ = setup
    m.w = np.random.default_rng(0).standard_normal(m.num_params)
    x = np.asfortranarray(np.random.default_rng(1).standard_normal((12, 3)))[::2]
    y = np.random.default_rng(2).integers(0, 4, (6, 10))[:, ::2].astype(np.int16)
    x.setflags(write=False)
    got = m.log_prob(x, y)
    np.testing.assert_allclose(got, m.log_prob(np.ascontiguousarray(x), np.ascontiguousarray(y)))


def test_extreme_weights_raise_instead_of_nan(setup):
    m, x, y = setup
    m.w = np.full(m.num_params, 1e300)
    x = np.full((2, 3), 1e300)
    with pytest.raises(ValueError, match="non-finite logits"):
        m.log_prob(x, y)
    with pytest.raises(ValueError, match="non-finite logits"):
        m.sample(x)
