"""lpgx.sweep: backends agree bitwise, cells are cached as they finish, sweeps resume, cache
keys see the function by value."""
import functools
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types

import numpy as np
import pytest

import lpgx
import sweep_cells
from lpgx.sweep import SweepResult, cache_key, function_key, sweep

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


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster (2 CPUs) for the module; yields the arguments of ray.init that
    connect another process to it."""
    ray = pytest.importorskip("ray")
    # the workers import sweep_cells, and lpgx from wherever this process has it
    lpgx_root = os.path.dirname(os.path.dirname(os.path.abspath(lpgx.__file__)))
    runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join([TESTS_DIR, lpgx_root])}}
    ray.init(num_cpus=2, include_dashboard=False, runtime_env=runtime_env)
    try:
        yield {"address": ray.get_runtime_context().gcs_address, "runtime_env": runtime_env}
    finally:
        ray.shutdown()


def test_ray_backend_matches_local(reference, ray_cluster):
    """Ray tasks give the same floats, bit for bit, with threads_per_worker OpenMP threads."""
    wide = sweep(sweep_cells.train_cell, TRAIN_GRID, seeds=TRAIN_SEEDS, backend="ray", threads_per_worker=2,
                 progress=False)
    narrow = sweep(sweep_cells.train_cell, TRAIN_GRID, seeds=TRAIN_SEEDS, backend="ray", n_jobs=1, progress=False)
    for res, threads in ((wide, 2), (narrow, 1)):
        assert cell_ids(res.rows) == cell_ids(reference.rows)
        assert numbers(res.rows) == numbers(reference.rows)
        assert (res.computed, res.cached) == (8, 0)
        assert {r["threads"] for r in res.rows} == {threads}


def test_ctrl_c_waits_for_the_ray_calls_to_return():
    """The Ray backend holds SIGINT back during Ray's calls (raised inside them, it can abort
    the process) and raises it between them; the handler is restored after. In a subprocess:
    a KeyboardInterrupt here would stop pytest."""
    code = textwrap.dedent("""
        import os, signal, sys, time
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import lpgx
        sweep_module = sys.modules["lpgx.sweep"]
        with sweep_module._SigintBetweenCalls() as sigint:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # a Ray call
            print("held")
            try:
                sigint.deliver()
            except KeyboardInterrupt:
                print("raised")
        print("restored" if signal.getsignal(signal.SIGINT) is signal.default_int_handler else "not restored")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["held", "raised", "restored"]


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
        assert data["fn"] == "sweep_cells.logged_cell"
        assert name == cache_key(sweep_cells.logged_cell, data["params"], data["seed"]) + ".json"
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


@pytest.mark.parametrize("backend", ["loky", "ray"])
def test_failure_then_resume_in_workers(tmp_path, backend, request):
    """A failing cell in a worker: the exception reaches the caller with its type, every cell
    that finished before it is on disk, and the re-run computes only the others."""
    if backend == "ray":
        request.getfixturevalue("ray_cluster")
    log, cache = tmp_path / "log", tmp_path / "cache"
    fail_at(log, 3, 1, "CellFailure:0.1")
    with pytest.raises(sweep_cells.CellFailure, match="n=3 seed=1") as info:
        sweep(sweep_cells.logged_cell, logged_grid(log, sleep=0.1), seeds=(0, 1), backend=backend, n_jobs=2,
              cache_dir=cache, progress=False)
    if sys.version_info >= (3, 11):
        assert "in lpgx.sweep cell (n=3" in "".join(info.value.__notes__)
    done = cached_cells(cache)
    failed_at = stamps(log, "failed")[3, 1]
    finished_before = {cell for cell, t in stamps(log, "done").items() if t < failed_at - 0.05}
    # 2 at once: cells 0-3 end >= 0.1 s before cell 5 fails; results take far less than 0.05 s to arrive
    assert len(finished_before) >= 4 and finished_before <= set(done)
    assert (3, 1) not in done
    first = calls(log)

    (log / "FAIL-3-1").unlink()
    res = sweep(sweep_cells.logged_cell, logged_grid(log, sleep=0.1), seeds=(0, 1), backend=backend, n_jobs=2,
                cache_dir=cache, progress=False)
    everything = [(n, s) for n in N_VALUES for s in (0, 1)]
    assert called_cells(calls(log) - first) == sorted(set(everything) - set(done))
    assert (res.computed, res.cached) == (8 - len(done), len(done))
    assert res.rows == expected_rows(log, 0.1, (0, 1))
    assert cached_cells(cache) == everything


