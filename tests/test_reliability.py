"""lpgx used the way people really use a library: forked worker pools, threads, interpreter
shutdown, memory limits, inputs changed during a call, odd save targets. Every case that could
hang or crash runs in a subprocess with a timeout, so it fails instead of freezing the suite."""
from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import lpgx
from lpgx import algorithms

TIMEOUT = 60


def run_script(code: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter (SIGINT raising KeyboardInterrupt, as in a terminal)."""
    prelude = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


# ---- 1. fork --------------------------------------------------------------------------------

FORK_PRELUDE = """
    import numpy as np, lpgx
    m = lpgx.LinearARModel(8, 64, 6)
    m.w = 0.3 * np.random.default_rng(0).standard_normal(m.num_params)
    x = np.random.default_rng(1).standard_normal((256, 6))
    def f(seed):
        return m.sample(x, rng=seed, n_threads=2).tobytes()
    parent = [f(s) for s in range(3)]          # the parent runs threads before forking
"""


@pytest.mark.skipif(not lpgx.openmp_enabled(), reason="no threads to lose in a fork")
@pytest.mark.parametrize("how", ["os.fork", "multiprocessing", "ProcessPoolExecutor"])
def test_forked_children_never_hang_and_agree_with_the_parent(how):
    body = {
        "os.fork": """
            import os, pickle
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                os.write(w, pickle.dumps([f(s) for s in range(3)]))
                os._exit(0)
            os.close(w)
            data = b""
            while chunk := os.read(r, 1 << 20):
                data += chunk
            os.waitpid(pid, 0)
            child = pickle.loads(data)
        """,
        "multiprocessing": """
            import multiprocessing as mp
            with mp.get_context("fork").Pool(2) as pool:
                child = pool.map(f, range(3))
        """,
        "ProcessPoolExecutor": """
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor
            with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
                child = list(ex.map(f, range(3)))
        """,
    }[how]
    out = run_script(textwrap.dedent(FORK_PRELUDE) + textwrap.dedent(body) + "\nassert child == parent\nprint('same')\n")
    assert out.returncode == 0, out.stderr
    assert "same" in out.stdout


def test_a_forked_child_says_once_that_it_runs_on_one_thread():
    if not lpgx.openmp_enabled():
        pytest.skip("no OpenMP")
    out = run_script(FORK_PRELUDE + """
    import os, warnings
    pid = os.fork()
    if pid == 0:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            f(0); f(1)
        msgs = [str(c.message) for c in caught if "forked" in str(c.message)]
        os._exit(0 if len(msgs) == 1 and "spawn" in msgs[0] else 3)
    _, status = os.waitpid(pid, 0)
    print("exit", os.waitstatus_to_exitcode(status))
    """)
    assert out.returncode == 0, out.stderr
    assert "exit 0" in out.stdout


# ---- 2. interpreter shutdown with a thread inside lpgx ----------------------------------------

@pytest.mark.parametrize("call", [
    "lpgx.post_train(m, task, steps=10**7, batch_size=256, n_threads=2, rng=0)",
    "lpgx.pretrain(m, task, steps=10**7, batch_size=256, n_threads=2, rng=0)",
    "algorithms.pg_process(m, lock, base, steps=10**9, m=2**30, rng=0)",
    "lpgx.mc_hits(m, *task.sample(4, rng=1), n_samples=2**33, rng=0, n_threads=2)",
])
def test_exit_with_a_daemon_thread_inside_lpgx_is_quiet(call):
    out = run_script(f"""
        import threading, time, numpy as np, lpgx
        from lpgx import algorithms
        task = lpgx.TeacherTask(8, 8, 64, rng=0)
        lock, base = lpgx.combination_lock(4, 40, 2, rng=0)
        m = lpgx.LinearARModel(8, 64, 8) if "pg_process" not in {call!r} else base.copy()
        threading.Thread(target=lambda: {call}, daemon=True).start()
        time.sleep(1.0)
        print("main exits")
    """)
    assert out.returncode == 0, out.stderr
    assert "terminate" not in out.stderr and "main exits" in out.stdout


@pytest.mark.parametrize("delay", [0.02, 0.05, 0.1])
def test_exit_while_threads_take_the_gil_every_step_is_quiet(delay):
    # Tiny steps: each thread asks for the GIL thousands of times a second, so the interpreter
    # starts finalising while some are waiting for it.
    out = run_script(f"""
        import threading, time, lpgx
        task = lpgx.TeacherTask(2, 2, 2, rng=0)
        for i in range(4):
            m = lpgx.LinearARModel(2, 2, 2)
            threading.Thread(target=lambda m=m: lpgx.post_train(m, task, steps=10**9, batch_size=4, n_threads=2,
                                                                rng=i, progress=lambda s: None), daemon=True).start()
        time.sleep({delay})
    """)
    assert out.returncode == 0, out.stderr
    assert "terminate" not in out.stderr


def test_ctrl_c_during_a_threading_sweep_exits_without_abort():
    out = run_script("""
        import os, signal, threading, lpgx
        def cell(seed):
            task = lpgx.TeacherTask(8, 8, 64, rng=seed)
            m = lpgx.LinearARModel(8, 64, 8)
            lpgx.post_train(m, task, steps=10**7, batch_size=256, n_threads=1, rng=seed)
            return {"done": 1}
        threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            lpgx.sweep(cell, {}, seeds=range(2), backend="threading", n_jobs=2, progress=False)
        except KeyboardInterrupt:
            print("interrupted")
    """)
    assert out.returncode == 0, out.stderr
    assert "interrupted" in out.stdout and "terminate" not in out.stderr


# ---- 3. inputs changed during a call ---------------------------------------------------------

def test_inputs_changed_by_a_progress_callback_do_not_reach_the_engine():
    task = lpgx.TeacherTask(6, 5, 12, rng=0)
    x, y = task.sample(32, rng=1)
    tx, ty = x.copy(), y.copy()
    clean = lpgx.post_train(lpgx.LinearARModel(5, 12, 6), task, steps=6, batch_size=16, rng=2, test=(tx, ty),
                            test_every=1, track=(tx, ty), track_every=1)

    def vandal(step):
        x[:] = np.nan           # the caller's arrays, changed mid-run
        y[:] = 10**6
    m = lpgx.LinearARModel(5, 12, 6)
    res = lpgx.post_train(m, task, steps=6, batch_size=16, rng=2, test=(x, y), test_every=1, track=(x, y),
                          track_every=1, progress=vandal)
    np.testing.assert_array_equal(res.test_error, clean.test_error)
    np.testing.assert_array_equal(res.tracked_log_lik, clean.tracked_log_lik)


def test_tokens_changed_by_another_thread_during_grad_log_prob():
    out = run_script("""
        import threading, numpy as np, lpgx
        m = lpgx.LinearARModel(16, 256, 8)
        m.w = 0.2 * np.random.default_rng(0).standard_normal(m.num_params)
        x = np.random.default_rng(1).standard_normal((64, 8))
        y = m.sample(x, rng=2)
        want = m.grad_log_prob(x, y.copy(), n_threads=2)
        stop = threading.Event()
        def vandal():
            while not stop.is_set():
                y[:, ::7] = 2**30
                y[:, ::7] = 0
        t = threading.Thread(target=vandal)
        t.start()
        try:
            for _ in range(200):
                try:
                    g = m.grad_log_prob(x, y, n_threads=2)
                except ValueError as exc:   # a copy taken mid-vandalism is refused, never read
                    assert "out of range" in str(exc) or "tokens outside" in str(exc), exc
        finally:
            stop.set(); t.join()
        print("survived")
    """)
    assert out.returncode == 0, out.stderr
    assert "survived" in out.stdout


# ---- 4. memory exhaustion inside a parallel region --------------------------------------------

@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as Linux counts it")
@pytest.mark.skipif("asan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer reserves terabytes of address space: RLIMIT_AS cannot apply")
@pytest.mark.parametrize("call", ["m.sample(x, rng=0, return_log_prob=True, n_threads=2)",
                                  "m.token_log_prob(x, y, n_threads=2)",
                                  "m.grad_log_prob(x, y, n_threads=2)"])
def test_out_of_memory_in_per_thread_scratch_is_a_memory_error(call):
    # Outputs (allocated first) fit under the limit; each thread's N-long scratch does not.
    out = run_script(f"""
        import resource, numpy as np, lpgx
        N = 40_000_000
        m = lpgx.LinearARModel(2, N, 1)
        x = np.ones((2, 1))
        y = np.zeros((2, N), dtype=np.int32)
        with open("/proc/self/status") as f:
            vm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + 1_500_000_000, resource.RLIM_INFINITY))
        try:
            {call}
            print("no error")
        except MemoryError:
            print("MemoryError")
    """)
    assert out.returncode == 0, out.stderr
    assert "MemoryError" in out.stdout


# ---- 5. every long loop is interruptible, every size bounded ---------------------------------

def test_mc_hits_honours_ctrl_c_and_bounds_its_samples():
    out = run_script("""
        import os, signal, threading, time, lpgx
        task = lpgx.TeacherTask(6, 4, 32, rng=0)
        m = lpgx.LinearARModel(4, 32, 6)
        x, y = task.sample(2, rng=1)
        threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        t0 = time.perf_counter()
        try:
            lpgx.mc_hits(m, x, y, n_samples=2**34, rng=0, n_threads=2)
        except KeyboardInterrupt:
            print(f"interrupted after {time.perf_counter() - t0:.2f}")
    """)
    assert out.returncode == 0, out.stderr
    assert "interrupted" in out.stdout and float(out.stdout.split()[-1]) < 2.0
    m = lpgx.LinearARModel(2, 3, 1)
    with pytest.raises(ValueError, match="n_samples"):
        lpgx.mc_hits(m, np.ones((1, 1)), np.zeros((1, 3), dtype=int), n_samples=2**40)


# ---- 6. the random iterate lies within the steps run -------------------------------------------

def test_random_iterate_with_eps_is_one_of_the_iterates_run():
    task, base = lpgx.staircase(vocab_size=4, seq_len=5, alphas=[0.3, 0.1], rng=0)
    kw = dict(m=50, eval="all", eps=0.1, rng=3)
    m = base.copy()
    r = algorithms.pg_outcome_multi(m, task, base, steps=100_000, iterate="random", **kw)
    assert r.target_step is not None and r.steps_done == r.target_step < 100_000
    assert r.iterate is not None and 0 <= r.iterate <= r.steps_done
    again = base.copy()  # the same run stopped at that iterate leaves the same weights
    algorithms.pg_outcome_multi(again, task, base, steps=r.iterate, iterate="last", **kw)
    np.testing.assert_array_equal(m.w, again.w)


def test_random_iterate_is_uniform_over_the_iterates():
    task, base = lpgx.staircase(vocab_size=3, seq_len=2, alphas=[0.5], rng=0)
    picks = [algorithms.sgd_adaptive(base.copy(), task, steps=4, iterate="random", rng=s).iterate
             for s in range(1000)]
    counts = np.bincount(picks, minlength=5)
    # 5 iterates (0..4), 1000 draws: chi-square with 4 degrees of freedom, 99.9% point 18.5
    chi2 = ((counts - 200.0) ** 2 / 200.0).sum()
    assert chi2 < 18.5, counts


# ---- 8. one model, two threads ----------------------------------------------------------------

def test_a_model_being_trained_refuses_a_second_run_and_w_assignment():
    task = lpgx.TeacherTask(6, 4, 8, rng=0)
    m = lpgx.LinearARModel(4, 8, 6)
    inside, release, errors = threading.Event(), threading.Event(), []

    def hold(step):
        inside.set()
        release.wait(10)

    t = threading.Thread(target=lambda: lpgx.post_train(m, task, steps=2, batch_size=8, rng=0, progress=hold))
    t.start()
    assert inside.wait(10)
    try:
        for fn in (lambda: lpgx.post_train(m, task, steps=1, batch_size=8, rng=1),
                   lambda: lpgx.pretrain(m, task, steps=1, batch_size=8, rng=1),
                   lambda: algorithms.sgd_adaptive(m, task, steps=1, rng=1),
                   lambda: setattr(m, "w", np.zeros(m.num_params))):
            try:
                fn()
            except ValueError as exc:
                errors.append(str(exc))
    finally:
        release.set()
        t.join()
    assert len(errors) == 4 and all("being trained" in e for e in errors), errors
    lpgx.post_train(m, task, steps=1, batch_size=8, rng=1)  # free again afterwards
    m.w = np.zeros(m.num_params)


def test_w_assigned_from_a_progress_hook_is_refused_not_lost():
    task = lpgx.TeacherTask(6, 4, 8, rng=0)
    m = lpgx.LinearARModel(4, 8, 6)

    def assign(step):
        m.w = np.ones(m.num_params)
    with pytest.raises(ValueError, match="being trained") as info:
        lpgx.post_train(m, task, steps=3, batch_size=8, rng=0, progress=assign)
    assert info.value.partial_result.steps_done == 1


# ---- 9. saving to odd targets ----------------------------------------------------------------

def test_save_through_a_symlink_keeps_the_link(tmp_path):
    target, link = tmp_path / "real.npz", tmp_path / "link.npz"
    lpgx.LinearARModel(3, 2, 1).save(target)
    link.symlink_to(target)
    m = lpgx.LinearARModel(3, 2, 1, w=np.arange(12.0))
    m.save(link)
    assert link.is_symlink() and lpgx.LinearARModel.load(target) == m


@pytest.fixture
def device(tmp_path):
    """A character device (memory-device minor: 3 null, 7 full): our own node in tmp_path where
    this user may make one, so that a save that replaced its target (the bug) would replace that
    node and not the machine's /dev/null; otherwise /dev's, which an unprivileged save cannot
    replace."""
    def make(name: str, minor: int) -> str:
        path = tmp_path / name
        try:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
            with open(path, "rb"):  # a nodev mount refuses to open it
                pass
            return str(path)
        except OSError:
            return f"/dev/{name}"
    return make


def test_save_to_a_device_writes_it_and_keeps_the_device(device):
    null = device("null", 3)
    lpgx.LinearARModel(3, 2, 1).save(null)
    assert stat.S_ISCHR(os.stat(null).st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_full_device_is_reported_under_its_own_name(device):
    full = device("full", 7)
    try:
        with open(full, "wb"):
            pass
    except OSError:
        pytest.skip(f"{full} is not writable here")
    with pytest.raises(OSError) as info:
        lpgx.LinearARModel(3, 2, 1).save(full)
    assert full in str(info.value)
    assert stat.S_ISCHR(os.stat(full).st_mode)


def test_save_errors_name_the_callers_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError) as info:
        lpgx.LinearARModel(3, 2, 1).save(blocker / "m.npz")
    assert str(blocker / "m.npz") in str(info.value) and ".tmp" not in str(info.value)
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        lpgx.LinearARModel(3, 2, 1).save(tmp_path)


def test_save_to_a_file_object_round_trips():
    m = lpgx.LinearARModel(3, 2, 1, w=np.linspace(-1, 1, 12))
    buf = io.BytesIO()
    m.save(buf)
    buf.seek(0)
    assert lpgx.LinearARModel.load(buf) == m


# ---- clearer messages ---------------------------------------------------------------------------

def test_nan_weights_are_named_as_such():
    m = lpgx.LinearARModel(3, 4, 2)
    m.block("context")[0, 0] = np.nan
    with pytest.raises(ValueError, match="weights hold NaN"):
        m.log_prob(np.ones((1, 2)), np.zeros((1, 4), dtype=int))


def test_masked_arrays_are_refused_not_unmasked():
    m = lpgx.LinearARModel(3, 4, 2)
    x = np.ma.masked_array(np.ones((1, 2)), mask=[[True, False]])
    with pytest.raises(TypeError, match="masked array"):
        m.sample(x, rng=0)


def test_an_adagrad_overflow_hints_at_the_reward_scale_and_counts_its_queries():
    task = lpgx.TeacherTask(6, 4, 8, rng=0)
    m = lpgx.LinearARModel(4, 8, 6)
    reward = lpgx.OutcomeReward(values=(1e200, -1e200))
    with pytest.raises(ValueError, match="rewards") as info:
        lpgx.post_train(m, task, reward=reward, steps=2, batch_size=8, rng=0)
    assert info.value.partial_result.steps_done == 0
    assert reward.queries == 8  # the batch was judged before its update overflowed
    np.testing.assert_array_equal(m.w, 0.0)
