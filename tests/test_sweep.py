"""lpgx.sweep: backends agree bitwise, cells are cached as they finish, sweeps resume."""
import importlib.util
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import sweep_cells
from lpgx.sweep import SweepResult, cache_key, sweep

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
TRAIN_GRID = {"seq_len": [4, 6], "batch_size": [16, 32]}
TRAIN_SEEDS = (0, 1)


def cell_ids(rows):
    return [(r["seq_len"], r["batch_size"], r["seed"]) for r in rows]


def numbers(rows):
    """The floats of each row, bit for bit."""
    return [(r["err"].hex(), r["norm"].hex()) for r in rows]


@pytest.fixture(scope="module")
def reference():
    """The train sweep run in this process, one cell after the other."""
    return sweep(sweep_cells.train_cell, TRAIN_GRID, seeds=TRAIN_SEEDS, backend="sequential", progress=False)


def test_backends_agree_bitwise_in_cell_order(reference):
    expected_ids = [(n, b, s) for n, b in itertools.product([4, 6], [16, 32]) for s in TRAIN_SEEDS]
    assert cell_ids(reference.rows) == expected_ids
    assert (reference.computed, reference.cached) == (8, 0)
    for row in reference.rows:  # the values are fn's own
        direct = sweep_cells.train_cell(row["seq_len"], row["batch_size"], seed=row["seed"])
        assert (row["err"], row["norm"]) == (direct["err"], direct["norm"])
        assert type(row["err"]) is float and type(row["threads"]) is int
    assert len(set(numbers(reference.rows))) == 8  # the cells really differ

    loky = sweep(sweep_cells.train_cell, TRAIN_GRID, seeds=TRAIN_SEEDS, backend="loky", n_jobs=2,
                 threads_per_worker=3, progress=False)
    threads = sweep(sweep_cells.train_cell, TRAIN_GRID, seeds=TRAIN_SEEDS, backend="threading", n_jobs=2,
                    progress=False)
    for res in (loky, threads):
        assert cell_ids(res.rows) == expected_ids
        assert numbers(res.rows) == numbers(reference.rows)  # bitwise equal floats
        assert (res.computed, res.cached) == (8, 0)
    # each loky worker got threads_per_worker OpenMP threads
    assert {r["threads"] for r in loky.rows} == {3}


def test_dask_backend_matches_local(reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        explicit = sweep(sweep_cells.train_cell, TRAIN_GRID, seeds=TRAIN_SEEDS, backend="dask", client=client,
                         progress=False)
        default = sweep(sweep_cells.train_cell, TRAIN_GRID, seeds=TRAIN_SEEDS, backend="dask", progress=False)
        worker_pids = set(client.run(os.getpid).values())
    for res in (explicit, default):
        assert cell_ids(res.rows) == cell_ids(reference.rows)
        assert numbers(res.rows) == numbers(reference.rows)
    assert os.getpid() not in worker_pids and len(worker_pids) == 2


def test_dask_without_client_is_a_clear_error():
    distributed = pytest.importorskip("distributed")
    try:
        distributed.get_client()
    except ValueError:
        pass
    else:
        pytest.skip("a default dask client exists")
    with pytest.raises(ValueError, match="Client"):
        sweep(sweep_cells.train_cell, TRAIN_GRID, backend="dask", progress=False)


# --------------------------------------------------------------------------------------------
# Caching, failure and resumption (with sweep_cells.logged_cell, which logs every call)

N_VALUES = [1, 2, 3, 4]


def logged_grid(log_dir, sleep=0.0, n_values=N_VALUES):
    return {"n": list(n_values), "log_dir": [str(log_dir)], "sleep": [sleep]}


def expected_rows(log_dir, sleep, seeds, n_values=N_VALUES):
    return [{"n": n, "log_dir": str(log_dir), "sleep": sleep, "seed": s, "value": math.sqrt(n) + s / 7,
             "label": f"n{n}", "even": n % 2 == 0} for n in n_values for s in seeds]


def calls(log_dir):
    """The call log: one file per call, named <n>-<seed>-<uuid>."""
    folder = log_dir / "calls"
    return set(os.listdir(folder)) if folder.exists() else set()


def called_cells(names):
    return sorted(tuple(int(p) for p in name.split("-")[:2]) for name in names)


def cached_cells(cache):
    """(n, seed) of every cache file; each must be complete JSON."""
    out = []
    for name in os.listdir(cache):
        assert not name.endswith(".tmp"), name
        with open(cache / name) as f:
            data = json.load(f)
        assert name == cache_key(data["fn"], data["params"], data["seed"]) + ".json"
        assert data["result"]["value"] == math.sqrt(data["params"]["n"]) + data["seed"] / 7
        out.append((data["params"]["n"], data["seed"]))
    return sorted(out)


def fail_at(log_dir, n, seed, kind):
    log_dir.mkdir(exist_ok=True)
    (log_dir / f"FAIL-{n}-{seed}").write_text(kind)


def test_failure_then_resume_sequential(tmp_path):
    """A KeyboardInterrupt in cell (3, 1) (index 5 of 8): cells 0-4 are on disk; the re-run
    computes exactly cells 5-7, and the rows equal an uninterrupted sweep."""
    log, cache = tmp_path / "log", tmp_path / "cache"
    fail_at(log, 3, 1, "KeyboardInterrupt")
    with pytest.raises(KeyboardInterrupt):
        sweep(sweep_cells.logged_cell, logged_grid(log), seeds=(0, 1), backend="sequential", cache_dir=cache,
              progress=False)
    assert cached_cells(cache) == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0)]
    first = calls(log)
    assert called_cells(first) == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]

    (log / "FAIL-3-1").unlink()
    res = sweep(sweep_cells.logged_cell, logged_grid(log), seeds=(0, 1), backend="sequential", cache_dir=cache,
                progress=False)
    assert called_cells(calls(log) - first) == [(3, 1), (4, 0), (4, 1)]
    assert (res.computed, res.cached) == (3, 5)
    assert res.rows == expected_rows(log, 0.0, (0, 1))
    plain = sweep(sweep_cells.logged_cell, logged_grid(log), seeds=(0, 1), backend="sequential", progress=False)
    assert res.rows == plain.rows
    assert cached_cells(cache) == [(n, s) for n in N_VALUES for s in (0, 1)]

    # a third run computes nothing
    before = calls(log)
    again = sweep(sweep_cells.logged_cell, logged_grid(log), seeds=(0, 1), backend="sequential",
                  cache_dir=cache, progress=False)
    assert calls(log) == before and (again.computed, again.cached) == (0, 8) and again.rows == res.rows


