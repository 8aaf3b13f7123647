"""Figure 1 over seeds: bootstrap intervals, training axes, the barrier map's predictor, the
multi-seed sweep (resume, backends), the algorithms at matched budgets and the CLI."""
import csv
import json
import os

import numpy as np
import pytest

import lpgx
from lpgx import cli
from lpgx.experiments import _axes, _stats, barrier_map, figure1, figure1_seeds
from lpgx.experiments import paper_figure1_algorithms as algos
from lpgx.experiments import paper_figure1_seeds as fs
from lpgx.planted import combination_lock

# a Figure 1 small enough for a test: well under a second per seed
TINY = dict(quick=True, seq_len=16, pre_steps=60, post_steps=40, post_batch=64, test_size=128, test_every=10,
            off_support=1e-3)


# -- bootstrap intervals ------------------------------------------------------------------

def test_mean_ci_covers_a_known_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(300):
        ci = _stats.mean_ci(rng.normal(3.0, 2.0, size=30), n_boot=2000, seed=int(rng.integers(1 << 30)))
        hits += ci.low <= 3.0 <= ci.high
    # percentile bootstrap at n = 30 undercovers slightly; 300 draws: ±2.5% binomial s.d.
    assert 0.86 <= hits / 300 <= 0.99


def test_mean_ci_matches_the_normal_interval_for_many_values():
    x = np.random.default_rng(1).exponential(size=4000)
    ci = _stats.mean_ci(x, n_boot=4000)
    half = 1.96 * x.std(ddof=1) / np.sqrt(x.size)
    assert ci.mean == pytest.approx(x.mean())
    assert ci.low == pytest.approx(x.mean() - half, abs=0.15 * half)
    assert ci.high == pytest.approx(x.mean() + half, abs=0.15 * half)


def test_mean_ci_is_reproducible_and_shrinks_like_one_over_root_n():
    rng = np.random.default_rng(2)
    small, large = rng.normal(size=25), rng.normal(size=2500)
    assert _stats.mean_ci(small) == _stats.mean_ci(small)
    assert _stats.mean_ci(small, seed=1) != _stats.mean_ci(small, seed=2)
    w_small = _stats.mean_ci(small).high - _stats.mean_ci(small).low
    w_large = _stats.mean_ci(large).high - _stats.mean_ci(large).low
    assert 6 < w_small / w_large < 14  # √100 = 10


def test_mean_ci_of_a_constant_is_a_point():
    ci = _stats.mean_ci([0.25] * 7)
    assert (ci.mean, ci.low, ci.high, ci.n) == (0.25, 0.25, 0.25, 7)
    assert str(ci) == "0.250 [0.250, 0.250]"


@pytest.mark.parametrize("values, match", [([], "values is empty"), ([1.0, np.nan], "NaN"),
                                           ([[1.0, 2.0]], "one-dimensional")])
def test_mean_ci_rejects_bad_values(values, match):
    with pytest.raises(ValueError, match=match):
        _stats.mean_ci(values)


def test_mean_ci_rejects_bad_level_and_n_boot():
    with pytest.raises(ValueError, match="level"):
        _stats.mean_ci([1.0, 2.0], level=1.0)
    with pytest.raises(ValueError, match="n_boot"):
        _stats.mean_ci([1.0, 2.0], n_boot=0)


def test_curve_band_resamples_whole_seeds():
    rng = np.random.default_rng(3)
    curves = rng.normal(size=(12, 5)) + np.arange(5)
    mean, low, high = _stats.curve_band(curves)
    np.testing.assert_allclose(mean, curves.mean(0))
    assert np.all(low <= mean) and np.all(mean <= high)
    # the band at one point is that point's own interval (same resampled seeds)
    ci = _stats.mean_ci(curves[:, 2])
    assert (low[2], high[2]) == pytest.approx((ci.low, ci.high))
    flat = np.tile([0.1, 0.2], (4, 1))
    _, lo, hi = _stats.curve_band(flat)
    np.testing.assert_allclose(lo, hi)
    with pytest.raises(ValueError, match="curves"):
        _stats.curve_band(np.zeros(3))


def test_claim_counts_seeds_and_skips_those_it_does_not_apply_to():
    c = _stats.claim("x", [True, False, None, True], seeds=[4, 5, 6, 7])
    assert (c.holds, c.of, tuple(c.seeds_failing)) == (2, 3, (5,))
    assert str(c) == "x: 2/3 seeds (not in seeds 5)"
    with pytest.raises(ValueError, match="seeds"):
        _stats.claim("x", [True], seeds=[1, 2])


