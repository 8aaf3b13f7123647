"""Leaks (issue 6, part 6).

100 000 calls of the hot functions (log_prob, sample, grad_log_prob on tiny inputs) and of
error paths that raise -- in the Python validation, in the C++ engine (a std::domain_error
translated to ValueError), through a user callback (py::error_already_set crossing the
C++ loop) and at the size check -- keep the process RSS flat.

RSS comes from /proc/self/statm after a warm-up and after the calls (gc.collect() both
times). The bound, LEAK_BOUND = 8 MiB over 100 000 calls, catches any leak of >= ~84 bytes
per call (an Eigen buffer, a numpy array or an exception object per call would be far
more); test_the_probe_sees_a_leak checks the probe detects one of that size.
"""
from __future__ import annotations

import gc
import os

import numpy as np
import pytest

import lpgx

CALLS = 100_000
LEAK_BOUND = 8 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")

pytestmark = [
    pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc/self/statm"),
    pytest.mark.skipif("asan" in os.environ.get("LD_PRELOAD", ""),
                       reason="under AddressSanitizer freed memory sits in the quarantine: RSS says nothing"),
]


def rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def growth(fn, calls=CALLS, warmup=2_000):
    for _ in range(warmup):
        fn()
    before = rss()
    for _ in range(calls):
        fn()
    return rss() - before


def raising(fn, exc):
    def call():
        try:
            fn()
        except exc:
            return
        raise AssertionError("expected an exception")
    return call


MODEL = lpgx.LinearARModel(3, 3, 2, blocks=lpgx.BLOCKS, w=np.linspace(-1, 1, 3 * 2 + 9 + 9 + 18 + 3))
X = np.ones((1, 2))
Y = np.zeros((1, 3), dtype=np.int64)
BAD = MODEL.copy()
BAD.block(BAD.blocks[0]).flat[0] = np.nan  # written through a live view: the engine refuses it
HUGE = lpgx.LinearARModel(2, 2**31 - 1, 1)


@pytest.mark.parametrize("name, fn, calls", [
    ("log_prob", lambda: MODEL.log_prob(X, Y, n_threads=1), CALLS),
    ("sample", lambda: MODEL.sample(X, rng=1, n_threads=1), CALLS),
    ("grad_log_prob", lambda: MODEL.grad_log_prob(X, Y, n_threads=1), CALLS),
    # the OpenMP path: ~1 ms a call when the cores are busy (a team wakes up per call), so fewer
    ("sample_logp_2threads", lambda: MODEL.sample(np.ones((3, 2)), rng=1, n_threads=2, return_log_prob=True),
     CALLS // 50),
    ("grad_weighted_2threads", lambda: MODEL.grad_log_prob(np.ones((3, 2)), np.zeros((3, 3), int),
                                                           weights=np.ones(3), n_threads=2, return_log_prob=True),
     CALLS // 50),
])
def test_hot_functions_do_not_leak(name, fn, calls):
    grew = growth(fn, calls=calls, warmup=min(2_000, calls // 10))
    print(f"{name}: {grew / 1024:.0f} KiB over {calls} calls")
    assert grew < LEAK_BOUND * calls / CALLS, f"{name}: RSS grew {grew / 2**20:.1f} MiB over {calls} calls"


@pytest.mark.parametrize("name, fn, calls", [
    ("python_validation", raising(lambda: MODEL.log_prob(X, Y + 7), ValueError), CALLS),
    ("cpp_domain_error", raising(lambda: BAD.log_prob(X, Y, n_threads=1), ValueError), CALLS),
    ("cpp_domain_error_grad", raising(lambda: BAD.grad_log_prob(X, Y, n_threads=1), ValueError), CALLS // 2),
    ("size_check", raising(lambda: HUGE.sample(np.zeros((3, 1))), MemoryError), CALLS),
    ("callback_error", raising(lambda: lpgx.pg_step(MODEL.copy(), X, Y, Y, n_threads=1,
                                                    reward=lpgx.CallableReward(lambda x, y: "junk")),
                               TypeError), CALLS // 5),
])
def test_error_paths_do_not_leak(name, fn, calls):
    grew = growth(fn, calls=calls)
    print(f"{name}: {grew / 1024:.0f} KiB over {calls} calls")
    assert grew < LEAK_BOUND * calls / CALLS, f"{name}: RSS grew {grew / 2**20:.1f} MiB over {calls} calls"


def test_the_probe_sees_a_leak():
    """The same measurement flags a deliberate leak of ~100 bytes per call."""
    hoard = []
    grew = growth(lambda: hoard.append(bytearray(100)), warmup=0)
    assert grew >= LEAK_BOUND, grew
    hoard.clear()