def stamps(log_dir, folder):
    """(n, seed) -> the time logged in log_dir/<folder>/<n>-<seed>."""
    out = {}
    for name in os.listdir(log_dir / folder):
        n, seed = name.split("-")
        out[int(n), int(seed)] = float((log_dir / folder / name).read_text())
    return out


def test_failure_then_resume_loky(tmp_path):
    """A failing cell in a loky worker: the exception reaches the caller with its type, every
    cell that finished before it is on disk, and the re-run computes only the others."""
    log, cache = tmp_path / "log", tmp_path / "cache"
    fail_at(log, 3, 1, "CellFailure:0.1")
    with pytest.raises(sweep_cells.CellFailure, match="n=3 seed=1") as info:
        sweep(sweep_cells.logged_cell, logged_grid(log, sleep=0.1), seeds=(0, 1), backend="loky", n_jobs=2,
              cache_dir=cache, progress=False)
    if sys.version_info >= (3, 11):
        assert "in lpgx.sweep cell (n=3" in "".join(info.value.__notes__)
    done = cached_cells(cache)
    failed_at = stamps(log, "failed")[3, 1]
    finished_before = {cell for cell, t in stamps(log, "done").items() if t < failed_at - 0.05}
    # with 2 workers, cells 0-3 end >= 0.1 s before cell 5 fails; results take far less than 0.05 s to arrive
    assert len(finished_before) >= 4 and finished_before <= set(done)
    assert (3, 1) not in done
    first = calls(log)

    (log / "FAIL-3-1").unlink()
    res = sweep(sweep_cells.logged_cell, logged_grid(log, sleep=0.1), seeds=(0, 1), backend="loky", n_jobs=2,
                cache_dir=cache, progress=False)
    everything = [(n, s) for n in N_VALUES for s in (0, 1)]
    assert called_cells(calls(log) - first) == sorted(set(everything) - set(done))
    assert (res.computed, res.cached) == (8 - len(done), len(done))
    assert res.rows == expected_rows(log, 0.1, (0, 1))
    assert cached_cells(cache) == everything