@pytest.mark.parametrize("backend", ["loky", "ray"])
def test_ctrl_c_in_a_subprocess_then_resume(tmp_path, backend, request):
    """A real interruption: SIGINT to a sweep in another process once its first cell is on
    disk; the cells finished by then stay on disk, and the re-run here computes exactly the
    others."""
    connect = ""
    if backend == "ray":  # the sweep runs on this module's cluster
        connect = f"import ray; ray.init(**{request.getfixturevalue('ray_cluster')!r})\n"
    log, cache = tmp_path / "log", tmp_path / "cache"
    n_values = list(range(1, 9))
    # SIGINT raises KeyboardInterrupt even if this test runs in the background (where SIGINT
    # is ignored, and the child would inherit that)
    code = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            f"import sys; sys.path.insert(0, {TESTS_DIR!r})\n"
            "import sweep_cells\n"
            "from lpgx.sweep import sweep\n"
            + connect +
            f"sweep(sweep_cells.logged_cell, {logged_grid(log, 0.5, n_values)!r}, seeds=(0,), backend={backend!r},"
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
    assert "KeyboardInterrupt" in err, err[-4000:]
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
    key = {n: cache_key(sweep_cells.logged_cell, {"n": n, "log_dir": str(log), "sleep": 0.0}, 0) for n in N_VALUES}
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
# The cache key sees fn by value


def sweep_n(fn, cache, backend="sequential"):
    return sweep(fn, {"n": [1, 2, 3]}, seeds=(0,), backend=backend, n_jobs=2, cache_dir=cache, progress=False)


def values(res):
    return [row["value"] for row in res.rows]


def test_closures_of_one_factory_do_not_share_cells(tmp_path):
    twice = sweep_n(sweep_cells.scaled(2.0), tmp_path)
    thrice = sweep_n(sweep_cells.scaled(3.0), tmp_path, backend="loky")  # closures go to workers too
    assert values(twice) == [2.0, 4.0, 6.0] and values(thrice) == [3.0, 6.0, 9.0]
    assert (thrice.computed, thrice.cached) == (3, 0)
    again = sweep_n(sweep_cells.scaled(2.0), tmp_path)  # another closure over the same value
    assert (again.computed, again.cached) == (0, 3) and again.rows == twice.rows


def test_lambdas_do_not_share_cells(tmp_path):
    plus = sweep_n(lambda n, seed: {"value": n + 1}, tmp_path)
    minus = sweep_n(lambda n, seed: {"value": n - 1}, tmp_path)
    assert values(plus) == [2, 3, 4] and values(minus) == [0, 1, 2]
    assert (minus.computed, minus.cached) == (3, 0)
    assert sweep_n(lambda n, seed: {"value": n + 1}, tmp_path).cached == 3  # the same lambda again


def test_partials_over_large_arrays_do_not_share_cells(tmp_path):
    ones = np.ones(10_000)
    bumped = ones.copy()
    bumped[5_000] = 2.0
    assert repr(ones) == repr(bumped)  # numpy abbreviates: the text of the partials is the same
    first = sweep_n(functools.partial(sweep_cells.weighted_cell, ones), tmp_path)
    second = sweep_n(functools.partial(sweep_cells.weighted_cell, bumped), tmp_path)
    assert values(first) == [10_001.0, 10_002.0, 10_003.0] and values(second) == [10_002.0, 10_003.0, 10_004.0]
    assert (second.computed, second.cached) == (3, 0)
    assert sweep_n(functools.partial(sweep_cells.weighted_cell, ones.copy()), tmp_path).cached == 3  # by value
    nested = [functools.partial(functools.partial(sweep_cells.weighted_cell), weights=w) for w in (ones, bumped)]
    assert [values(sweep_n(fn, tmp_path)) for fn in nested] == [values(first), values(second)]


KEYS_CODE = ("import json, sys\n"
             f"sys.path.insert(0, {TESTS_DIR!r})\n"
             "import sweep_cells\n"
             "from lpgx.sweep import cache_key, function_key\n"
             "keys = {name: function_key(fn) for name, fn in sweep_cells.key_examples().items()}\n"
             "keys['a cell'] = cache_key(sweep_cells.scaled(2.5), {'n': 3}, 7)\n"
             "print(json.dumps(keys))\n")


