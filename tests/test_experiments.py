"""The experiments: figure reproductions and rate checks in tiny settings (structure,
determinism, and that the measured quantities move the way the theory says), their plots,
and the package's import graph."""
import ast
import os
import subprocess
import sys
from pathlib import Path

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
    tiny = dict(seq_len=12, pre_steps=30, post_steps=40, post_batch=64, test_size=64, test_every=10)
    res = lpgx.experiments.figure1(out=tmp_path, seed=1, quick=True, plot=True, **tiny)
    # the run used exactly the published settings (one source of truth)
    used = {k: v for k, v in res.config.items() if k not in ("seed", "quick", "total_seconds")}
    assert used == dict(lpgx.experiments.figure1_settings(quick=True), **tiny)
    assert set(res.post) == {"outcome", "process"}
    assert res.post["outcome"].tracked_log_lik.shape == (41, 32)
    assert (tmp_path / "figure1.npz").exists() and (tmp_path / "figure1.png").exists()
    back = lpgx.experiments.Figure1Result.load(tmp_path)
    assert np.array_equal(back.post["process"].test_error, res.post["process"].test_error)
    assert back.summary(steps=(0, 40))["process_test_error@40"] == res.post["process"].test_error[-1]
    # both rewards start from the same base model and see the same contexts
    assert res.post["outcome"].test_error[0] == res.post["process"].test_error[0]


def test_figure2_tiny(tmp_path):
    tiny = dict(phases=3, phase_steps=20, eval_size=256, seq_len=20)
    res = lpgx.experiments.figure2(out=tmp_path, quick=True, **tiny)
    assert res.log_lik.shape == (3, 256)
    used = {k: v for k, v in res.config.items() if k not in ("seed", "quick", "total_seconds")}
    assert used == dict(lpgx.experiments.figure2_settings(quick=True), **tiny)
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
    for res, name in ((a, "alpha"), (ln, "length"), (s, "sgd"), (o, "online"), (b, "barrier")):
        used = {k: v for k, v in res.config.items() if k != "quick"}
        assert set(used) == set(lpgx.experiments.rates_settings(name))
        if _has_matplotlib():
            fig = res.plot()  # each experiment draws its own panel
            assert fig.axes and fig.axes[0].get_legend() is not None and name in fig.axes[0].get_title()
    if _has_matplotlib():
        from lpgx.cli import main
        assert main(["plot", str(tmp_path)]) == 0
        assert (tmp_path / "rates_alpha.png").exists() and (tmp_path / "rates_alpha.pdf").exists()


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_cli_quick_figure1(tmp_path, capsys):
    from lpgx.cli import main
    assert main(["figure1", "--quick", "--out", str(tmp_path), "--set", "seq_len=10", "pre_steps=10",
                 "post_steps=20", "post_batch=32", "test_size=32", "test_every=5"]) == 0
    out = capsys.readouterr().out
    assert "outcome_test_error@0" in out and (tmp_path / "seed0" / "figure1.npz").exists()
    assert main(["plot", str(tmp_path / "seed0")]) == 0


# -- the import graph ----------------------------------------------------------------------

PACKAGE = Path(lpgx.__file__).resolve().parent


def import_graph(root):
    """module -> the lpgx modules it imports anywhere in its source (lazy imports too)."""
    files = {}
    for f in root.rglob("*.py"):
        parts = list(f.relative_to(root.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        files[".".join(parts[:-1] if is_pkg else parts)] = (f, is_pkg)
    modules = set(files) | {f"{root.name}.{p.name.split('.')[0]}" for p in root.glob("_core*")}
    graph = {}
    for name, (f, is_pkg) in files.items():
        here = name.split(".") if is_pkg else name.split(".")[:-1]
        deps = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module else []))
                deps.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def find_cycle(graph):
    done, path = set(), []

    def visit(n):
        path.append(n)
        for d in sorted(graph.get(n, ())):
            if d in path:
                return path[path.index(d):] + [d]
            if d not in done:
                found = visit(d)
                if found:
                    return found
        path.pop()
        done.add(n)
        return None

    for n in sorted(graph):
        if n not in done:
            found = visit(n)
            if found:
                return found
    return None


def test_import_graph_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_module_imports_in_a_circle():
    graph = import_graph(PACKAGE)
    assert {"lpgx.cli", "lpgx.plotting", "lpgx.experiments.rates"} <= set(graph)
    assert find_cycle(graph) is None
    # plotting is shared: it knows no experiment
    assert not any(d.startswith("lpgx.experiments") for d in graph["lpgx.plotting"])


@pytest.mark.parametrize("module", ["lpgx.plotting", "lpgx.cli", "lpgx.experiments", "lpgx.experiments.rates",
                                    "lpgx.experiments.paper_figure1", "lpgx.experiments.paper_figure2"])
def test_module_imports_fresh(module):
    env = dict(os.environ, PYTHONPATH=str(PACKAGE.parent))
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