def test_ctrl_c_in_a_subprocess_then_resume(tmp_path):
    """A real interruption: SIGINT to a loky sweep in another process once its first cell is on
    disk; the cells finished by then stay on disk, and the re-run here computes exactly the
    others."""
    log, cache = tmp_path / "log", tmp_path / "cache"
    n_values = list(range(1, 9))
    # SIGINT raises KeyboardInterrupt even if this test runs in the background (where SIGINT
    # is ignored, and the child would inherit that)
    code = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            f"import sys; sys.path.insert(0, {TESTS_DIR!r})\n"
            "import sweep_cells\n"
            "from lpgx.sweep import sweep\n"
            f"sweep(sweep_cells.logged_cell, {logged_grid(log, 0.5, n_values)!r}, seeds=(0,), backend='loky',"
            f" n_jobs=2, cache_dir={str(cache)!r}, progress=False)\n"
            "print('COMPLETED')\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (cache.exists() and any(n.endswith(".json") for n in os.listdir(cache))):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no cell finished within 60 s"
            time.sleep(0.01)
        # cells are cached as they finish, not at the end: most have not even started yet
        assert len(calls(log)) < len(n_values)
        sigint_at = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0 and "COMPLETED" not in out
    assert "KeyboardInterrupt" in err
    done = cached_cells(cache)
    assert 1 <= len(done) < len(n_values)
    assert {cell for cell, t in stamps(log, "done").items() if t < sigint_at - 0.05} <= set(done)
    first = calls(log)

    res = sweep(sweep_cells.logged_cell, logged_grid(log, 0.5, n_values), seeds=(0,), backend="threading",
                n_jobs=4, cache_dir=cache, progress=False)
    everything = [(n, 0) for n in n_values]
    assert called_cells(calls(log) - first) == sorted(set(everything) - set(done))
    assert (res.computed, res.cached) == (len(n_values) - len(done), len(done))
    assert res.rows == expected_rows(log, 0.5, (0,), n_values)
    assert cached_cells(cache) == everything