# -- training axes ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run():
    return figure1(seed=3, plot=False, n_threads=1, **TINY)


def test_query_axis_is_the_cumulative_query_record(run):
    for name, r in run.post.items():
        q = run.axis(name, "queries")
        assert q[0] == 0
        np.testing.assert_array_equal(q[1:], r.queries[r.test_steps[1:] - 1])
        # and the record itself: B queries per step for both rewards (docs/theory.md §4)
        np.testing.assert_array_equal(np.diff(np.concatenate([[0], r.queries])), TINY["post_batch"])


def test_token_and_step_axes(run):
    r = run.post["process"]
    np.testing.assert_array_equal(run.axis("process", "steps"), r.test_steps)
    np.testing.assert_array_equal(run.axis("process", "tokens"), r.test_steps * TINY["post_batch"] * TINY["seq_len"])
    np.testing.assert_array_equal(run.axis("outcome", "queries", tracked=True)[:3], [0, 64, 128])


def test_axis_errors_name_the_argument(run):
    with pytest.raises(ValueError, match="x must be one of"):
        run.axis("outcome", "flops")
    with pytest.raises(ValueError, match="steps must lie in"):
        _axes.run_axis(run.post["outcome"], [0, 10**6], "queries")


def test_summary_on_the_query_axis(run):
    q = run.axis("outcome", "queries")
    s = run.summary(at=[q[2], q[-1]], x="queries")
    assert s[f"outcome_test_error@{q[2]} queries"] == run.post["outcome"].test_error[2]
    assert s[f"process_test_error@{q[-1]} queries"] == run.post["process"].test_error[-1]
    assert run.summary()["outcome_test_error@0"] == run.post["outcome"].test_error[0]


def test_plot_on_every_axis(run, tmp_path):
    pytest.importorskip("matplotlib")
    for x in _axes.AXES:
        fig = run.plot(tmp_path, x=x)
        assert "reward queries" in fig.axes[1].get_xlabel() if x == "queries" else True
    assert {"figure1.png", "figure1_queries.png", "figure1_tokens.png"} <= set(os.listdir(tmp_path))


def test_base_token_profile_is_saved_and_sums_to_the_base_likelihood(run, tmp_path):
    np.testing.assert_allclose(run.base_centre_token_log_lik.sum(1), run.base_centre_log_lik, rtol=1e-10)
    run.save(tmp_path)
    back = lpgx.experiments.Figure1Result.load(tmp_path)
    np.testing.assert_array_equal(back.base_centre_token_log_lik, run.base_centre_token_log_lik)


# -- barrier map --------------------------------------------------------------------------

def test_predictor_thresholds_on_a_planted_instance():
    k, N, M = 4, 8, 4
    Q = 4000.0  # Q/M = 1000 queries per context: ORM learns α ≥ 1e-3
    alphas = [1.2e-3, 0.9e-3, 0.5, 1e-6]
    task, base = combination_lock(k, N, M, alphas=alphas, rng=0)
    x, y = task.contexts, task.y_star
    np.testing.assert_allclose(base.log_prob(x, y), np.log(alphas), rtol=1e-9)
    profile = barrier_map.token_profile(base.token_log_prob(x, y))
    tau = np.asarray(alphas) ** (1 / N)  # every position of context j has likelihood τ_j
    np.testing.assert_allclose(profile["min_token_log_lik"], np.log(tau), rtol=1e-9)
    np.testing.assert_allclose(profile["log_prm_cost"], np.log(N / tau), rtol=1e-9)
    orm = barrier_map.predict("outcome", base.log_prob(x, y), profile["log_prm_cost"], Q, M)
    np.testing.assert_array_equal(orm, [True, False, True, False])
    # PRM: Σ_i 1/τ = N/τ ≤ Q/M; α = 1e-6 gives N/τ = 8/0.177 ≈ 45: learned; a budget of 40 per context is not enough
    prm = barrier_map.predict("process", base.log_prob(x, y), profile["log_prm_cost"], Q, M)
    assert prm.all()
    tight = barrier_map.predict("process", None, profile["log_prm_cost"], 40.0 * M, M)
    np.testing.assert_array_equal(tight, N / tau <= 40.0)
    assert list(tight) == [True, True, True, False]


