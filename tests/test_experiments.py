"""The experiments: figure reproductions and rate checks in tiny settings (structure,
determinism, and that the measured quantities move the way the theory says)."""
import numpy as np
import pytest

import lpgx
from lpgx.experiments import rates

pytest.importorskip("joblib")


def test_fit_slope_recovers_a_line():
    x = np.arange(6.0)
    y = 2.5 * x[:, None] + 1.0 + np.random.default_rng(0).normal(0, 0.01, (6, 8))
    f = rates.fit_slope(x, y)
    assert f.slope == pytest.approx(2.5, abs=0.01) and f.low <= f.slope <= f.high and f.high - f.low < 0.05
    assert f.intercept == pytest.approx(1.0, abs=0.05)


def test_figure1_tiny(tmp_path):
    res = lpgx.experiments.figure1(out=tmp_path, seed=1, quick=True, plot=True, seq_len=12, pre_steps=30,
                                   post_steps=40, post_batch=64, test_size=64, test_every=10)
    assert set(res.post) == {"outcome", "process"}
    assert res.post["outcome"].tracked_log_lik.shape == (41, 32)
    assert (tmp_path / "figure1.npz").exists() and (tmp_path / "figure1.png").exists()
    back = lpgx.experiments.Figure1Result.load(tmp_path)
    assert np.array_equal(back.post["process"].test_error, res.post["process"].test_error)
    assert back.summary(steps=(0, 40))["process_test_error@40"] == res.post["process"].test_error[-1]
    # both rewards start from the same base model and see the same contexts
    assert res.post["outcome"].test_error[0] == res.post["process"].test_error[0]


def test_figure2_tiny(tmp_path):
    res = lpgx.experiments.figure2(out=tmp_path, quick=True, phases=3, phase_steps=20, eval_size=256, seq_len=20)
    assert res.log_lik.shape == (3, 256)
    lq = res.lq(np.array([0.1, 0.5]), log=True)
    assert np.all(np.diff(lq[:, 1]) > 0)  # more pre-training moves LQ towards 1
    assert (tmp_path / "figure2.pdf").exists()


def test_rates_tiny(tmp_path):
    kw = dict(backend="sequential", plot=False)
    a = rates.rates_alpha(out=tmp_path, alphas=[0.3, 0.03, 0.003], seeds=2, vocab_size=4, seq_len=6, **kw)
    assert 0.5 < a.fits["log queries vs log 1/alpha"].slope < 1.6
    assert rates.RateResult.load(tmp_path, "alpha").rows == a.rows
    ln = rates.rates_length(seq_lens=[2, 3, 4, 5], seeds=2, **kw)
    q_o = ln.matrix("queries", "seq_len", [2, 5], reward="outcome").mean(1)
    q_p = ln.matrix("queries", "seq_len", [2, 5], reward="process").mean(1)
    assert q_o[1] / q_o[0] > q_p[1] / q_p[0]  # outcome rewards suffer more from length
    s = rates.rates_sgd(seq_lens=[4, 32], budget=3000, pool=50, seeds=1, **kw)
    ec = s.matrix("error", "seq_len", [4, 32], step="constant").ravel()
    assert ec[1] > ec[0]
    o = rates.rates_online(num_contexts=[1, 4], rounds_per_context=300, seeds=1, **kw)
    assert o.matrix("expected_mistakes", "num_contexts", [4]).mean() > o.matrix("expected_mistakes", "num_contexts", [1]).mean()
    b = rates.lq_barrier(budgets=[1, 1000], steps=400, seeds=1, **kw)
    e = b.matrix("error", "m", [1, 1000]).ravel()
    assert e[1] < e[0]  # a bigger exploration budget gets further below the base model's LQ


def test_cli_quick_figure1(tmp_path, capsys):
    from lpgx.cli import main
    assert main(["figure1", "--quick", "--out", str(tmp_path), "--set", "seq_len=10", "pre_steps=10",
                 "post_steps=20", "post_batch=32", "test_size=32", "test_every=5"]) == 0
    out = capsys.readouterr().out
    assert "outcome_test_error@0" in out and (tmp_path / "seed0" / "figure1.npz").exists()
    assert main(["plot", str(tmp_path / "seed0")]) == 0