def test_corrupt_cache_files_are_recomputed(tmp_path):
    log, cache = tmp_path / "log", tmp_path / "cache"
    first = sweep(sweep_cells.logged_cell, logged_grid(log), seeds=(0,), backend="sequential", cache_dir=cache,
                  progress=False)
    key = {n: cache_key("sweep_cells.logged_cell", {"n": n, "log_dir": str(log), "sleep": 0.0}, 0) for n in N_VALUES}
    assert sorted(os.listdir(cache)) == sorted(f"{k}.json" for k in key.values())
    text = (cache / f"{key[2]}.json").read_text()
    (cache / f"{key[2]}.json").write_text(text[: len(text) // 2])  # truncated
    (cache / f"{key[4]}.json").write_text("[]")  # valid JSON, not a cell
    before = calls(log)
    with pytest.warns(RuntimeWarning, match="corrupt cache file"):
        res = sweep(sweep_cells.logged_cell, logged_grid(log), seeds=(0,), backend="sequential", cache_dir=cache,
                    progress=False)
    assert called_cells(calls(log) - before) == [(2, 0), (4, 0)]
    assert (res.computed, res.cached) == (2, 2)
    assert res.rows == first.rows
    assert cached_cells(cache) == [(n, 0) for n in N_VALUES]  # repaired


def test_cache_key_ignores_grid_order_and_sees_fn(tmp_path):
    log, cache = tmp_path / "log", tmp_path / "cache"
    grid = logged_grid(log, n_values=[5])
    sweep(sweep_cells.logged_cell, grid, seeds=(3,), backend="sequential", cache_dir=cache, progress=False)
    reordered = dict(reversed(list(grid.items())))
    res = sweep(sweep_cells.logged_cell, reordered, seeds=(3,), backend="sequential", cache_dir=cache,
                progress=False)
    assert (res.computed, res.cached) == (0, 1)
    assert list(res.rows[0])[:4] == ["sleep", "log_dir", "n", "seed"]
    other = sweep(sweep_cells.other_cell, grid, seeds=(3,), backend="sequential", cache_dir=cache, progress=False)
    assert (other.computed, other.cached) == (1, 0)
    assert other.rows[0]["value"] == -1.0


# --------------------------------------------------------------------------------------------
# Results and tables


def test_table_pandas_and_plain(tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    res = sweep(sweep_cells.logged_cell, logged_grid(tmp_path, n_values=[1, 4]), seeds=(0, 7),
                backend="sequential", progress=True)
    assert isinstance(res, SweepResult) and res.seconds > 0
    df = res.to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == ["n", "log_dir", "sleep", "seed", "value",
                                                                 "label", "even"]
    assert df["value"].tolist() == [r["value"] for r in res.rows]
    mean = res.groupby_mean("n", "value")
    assert mean["n"].tolist() == [1, 4] and mean["count"].tolist() == [2, 2]
    np.testing.assert_allclose(mean["value"], [1 + 0.5, 2 + 0.5])
    with pytest.raises(KeyError, match="no column 'nope'"):
        res.groupby_mean("nope", "value")

    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="pandas"):
        res.to_pandas()
    table = res.table()
    assert isinstance(table, dict) and list(table) == list(df.columns)
    np.testing.assert_array_equal(table["value"], df["value"].to_numpy())
    assert table["even"].dtype == bool and table["label"].tolist() == ["n1", "n1", "n4", "n4"]
    plain_mean = res.groupby_mean(["n"], "value")
    np.testing.assert_array_equal(plain_mean["value"], mean["value"].to_numpy())
    # progress=True without tqdm: silent, same result
    assert sweep(sweep_cells.logged_cell, logged_grid(tmp_path, n_values=[1, 4]), seeds=(0, 7),
                 backend="sequential", progress=True).rows == res.rows


def test_numpy_scalars_become_python_scalars():
    res = sweep(sweep_cells.numpy_cell, {"x": np.array([0.5, 2.0])}, seeds=[np.int64(1)], backend="sequential",
                progress=False)
    assert res.rows == [{"x": 0.5, "seed": 1, "y": 1.5, "k": 2, "ok": True},
                        {"x": 2.0, "seed": 1, "y": 3.0, "k": 2, "ok": True}]
    assert all(type(v) in (float, int, bool) for row in res.rows for v in row.values())


def test_grid_without_parameters_sweeps_seeds():
    res = sweep(sweep_cells.seed_only_cell, {}, seeds=range(3), backend="threading", n_jobs=2, progress=False)
    assert res.rows == [{"seed": 0, "twice": 0}, {"seed": 1, "twice": 2}, {"seed": 2, "twice": 4}]


# --------------------------------------------------------------------------------------------
# Argument checks


GOOD = {"fn": sweep_cells.logged_cell, "grid": {"n": [1], "log_dir": ["."], "sleep": [0.0]}}


@pytest.mark.parametrize("change, error, match", [
    ({"fn": 3}, TypeError, "fn must be callable"),
    ({"grid": [("n", [1])]}, TypeError, "grid must be a dict"),
    ({"grid": {"n": []}}, ValueError, r"grid\['n'\] is empty"),
    ({"grid": {"n": 1}}, TypeError, r"grid\['n'\] must be a list"),
    ({"grid": {"n": "abc"}}, TypeError, r"grid\['n'\] must be a list"),
    ({"grid": {"n": [object()]}}, TypeError, r"grid\['n'\].*not JSON-serialisable"),
    ({"grid": {"n": [1, 1]}}, ValueError, r"grid\['n'\] holds 1 twice"),
    ({"grid": {"seed": [1]}}, ValueError, "grid must not contain 'seed'"),
    ({"grid": {1: [1]}}, TypeError, "grid keys"),
    ({"seeds": ()}, ValueError, "seeds is empty"),
    ({"seeds": 3}, TypeError, "seeds must be an iterable"),
    ({"seeds": [0.5]}, TypeError, "seeds must hold ints"),
    ({"seeds": [1, 1]}, ValueError, "seeds holds duplicates"),
    ({"backend": "multiprocessing"}, ValueError, r"backend must be one of \('loky', 'threading', 'sequential'"),
    ({"n_jobs": 0}, ValueError, "n_jobs must be >= 1"),
    ({"n_jobs": -1}, ValueError, "n_jobs must be >= 1"),
    ({"n_jobs": 1.5}, TypeError, "n_jobs must be a positive integer"),
    ({"threads_per_worker": 0}, ValueError, "threads_per_worker must be >= 1"),
])
def test_bad_arguments(change, error, match, tmp_path):
    kwargs = dict(GOOD, backend="sequential", cache_dir=tmp_path, progress=False)
    kwargs.update(change)
    with pytest.raises(error, match=match):
        sweep(**kwargs)
    assert os.listdir(tmp_path) == []  # nothing ran


@pytest.mark.parametrize("out, error, match", [
    ([1.0], TypeError, "fn must return a dict of scalars.*returned list"),
    ({"v": [1, 2]}, TypeError, r"JSON-serialisable scalars.*v=\[1, 2\]"),
    ({"v": np.zeros(2)}, TypeError, "JSON-serialisable scalars"),
    ({"x": 1.0}, ValueError, "key 'x', which is also a grid parameter"),
    ({"seed": 1.0}, ValueError, "key 'seed'"),
    ({3: 1.0}, TypeError, "str keys"),
])
def test_bad_results(out, error, match, tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_cells, "ECHO", out)  # what echo_cell returns (in this process)
    with pytest.raises(error, match=match):
        sweep(sweep_cells.echo_cell, {"x": [0]}, backend="sequential", cache_dir=tmp_path, progress=False)
    assert os.listdir(tmp_path) == []


def test_ray_missing_is_a_clear_error():
    if importlib.util.find_spec("ray") is not None:
        pytest.skip("ray is installed")
    with pytest.raises(ImportError, match=r"ray.*pip install"):
        sweep(sweep_cells.seed_only_cell, {}, backend="ray", progress=False)