@pytest.mark.parametrize("hash_seed", ["0", "4242"])
def test_keys_are_the_same_in_another_process(hash_seed):
    """Keys hold no ids or addresses, and no order of a set of strings (which PYTHONHASHSEED
    changes): a new process finds the same cells."""
    here = {name: function_key(fn) for name, fn in sweep_cells.key_examples().items()}
    here["a cell"] = cache_key(sweep_cells.scaled(2.5), {"n": 3}, 7)
    assert len(set(here.values())) == len(here)
    out = subprocess.run([sys.executable, "-c", KEYS_CODE], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONHASHSEED=hash_seed))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == here


def module_from(source, name="user_cells"):
    """A module made from source text, as if a file had been edited and imported again."""
    module = types.ModuleType(name)
    exec(compile(textwrap.dedent(source), f"{name}.py", "exec"), module.__dict__)
    return module


USER_CELLS = """
    SCALE = 2.0

    def helper(n):
        return n + 1

    def cell(n, seed, offset=0.5):
        return {"value": SCALE * helper(n) + offset + seed}
"""
USER_CELLS_MOVED = """
    # a comment, and the functions further down
    SCALE = 2.0


    def helper(n):
        # why
        return n + 1

    def cell(n, seed, offset=0.5):
        return {"value": SCALE * helper(n) + offset + seed}  # the value
"""


@pytest.mark.parametrize("old, new", [
    ("SCALE * helper(n)", "SCALE * helper(n) * 1"),  # the body
    ("offset=0.5", "offset=0.25"),  # a default
    ("SCALE = 2.0", "SCALE = 3.0"),  # a constant it reads
    ("return n + 1", "return n + 2"),  # a helper of its module that it calls
])
def test_editing_the_function_changes_its_key(old, new):
    key = function_key(module_from(USER_CELLS).cell)
    assert function_key(module_from(USER_CELLS).cell) == key  # imported again, unchanged
    assert function_key(module_from(USER_CELLS_MOVED).cell) == key  # comments and line numbers do not count
    assert function_key(module_from(USER_CELLS, "other_cells").cell) != key  # same code, another module
    edited = USER_CELLS.replace(old, new)
    assert edited != USER_CELLS and function_key(module_from(edited).cell) != key


def test_function_key_of_instances_methods_and_functions_in_functions():
    k = function_key
    Scaled = sweep_cells.Scaled
    assert k(Scaled(2.0)) == k(Scaled(2.0)) != k(Scaled(3.0))
    assert k(Scaled(2.0).cell) == k(Scaled(2.0).cell) != k(Scaled(3.0).cell)
    assert k(Scaled(2.0).cell) != k(Scaled(2.0))
    assert k(sweep_cells.compose(math.sqrt)) != k(sweep_cells.compose(math.log))
    assert k(sweep_cells.compose(lambda n: 2 * n)) != k(sweep_cells.compose(lambda n: 3 * n))
    assert k(sweep_cells.recursive()) == k(sweep_cells.recursive())
    assert sweep(sweep_cells.recursive(), {"n": [3]}, backend="sequential", progress=False).rows[0]["value"] == 3


def test_a_value_without_a_key_is_a_clear_error(tmp_path):
    lock = threading.Lock()

    def cell(n, seed):
        with lock:
            return {"value": n}

    with pytest.raises(TypeError, match="captured variable 'lock'.*cannot pickle"):
        sweep_n(cell, tmp_path)
    assert os.listdir(tmp_path) == []
    # without cache_dir no key is needed
    assert values(sweep(cell, {"n": [1, 2]}, backend="sequential", progress=False)) == [1, 2]


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
    """As if ray were not installed (in a subprocess: this one may hold a Ray cluster)."""
    code = ("import sys; sys.modules['ray'] = None\n"
            f"sys.path.insert(0, {TESTS_DIR!r})\n"
            "import sweep_cells\n"
            "from lpgx.sweep import sweep\n"
            "try:\n"
            "    sweep(sweep_cells.seed_only_cell, {}, backend='ray', progress=False)\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "this needs ray: pip install 'lpgx[ray]'" in out.stdout