def test_token_profile_is_stable_for_tiny_token_likelihoods():
    t = np.array([[-1e-3, -800.0, -2.0], [-0.5, -0.5, -0.5]])
    p = barrier_map.token_profile(t)
    np.testing.assert_allclose(p["log_prm_cost"], [np.logaddexp.reduce(-t[0]), np.log(3 / np.exp(-0.5))])
    np.testing.assert_array_equal(p["min_token_log_lik"], [-800.0, -0.5])
    with pytest.raises(ValueError, match="token_log_lik"):
        barrier_map.token_profile(np.zeros(3))
    with pytest.raises(ValueError, match="log-probabilities"):
        barrier_map.token_profile([[0.5]])


def test_predict_and_observed_errors_name_the_argument():
    with pytest.raises(ValueError, match="reward"):
        barrier_map.predict("dense", [0.0], [0.0], 10, 1)
    with pytest.raises(ValueError, match="queries"):
        barrier_map.predict("outcome", [0.0], [0.0], 0, 1)
    with pytest.raises(ValueError, match="num_centres"):
        barrier_map.predict("outcome", [0.0], [0.0], 10, 0)
    with pytest.raises(ValueError, match="threshold"):
        barrier_map.observed([0.0], threshold=0.0)


def test_confusion_table():
    c = barrier_map.confusion([True, True, False, False, False], [True, False, True, False, False])
    assert (c.both, c.missed, c.surprise, c.neither, c.total) == (1, 1, 1, 2, 5)
    assert c.agreement == pytest.approx(0.6)
    assert "| predicted learned | 1 | 1 |" in c.markdown("ORM")
    np.testing.assert_array_equal(barrier_map.observed(np.log([0.5, 0.49])), [True, False])
    with pytest.raises(ValueError, match="shape"):
        barrier_map.confusion([True], [True, False])


# -- seeds --------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, seeds", [("0-3", [0, 1, 2, 3]), ("0,3,5-7", [0, 3, 5, 6, 7]), (3, [0, 1, 2]),
                                         ([4, 2], [4, 2]), ("7", [7])])
def test_parse_seeds(spec, seeds):
    assert fs.parse_seeds(spec) == seeds


@pytest.mark.parametrize("spec, match", [("3-1", "empty"), ("0-2,1", "twice"), ("a-b", "expected seeds"),
                                         (0, ">= 1"), ([], "empty")])
def test_parse_seeds_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        fs.parse_seeds(spec)


def test_resume_after_an_interrupt_computes_only_the_missing_seeds(tmp_path, monkeypatch):
    calls = []
    real = fs.figure1

    def interrupted(**kw):
        if kw["seed"] == 2:
            raise KeyboardInterrupt
        calls.append(kw["seed"])
        return real(**kw)
    monkeypatch.setattr(fs, "figure1", interrupted)
    with pytest.raises(KeyboardInterrupt):
        figure1_seeds("0-3", cache_dir=tmp_path, backend="sequential", plot=False, **TINY)
    assert calls == [0, 1] and len(os.listdir(tmp_path)) == 2
    calls.clear()
    monkeypatch.setattr(fs, "figure1", lambda **kw: calls.append(kw["seed"]) or real(**kw))
    res = figure1_seeds("0-3", cache_dir=tmp_path, backend="sequential", plot=False, **TINY)
    assert calls == [2, 3]
    assert (res.config["computed"], res.config["cached"]) == (2, 2)
    again = figure1_seeds("0-3", cache_dir=tmp_path, backend="sequential", plot=False, **TINY)
    assert (again.config["computed"], again.config["cached"], calls) == (0, 4, [2, 3])
    fresh = figure1_seeds("0-3", backend="sequential", plot=False, **TINY)
    assert _same(fresh.summary_rows(), res.summary_rows())


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds")
    return figure1_seeds("0-3", out=out, n_jobs=2, **TINY), out


