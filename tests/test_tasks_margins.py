"""Tasks (theory §2) and margins (theory §3)."""
import numpy as np
import pytest

import lpgx
import reference as ref


def test_teacher_is_greedy_of_spec_formula():
    task = lpgx.TeacherTask(6, 5, 7, rng=3)
    x, y = task.sample(40, rng=1)
    w1s = task.teacher.block("context").T  # W1* (k×d)
    w2s = task.teacher.block("prev_token")
    for b in range(40):
        prev = None
        for i in range(7):
            z = w1s @ x[b] + (w2s[:, prev] if prev is not None else 0)
            assert y[b, i] == int(np.argmax(z))
            prev = y[b, i]


def test_inputs():
    task = lpgx.TeacherTask(8, 4, 3, inputs="rademacher", rng=0)
    x, comp = task.sample_inputs(500, rng=1)
    assert set(np.unique(x)) == {-1.0, 1.0} and np.all(comp == -1)
    assert abs(x.mean()) < 0.05
    task = lpgx.TeacherTask(8, 4, 3, inputs="mixture", num_mix=12, sigma=0.3, rng=0)
    x, comp = task.sample_inputs(4000, rng=1)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), np.sqrt(8), rtol=1e-12)
    assert set(np.unique(comp)) == set(range(12))
    # each x stays within the capped noise of its centre before rescaling
    centre = np.zeros_like(x)
    centre[np.arange(len(x)), comp % 8] = 1.0
    cos = (x * centre).sum(1) / np.sqrt(8)
    assert np.all(cos >= np.cos(np.arcsin(0.3)) - 1e-12)
    cx, cy = task.centres()
    assert cx.shape == (12, 8) and cy.shape == (12, 3)
    np.testing.assert_array_equal(cy, task.correct(cx))
    np.testing.assert_array_equal(task.sample_inputs(50, rng=5)[0], task.sample_inputs(50, rng=5)[0])


def test_planted_margin_recovered_exactly():
    # Combination lock (theory §8): one-hot contexts, weight a on (j, i, c_ji): margin 1/sqrt(M N), R = 1.
    M, N, k, a = 5, 4, 3, 2.5
    rng = np.random.default_rng(0)
    codes = rng.integers(0, k, (M, N))
    m = lpgx.LinearARModel(k, N, M, blocks=("context_position",))
    C = m.block("context_position")
    for j in range(M):
        C[j, np.arange(N), codes[j]] = a
    x = np.eye(M)
    res = lpgx.margins(m, x, codes)
    assert res.R == pytest.approx(1.0, rel=1e-15)
    assert res.w_norm == pytest.approx(a * np.sqrt(M * N), rel=1e-15)
    np.testing.assert_allclose(res.margin, 1 / np.sqrt(M * N), rtol=1e-14)
    np.testing.assert_array_equal(m.greedy(x), codes)


def test_margin_against_reference():
    task = lpgx.TeacherTask(4, 3, 5, rng=7)
    x, y = task.sample(30, rng=2)
    res = lpgx.margins(task.teacher, x, y)
    k, N, d = 3, 5, 4
    blocks = ("context", "prev_token")
    w = task.teacher.w
    R = max(np.linalg.norm(ref.phi(k, N, d, blocks, xb, list(yb[:i]), c))
            for xb, yb in zip(x, y) for i in range(N) for c in range(k))
    assert res.R == pytest.approx(R, rel=1e-12)
    for b in range(30):
        gaps = []
        for i in range(N):
            z = np.array([w @ ref.phi(k, N, d, blocks, x[b], list(y[b, :i]), c) for c in range(k)])
            gaps.append(min(z[y[b, i]] - z[c] for c in range(k) if c != y[b, i]))
        assert res.margin[b] == pytest.approx(min(gaps) / (np.linalg.norm(w) * R), rel=1e-10)
    assert res.gamma > 0
    # a response that is not the greedy decoding has a negative margin
    y_bad = y.copy()
    y_bad[:, 0] = (y_bad[:, 0] + 1) % k
    assert np.all(lpgx.margins(task.teacher, x, y_bad).margin < 0)


def test_min_margin_filter():
    task = lpgx.TeacherTask(8, 4, 6, rng=1)
    x_all, y_all = task.sample(2000, rng=0)
    gamma = float(np.quantile(lpgx.margins(task.teacher, x_all, y_all).margin, 0.5))
    x, y = task.sample(100, rng=3, min_margin=gamma)
    assert x.shape == (100, 8)
    assert np.all(lpgx.margins(task.teacher, x, y).margin >= gamma)
    with pytest.raises(ValueError, match="min_margin"):
        task.sample(10, rng=3, min_margin=0.9)
