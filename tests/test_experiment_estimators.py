"""The estimators experiment in a tiny setting: equal query budgets across estimators, the
Figure-1 base model and Reinforce run reproduced exactly, the staircase's common first
success, the KL's stall below its threshold, save/load, the plots and the command line."""
import json

import numpy as np
import pytest

import lpgx
from lpgx import cli
from lpgx.experiments import practice_estimators as pe

pytest.importorskip("joblib")

TINY = dict(seq_len=10, pre_steps=20, post_steps=30, queries_per_step=64, test_size=64, test_every=10,
            track_every=5, seeds=2, stair_alphas=[0.3, 0.03], stair_seeds=2, stair_min_queries=20000)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("estimators")
    res = lpgx.experiments.estimators(out=out, quick=True, backend="sequential", plot=False, **TINY)
    return res, out


def test_every_run_spends_the_same_queries(tiny):
    res, _ = tiny
    cfg = res.config
    assert len(res.runs) == len(pe.ESTIMATORS) * 2 * TINY["seeds"]
    budget = TINY["post_steps"] * TINY["queries_per_step"]
    for r in res.runs:
        assert r["queries"] == budget
        assert r["test_queries"][-1] == budget and r["track_queries"][-1] == budget
        assert r["test_queries"] == [s * TINY["queries_per_step"] for s in range(0, 31, 10)]
    assert {(r["reward"], r["estimator"]) for r in res.runs} == {(w, e) for w in cfg["rewards"] for e in pe.ESTIMATORS}
    assert [t["queries_mean"] for t in res.table()] == [budget] * len(res.table())
    # reuse epochs cost no queries but take their updates
    clipped = res.select(estimator="grpo_clip")
    assert all(np.isfinite(r["clipped"]) for r in clipped)
    assert all(np.isnan(r["clipped"]) for r in res.select(estimator="grpo"))


def test_the_base_model_and_the_reinforce_run_are_figure1s(tiny):
    res, _ = tiny
    cfg = res.config
    f1 = {k: cfg[k] for k in pe._FIGURE1_KEYS}
    fig = lpgx.experiments.figure1(seed=1, quick=True, plot=False, post_steps=cfg["post_steps"],
                                   post_batch=cfg["queries_per_step"], rewards=["outcome"], **f1)
    run = res.select(estimator="reinforce", reward="outcome", seed=1)[0]
    assert run["test_error_curve"] == fig.post["outcome"].test_error.tolist()
    off = fig.off_support_mean_likelihood("outcome")[::cfg["track_every"]]
    assert np.array_equal(run["off_support_curve"], off, equal_nan=True)
    assert run["n_off_support"] == int(fig.off_support.sum())
    # every estimator starts from that base model
    assert {r["test_error_curve"][0] for r in res.select(seed=1)} == {fig.post["outcome"].test_error[0]}


def test_staircase_first_success_is_common_and_precedes_the_target(tiny):
    res, _ = tiny
    assert len(res.stairs) == len(pe.ESTIMATORS) * 2 * TINY["stair_seeds"]
    first = res.stair_matrix("first_success", "reinforce")
    for name in pe.ESTIMATORS:  # the model is the base until a first correct response
        assert np.array_equal(res.stair_matrix("first_success", name), first)
        q = res.stair_matrix("queries", name)
        assert np.all(q >= first) and np.all(q % res.config["stair_queries_per_step"] == 0)
    assert res.notes["first success identical across estimators"] == "yes"
    assert res.stair_matrix("reached", "reinforce").all()
    assert "reinforce: target" in res.fits


def test_a_strong_kl_to_the_base_stalls_where_grpo_climbs():
    """β·KL(π‖base) has a fixed point near the base once α is below about β/(2e(N−1)); β = 1 puts
    α = 0.01 far below it, while GRPO alone reaches the target."""
    setting = dict(vocab_size=4, seq_len=6, queries_per_step=64, eps=0.5, lr=0.1, patience=10.0, min_queries=30000)
    plain = pe.cell_staircase({"name": "grpo", "group_size": 8}, 0.01, setting, 0)
    kl = pe.cell_staircase({"name": "grpo_kl", "group_size": 8, "kl": 1.0, "kl_estimator": "exact"}, 0.01, setting, 0)
    assert plain["reached"] and plain["queries"] < 30000
    assert not kl["reached"] and kl["first_success"] == plain["first_success"]
    assert kl["final_log_lik"] < np.log(0.05)


def test_save_load_round_trip_and_plots(tiny):
    res, out = tiny
    back = pe.EstimatorsResult.load(out)
    assert json.dumps(back.runs) == json.dumps(res.runs) and json.dumps(back.stairs) == json.dumps(res.stairs)
    assert back.notes == res.notes
    assert {k: vars(f) for k, f in back.fits.items()} == {k: vars(f) for k, f in res.fits.items()}
    assert back.markdown() == res.markdown()
    pytest.importorskip("matplotlib")
    fig = back.plot(out)
    assert fig.axes and fig.axes[0].get_legend() is not None
    assert (out / "estimators_curves.png").exists() and (out / "estimators_staircase.png").exists()
    assert back.plot_staircase().axes


@pytest.mark.parametrize("overrides,exc,match", [
    (dict(queries_per_step=100), ValueError, "queries_per_step"),
    (dict(pass_k=9), ValueError, "pass_k"),
    (dict(estimators=["grpo", "ppo"]), ValueError, r"estimators\[1\]"),
    (dict(kl_estimator="k4"), ValueError, "kl_estimator"),
    (dict(bogus=1), TypeError, "bogus"),
])
def test_settings_are_checked_before_any_run(overrides, exc, match, monkeypatch):
    monkeypatch.setattr(pe, "sweep", lambda *a, **k: pytest.fail("a run started"))
    with pytest.raises(exc, match=match):
        lpgx.experiments.estimators(**overrides)


def test_cli_dry_run_and_seeds(capsys, monkeypatch):
    monkeypatch.setattr(pe, "sweep", lambda *a, **k: pytest.fail("a run started"))
    assert cli.main(["estimators", *cli.EXAMPLES["estimators"], "--dry-run"]) == 0
    shown = dict(ln.split(None, 1) for ln in capsys.readouterr().out.splitlines()[1:])
    assert shown["seeds"] == "3" and shown["estimators"] == "reinforce,grpo,pass_at_k"
    with pytest.raises(SystemExit) as exc:
        cli.main(["estimators", "--seeds", "2", "--set", "seeds=3", "--dry-run"])
    assert exc.value.code == 2 and "--seeds" in capsys.readouterr().err
