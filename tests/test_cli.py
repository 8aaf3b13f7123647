"""The command line: every mistake ends before any training with one argparse-style error line
naming the argument (exit code 2); --version, --list-settings, --dry-run, the help's example,
and the one-line note when matplotlib is missing."""
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import lpgx
from lpgx import cli
from lpgx.experiments import _settings, paper_figure1, paper_figure2, rates

PYTHONPATH = str(Path(lpgx.__file__).resolve().parent.parent)  # the lpgx under test, in a subprocess too


@pytest.fixture
def no_training(monkeypatch):
    """Every entry into training fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("training started")
    for module, name in ((paper_figure1, "pretrain"), (paper_figure1, "post_train"), (paper_figure2, "pretrain"),
                         (rates, "sweep")):
        monkeypatch.setattr(module, name, refuse)


@pytest.fixture
def a_file(tmp_path):
    f = tmp_path / "a_file"
    f.write_text("not a folder")
    return f


def run_main(argv, capsys):
    """(exit code, stdout, stderr) of cli.main(argv) in this process."""
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code, out, err, command, names):
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert [ln for ln in lines if "error:" in ln] == lines[-1:]  # one error line, after argparse's usage
    assert lines[-1].startswith(f"lpgx {command}: error: argument ")
    for name in names:
        assert name in lines[-1]


MISTAKES = [
    (["figure1", "--set", "bogus=1"], ["--set", "'bogus'", "post_steps=4000", "seq_len=128"]),  # lists the defaults
    (["figure1", "--set", "post_steps=abc"], ["--set", "post_steps", "integer"]),
    (["figure1", "--set", "post_steps=2.5"], ["--set", "post_steps", "integer"]),
    (["figure1", "--set", "sigma=x"], ["--set", "sigma", "real number"]),
    (["figure1", "--set", "post_steps=-5"], ["--set", "post_steps", ">= 1"]),
    (["figure1", "--set", "post_batch=0"], ["--set", "post_batch", ">= 1"]),
    (["figure1", "--set", "post_steps=1e20"], ["--set", "post_steps"]),
    (["figure1", "--set", "post_steps=10000000000000"], ["--set", "post_steps", "GiB"]),
    (["figure1", "--set", "pre_lr=nan"], ["--set", "pre_lr", "finite"]),
    (["figure1", "--set", "off_support=0"], ["--set", "off_support"]),
    (["figure1", "--set", "rewards=outcome,bogus"], ["--set", "rewards[1]", "'bogus'"]),
    (["figure1", "--set", "rewards=outcome,outcome"], ["--set", "rewards", "twice"]),
    (["figure1", "--set", "seq_len=4", "seq_len=5"], ["--set", "seq_len", "twice"]),
    (["figure1", "--set", "seq_len"], ["--set", "KEY=VALUE"]),
    (["figure1", "--seed", "-1"], ["--seed", ">= 0"]),
    (["figure1", "--seed", "1", "1"], ["--seed", "twice"]),
    (["figure1", "--threads", "0"], ["--threads"]),
    (["figure2", "--set", "phases=0"], ["--set", "phases"]),
    (["figure2", "--set", "post_steps=1000"], ["--set", "'post_steps'", "phase_steps=500"]),
    (["figure2", "--set", "lr=-0.1"], ["--set", "lr"]),
    (["rates", "alpha", "--set", "seeds=-1"], ["--set", "seeds"]),
    (["rates", "alpha", "--set", "alphas=0.5,1.5"], ["--set", "alphas[1]"]),
    (["rates", "alpha", "--set", "alphas=0.5"], ["--set", "alphas", "at least 2"]),
    (["rates", "alpha", "--set", "bogus=1"], ["--set", "'bogus'", "max_steps=10000000"]),
    (["rates", "all", "--set", "bogus=1"], ["--set", "'bogus'"]),
    (["rates", "all", "--set", "seeds=0"], ["--set", "seeds"]),
    (["rates", "length", "--set", "seq_lens=1,2,3"], ["--set", "seq_lens[0]", ">= 2"]),
    (["rates", "barrier", "--set", "masses=0.5,0.5"], ["--set", "masses", "one entry per alpha"]),
    (["rates", "barrier", "--set", "budgets=[1,-100]"], ["--set", "budgets[1]"]),
    (["rates", "sgd", "--jobs", "0"], ["--jobs"]),
    (["rates", "sgd", "--backend", "dask"], ["--backend", "--scheduler"]),
    (["rates", "sgd", "--scheduler", "tcp://x:1"], ["--scheduler"]),
    (["rates", "sgd", "--backend", "nope"], ["--backend"]),
]


@pytest.mark.parametrize("argv,names", MISTAKES, ids=[" ".join(argv) for argv, _ in MISTAKES])
def test_mistake_is_refused_before_training(argv, names, capsys, no_training):
    assert_usage_error(*run_main(argv, capsys), argv[0], names)


@pytest.mark.parametrize("command", ["figure1", "figure2", "rates"])
def test_out_that_is_a_file_is_refused(command, a_file, capsys, no_training):
    which = ["alpha"] if command == "rates" else []
    assert_usage_error(*run_main([command, *which, "--out", str(a_file)], capsys), command,
                       ["--out", str(a_file), "file"])
    # a folder under a file cannot be created either
    assert_usage_error(*run_main([command, *which, "--out", str(a_file / "sub")], capsys), command,
                       ["--out", str(a_file)])


def test_seed_folder_that_is_a_file_is_refused(tmp_path, capsys, no_training):
    (tmp_path / "seed3").write_text("")
    assert_usage_error(*run_main(["figure2", "--out", str(tmp_path), "--seed", "2", "3"], capsys), "figure2",
                       ["--out", "seed3"])
    assert not (tmp_path / "seed2").exists()


def test_cache_that_is_a_file_is_refused(a_file, tmp_path, capsys, no_training):
    assert_usage_error(*run_main(["rates", "online", "--out", str(tmp_path), "--cache", str(a_file)], capsys),
                       "rates", ["--cache"])


def test_rates_needs_an_experiment(capsys, no_training):
    code, out, err = run_main(["rates", "--quick"], capsys)
    assert code == 2 and "required: which" in err.strip().splitlines()[-1]


def test_progress_without_tqdm_is_refused(monkeypatch, capsys, no_training):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    assert_usage_error(*run_main(["figure1", "--quick", "--progress"], capsys), "figure1",
                       ["--progress", "lpgx[progress]"])


@pytest.mark.parametrize("argv,names", [
    (["figure1", "--set", "post_steps=-5"], ["--set", "post_steps"]),
    (["figure2", "--seed", "-1"], ["--seed"]),
    (["rates", "alpha", "--set", "bogus=1"], ["--set", "bogus"]),
])
def test_mistake_in_a_real_process(argv, names):
    """End to end: ``python -m lpgx.cli`` ends at once with the message and exit code 2."""
    env = dict(os.environ, PYTHONPATH=PYTHONPATH)
    proc = subprocess.run([sys.executable, "-m", "lpgx.cli", *argv], env=env, capture_output=True, text=True,
                          timeout=60)
    assert_usage_error(proc.returncode, proc.stdout, proc.stderr, argv[0], names)


def test_out_file_in_a_real_process(a_file):
    env = dict(os.environ, PYTHONPATH=PYTHONPATH)
    proc = subprocess.run([sys.executable, "-m", "lpgx.cli", "figure1", "--out", str(a_file)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert_usage_error(proc.returncode, proc.stdout, proc.stderr, "figure1", ["--out"])
    assert a_file.read_text() == "not a folder"


def test_version(capsys):
    code, out, _ = run_main(["--version"], capsys)
    assert code == 0 and out.strip() == f"lpgx {lpgx.__version__}"


@pytest.mark.parametrize("command,settings", [("figure1", lpgx.experiments.figure1_settings),
                                              ("figure2", lpgx.experiments.figure2_settings)])
def test_list_settings(command, settings, capsys, no_training):
    code, out, _ = run_main([command, "--list-settings"], capsys)
    assert code == 0
    lines = out.splitlines()
    paper, quick = settings(), settings(quick=True)
    for key, value in paper.items():
        line = next(ln for ln in lines if ln.split()[:1] == [key])
        shown = _settings.show(value)
        assert line.split()[1] == shown
        if quick[key] != value:
            assert f"(quick: {_settings.show(quick[key])})" in line
        else:
            assert "quick" not in line


def test_list_rate_settings(capsys, no_training):
    code, out, _ = run_main(["rates", "--list-settings"], capsys)
    assert code == 0
    for name in ("alpha", "length", "sgd", "online", "barrier"):
        assert f"settings of lpgx rates {name}" in out
        for key in lpgx.experiments.rates_settings(name):
            assert f"\n  {key} " in out
    code, out, _ = run_main(["rates", "sgd", "--list-settings"], capsys)
    assert code == 0 and "rates sgd" in out and "rates alpha" not in out and "(quick: 8,32,128)" in out


@pytest.mark.parametrize("command", ["figure1", "figure2", "rates", "estimators", "noise", "many-answers", "prm-quality",
                                     "plot"])
def test_help_names_list_settings_and_a_valid_example(command, capsys, no_training):
    code, out, err = run_main([command, "--help"], capsys)
    assert code == 0
    example = " ".join(cli.EXAMPLES[command])
    assert f"lpgx {command} {example}" in out
    if command != "plot":
        assert "--list-settings" in out.split("options:")[-1]  # in the epilog, not only the option list
        code, out, err = run_main([command, *cli.EXAMPLES[command], "--dry-run"], capsys)
        assert code == 0, err
    for text in (out, err):
        assert "SPEC" not in text


def test_top_level_help(capsys):
    code, out, _ = run_main(["--help"], capsys)
    assert code == 0 and "--version" in out and "--list-settings" in out and "SPEC" not in out


def test_dry_run_shows_the_settings_a_run_would_use(capsys, no_training):
    code, out, _ = run_main(["figure1", "--quick", "--dry-run", "--set", "seq_len=1e2", "rewards=[process]"], capsys)
    assert code == 0
    shown = dict(ln.split(None, 1) for ln in out.splitlines()[1:])
    expected = dict(lpgx.experiments.figure1_settings(quick=True), seq_len=100, rewards=["process"])
    assert shown == {k: _settings.show(v) for k, v in expected.items()}


@pytest.mark.parametrize("text,default,value", [
    ("12", 1, 12), ("1e3", 1, 1000), ("0.5", 1.0, 0.5), ("3", 1.0, 3.0), ("yes", False, True), ("off", True, False),
    ("1,2,3", [1], [1, 2, 3]), ("[1, 2]", [1], [1, 2]), ("[a,b]", ["x"], ["a", "b"]), ('["a","b"]', ["x"], ["a", "b"]),
    ("0.1,1e-3", [0.5], [0.1, 0.001]), ("word", "x", "word"),
])
def test_text_is_read_as_the_type_of_the_default(text, default, value):
    got = _settings.from_text(text, default, "key")
    assert got == value and type(got) is type(value)
    if isinstance(value, list):
        assert [type(x) for x in got] == [type(x) for x in value]


@pytest.mark.parametrize("text,default", [("1.5", 1), ("x", 1), ("x", 1.0), ("maybe", True), ("1,,2", [1]),
                                          ('{"a": 1}', [1])])
def test_text_of_the_wrong_type_is_refused(text, default):
    with pytest.raises((TypeError, ValueError), match="key"):
        _settings.from_text(text, default, "key")


def test_without_matplotlib_the_cli_says_so_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the command line prints its note instead of warning
        code, out, err = run_main(["figure2", "--quick", "--seed", "0", "1", "--out", str(tmp_path), "--set",
                                   "phases=2", "phase_steps=5", "eval_size=64", "seq_len=8"], capsys)
    assert code == 0, err
    notes = [ln for ln in err.splitlines() if "skipped" in ln]
    assert len(notes) == 1 and "pip install 'lpgx[plot]'" in notes[0]
    for seed in (0, 1):
        assert (tmp_path / f"seed{seed}" / "figure2.npz").exists()
        assert not (tmp_path / f"seed{seed}" / "figure2.png").exists()
    code, out, err = run_main(["plot", str(tmp_path / "seed0")], capsys)
    assert code == 2 and "lpgx[plot]" in err.strip().splitlines()[-1]


def test_without_matplotlib_the_api_warns_once(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.warns(UserWarning) as record:
        lpgx.experiments.figure2(out=tmp_path, quick=True, phases=2, phase_steps=5, eval_size=64, seq_len=8)
    assert len(record) == 1 and "pip install 'lpgx[plot]'" in str(record[0].message)
    assert (tmp_path / "figure2.npz").exists() and not (tmp_path / "figure2.png").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lpgx.experiments.figure2(out=tmp_path, quick=True, plot=False, phases=2, phase_steps=5, eval_size=64,
                                 seq_len=8)


def test_rates_cli_runs_and_replots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    code, out, err = run_main(["rates", "online", "--backend", "sequential", "--out", str(tmp_path), "--set",
                               "num_contexts=1,2", "rounds_per_context=50", "seeds=1"], capsys)
    assert code in (0, 1), err  # 1: a check failed, which a run this small may do
    assert "online: check mistakes*gamma^2 within a factor 2" in out
    assert (tmp_path / "rates_online.png").exists()
    (tmp_path / "rates_online.png").unlink()
    code, out, err = run_main(["plot", str(tmp_path)], capsys)
    assert code == 0 and (tmp_path / "rates_online.png").exists()


def test_plot_of_a_folder_without_artifacts_is_refused(tmp_path, a_file, capsys):
    assert_usage_error(*run_main(["plot", str(tmp_path / "none")], capsys), "plot", ["DIR"])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_usage_error(*run_main(["plot", str(empty)], capsys), "plot", ["DIR", "rates_*.npz"])
    assert_usage_error(*run_main(["plot", str(a_file)], capsys), "plot", ["DIR"])


# -- the same checks from Python, before any training --------------------------------------

@pytest.mark.parametrize("call,exc,match", [
    (lambda out: lpgx.experiments.figure1(out=out / "a_file"), ValueError, "out"),
    (lambda out: lpgx.experiments.figure1(out=out / "a_file" / "sub"), ValueError, "out"),
    (lambda out: lpgx.experiments.figure1(post_steps=-1), ValueError, "post_steps"),
    (lambda out: lpgx.experiments.figure1(post_steps=10.0), TypeError, "post_steps"),
    (lambda out: lpgx.experiments.figure1(bogus=1), TypeError, "bogus"),
    (lambda out: lpgx.experiments.figure1(seed=-1), ValueError, "seed"),
    (lambda out: lpgx.experiments.figure1(n_threads=0), ValueError, "n_threads"),
    (lambda out: lpgx.experiments.figure1(rewards=["outcome", "nope"]), ValueError, r"rewards\[1\]"),
    (lambda out: lpgx.experiments.figure2(out=out / "a_file"), ValueError, "out"),
    (lambda out: lpgx.experiments.figure2(eval_size=0), ValueError, "eval_size"),
    (lambda out: lpgx.experiments.rates_alpha(out=out / "a_file"), ValueError, "out"),
    (lambda out: lpgx.experiments.rates_alpha(cache_dir=out / "a_file"), ValueError, "cache_dir"),
    (lambda out: lpgx.experiments.rates_alpha(alphas=[0.1, 0.0]), ValueError, r"alphas\[1\]"),
    (lambda out: lpgx.experiments.rates_sgd(backend="nope"), ValueError, "backend"),
    (lambda out: lpgx.experiments.rates_online(n_jobs=0), ValueError, "n_jobs"),
    (lambda out: lpgx.experiments.lq_barrier(masses=[1.0]), ValueError, "masses"),
    (lambda out: lpgx.experiments.lq_barrier(masses=[0, 0, 0, 0]), ValueError, "masses"),
])
def test_api_checks_before_training(call, exc, match, tmp_path, no_training):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(exc, match=match):
        call(tmp_path)


def test_settings_are_fresh_and_reachable():
    a = lpgx.experiments.figure1_settings()
    a["rewards"].append("x")
    a["seq_len"] = 1
    b = lpgx.experiments.figure1_settings()
    assert b["rewards"] == ["outcome", "process"] and b["seq_len"] == 128
    assert lpgx.experiments.figure1_settings(quick=True)["seq_len"] == 64
    assert lpgx.experiments.figure2_settings(quick=True)["phases"] == 5
    assert lpgx.experiments.rates_settings("online", quick=True)["num_contexts"] == [1, 4, 16]
    with pytest.raises(ValueError, match="name"):
        lpgx.experiments.rates_settings("nope")
    # the modules are reachable (the functions do not shadow them)
    assert paper_figure1.SETTINGS.defaults() == lpgx.experiments.figure1_settings()


@pytest.mark.parametrize("settings", [paper_figure1.SETTINGS, paper_figure2.SETTINGS, *rates.SETTINGS.values()],
                         ids=lambda s: s.experiment)
def test_defaults_pass_their_own_checks(settings):
    for quick in (False, True):
        defaults = settings.defaults(quick)
        assert settings.resolve(quick, defaults) == defaults
        for key, value in defaults.items():  # and survive the round trip through --set's text
            back = settings.parse(key, _settings.show(value))
            if isinstance(value, str) or (isinstance(value, list) and isinstance(value[0], str)):
                assert back == value
            else:
                assert back == pytest.approx(value, rel=1e-5)


def test_no_spec_in_user_facing_text():
    import inspect
    from lpgx import experiments, plotting
    for module in (cli, experiments, paper_figure1, paper_figure2, rates, plotting, _settings):
        assert "SPEC" not in inspect.getsource(module), module.__name__