def _same(a, b):
    """Equal rows, NaN included (and so the same summary.csv, written from them)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _read(path):
    with open(path) as f:
        return f.read()


def test_outputs_of_a_multi_seed_run(seeds_run):
    res, out = seeds_run
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["seed"]) for r in rows] == [0, 1, 2, 3]
    assert not any(k.endswith("seconds") for k in rows[0])
    with open(out / "centres.csv") as f:
        assert len(list(csv.DictReader(f))) == 4 * res.config["num_mix"]
    for s in range(4):
        assert (out / f"seed{s}" / "figure1.npz").exists()
    # each seed's row is that seed's own figure1 run
    one = figure1(seed=2, plot=False, **TINY)
    assert rows[2]["process_final_test_error"] == repr(float(one.post["process"].test_error[-1]))
    assert res.curve("outcome", "queries")[2].tolist() == one.axis("outcome", "queries").tolist()
    report = _read(out / "report.md")
    assert "## Claims, seed by seed" in report and "/4 seeds" in report
    assert "## Barrier map" in report and "agreement" in report
    if lpgx.plotting.available():
        assert {"figure1_seeds.png", "figure1_seeds_queries.png", "barrier_map.png"} <= set(os.listdir(out))


def test_report_numbers_are_the_bootstrap_of_the_rows(seeds_run):
    res, _ = seeds_run
    gap = res.column("outcome_final_test_error") - res.column("process_final_test_error")
    np.testing.assert_allclose(res.column("gap_final_test_error"), gap)
    assert _stats.mean_ci(gap).format() in res.report()
    claims = lpgx.experiments._figure1_report.claims(res)
    assert claims[0].holds == int(np.sum(gap > 0)) and claims[0].of == 4


def test_load_gives_back_the_rows_and_the_appendix(seeds_run):
    res, out = seeds_run
    back = fs.Figure1SeedsResult.load(out)
    assert _same(back.summary_rows(), res.summary_rows())
    table = lpgx.experiments._figure1_report.appendix(out / "summary.csv")
    assert len(table.splitlines()) == 2 + 4
    assert f"| 2 | {res.rows[2]['n_off_support']} of 32 | {res.rows[2]['outcome_test_error@0']:.3f} |" in table


def test_barrier_records_cover_every_centre_and_seed(seeds_run):
    res, _ = seeds_run
    b = res.barrier()
    m = res.config["num_mix"]
    for name in ("outcome", "process"):
        assert b[name]["seed"].size == 4 * m
        assert int(b[name]["observed"].sum()) == int(res.column(f"{name}_centres_learned").sum())
        np.testing.assert_array_equal(b[name]["queries"], TINY["post_steps"] * TINY["post_batch"])


def test_figure1_seeds_checks_its_arguments():
    with pytest.raises(ValueError, match="backend"):
        figure1_seeds("0-1", backend="mpi", **TINY)
    with pytest.raises(ValueError, match="rewards"):
        figure1_seeds("0-1", rewards=["outcome"], **TINY)
    with pytest.raises(ValueError, match="x must be"):
        figure1_seeds("0-1", x="flops", **TINY)


def test_dask_gives_the_same_summary_as_loky(seeds_run):
    distributed = pytest.importorskip("distributed")
    res, _ = seeds_run
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        other = figure1_seeds("0-3", backend="dask", client=client, plot=False, **TINY)
    assert _same(other.summary_rows(), res.summary_rows())
    untimed = [[{k: v for k, v in r.items() if not k.endswith("seconds")} for r in x.rows] for x in (res, other)]
    assert _same(*untimed)  # the curves and centres too


def test_ray_gives_the_same_summary_as_loky(seeds_run):
    ray = pytest.importorskip("ray")
    res, _ = seeds_run
    root = os.path.dirname(os.path.dirname(os.path.abspath(lpgx.__file__)))
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": root}})
    try:
        other = figure1_seeds("0-3", backend="ray", n_jobs=2, plot=False, **TINY)
    finally:
        ray.shutdown()
    assert _same(other.summary_rows(), res.summary_rows())


# -- the theory's algorithms ----------------------------------------------------------------

def test_algorithms_at_matched_budgets():
    setting = lpgx.experiments.paper_figure1.SETTINGS.resolve(True, {k: v for k, v in TINY.items() if k != "quick"})
    rows = algos.figure1_algorithms([0], setting, backend="sequential")
    total = TINY["post_steps"] * TINY["post_batch"]
    assert algos.budgets(total)[-1] == total
    assert [r["algorithm"] for r in rows] == list(algos.ALGORITHMS)
    base = figure1(seed=0, plot=False, **TINY).post["outcome"].test_error[0]
    for r in rows:
        assert r["spent"] >= total
        for q in algos.budgets(total):
            assert r[f"queries@{q}"] <= q
        if r["algorithm"] == "sgd":  # one labelled sample per step: every budget is met exactly
            assert all(r[f"queries@{q}"] == q for q in algos.budgets(total))
    # before any update every algorithm holds the base model, whose test error is figure1's at step 0
    first = algos.cell_algorithm(setting, "alg2", 0)
    assert min(first[f"test_error@{q}"] for q in algos.budgets(total)) <= base
    assert algos.cell_algorithm(setting, "alg2", 0) == first
    with pytest.raises(ValueError, match="algorithms"):
        algos.figure1_algorithms([0], setting, algorithms=["alg3"])


# -- command line ---------------------------------------------------------------------------

TINY_SET = ["--quick", "--set", "seq_len=16", "pre_steps=60", "post_steps=40", "post_batch=64", "test_size=128",
            "test_every=10", "off_support=1e-3"]


def test_cli_seeds(tmp_path, capsys):
    assert cli.main(["figure1", "--seeds", "0-1", "--jobs", "2", "--out", str(tmp_path), *TINY_SET]) == 0
    out = capsys.readouterr()
    assert "# Figure 1 over 2 seeds" in out.out and "2 computed" in out.err
    assert (tmp_path / "summary.csv").exists() and (tmp_path / "report.md").exists()
    assert cli.main(["figure1", "--seeds", "0-1", "--out", str(tmp_path), *TINY_SET]) == 0
    assert "0 computed, 2 from the cache" in capsys.readouterr().err


@pytest.mark.parametrize("args, match", [(["--seeds", "0-1", "--seed", "3"], "not both"),
                                         (["--jobs", "2"], "need --seeds"),
                                         (["--seeds", "2-1"], "empty"),
                                         (["--seeds", "0-1", "--x", "flops"], "invalid choice")])
def test_cli_seeds_errors(args, match, capsys):
    with pytest.raises(SystemExit):
        cli.main(["figure1", *args, "--dry-run"])
    assert match in capsys.readouterr().err


def test_cli_single_seed_on_the_query_axis(tmp_path, capsys):
    assert cli.main(["figure1", "--seed", "1", "--x", "queries", "--out", str(tmp_path), *TINY_SET]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert "outcome_test_error@2560 queries" in head


def test_cli_rates_seed_list(capsys):
    assert cli.main(["rates", "alpha", "--quick", "--seeds", "0,2-3", "--dry-run"]) == 0
    assert "0,2,3" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["rates", "alpha", "--seeds", "0-1", "--set", "seeds=3", "--dry-run"])
    assert lpgx.experiments.rates_settings("alpha")["seeds"] == 10
    with pytest.raises(ValueError, match="seeds"):
        lpgx.experiments.rates_alpha(quick=True, seeds=[1, 1])


def test_centre_typicality_counts_neighbours_sharing_the_centres_response():
    setting = lpgx.experiments.paper_figure1.SETTINGS.resolve(True, {k: v for k, v in TINY.items() if k != "quick"})
    task = lpgx.experiments.paper_figure1.figure1_task(setting, 5)
    t = barrier_map.centre_typicality(task, 2048, rng=1)
    # an independent count: nearest centre by distance, y* compared position by position
    centres, yc = task.centres()
    x, y = task.sample(2048, rng=1)
    owner = np.argmin(((x[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    for j in range(len(centres)):
        mine = owner == j
        if mine.any():
            assert t["same"][j] == pytest.approx(np.mean([np.array_equal(a, yc[j]) for a in y[mine]]))
            assert t["positions"][j] == pytest.approx(np.mean(y[mine] == yc[j]))
    assert np.nanmin(t["same"]) >= 0 and np.nanmax(t["same"]) <= 1


def test_figure1_base_uses_figure1_task(run):
    setting = {k: v for k, v in run.config.items() if k in lpgx.experiments.paper_figure1.SETTINGS.table}
    task = lpgx.experiments.paper_figure1.figure1_task(setting, 3)
    _, base, _, centres, _, _ = lpgx.experiments.paper_figure1.figure1_base(setting, 3, n_threads=1)
    np.testing.assert_array_equal(task.centres()[1], centres[1])
    np.testing.assert_array_equal(base.log_prob(*centres), run.base_centre_log_lik)


def test_typicality_rows_follow_the_barrier_records(seeds_run):
    res, _ = seeds_run
    t = res.typicality(512)
    assert t["same"].shape == res.barrier()["outcome"]["seed"].shape
    assert "neighbours sharing the centre's y*" in res.report()
