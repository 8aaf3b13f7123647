"""Top-level (picklable) cell functions for tests/test_sweep.py."""
import math
import os
import time
import uuid

import lpgx


class CellFailure(Exception):
    """Raised on purpose by `logged_cell`."""


def train_cell(seq_len, batch_size, seed):
    """A real lpgx computation: pre-train a small model, return its sequence error."""
    task = lpgx.TeacherTask(8, 4, seq_len, rng=seed)
    model = lpgx.LinearARModel(4, seq_len, 8)
    lpgx.pretrain(model, task, steps=20, batch_size=batch_size, rng=seed)
    x, y = task.sample(64, rng=seed + 1)
    return {"err": lpgx.sequence_error(model, x, y), "norm": float(model.w @ model.w),
            "threads": lpgx.max_threads()}


def _stamp(log_dir, folder, n, seed):
    """The time, in log_dir/<folder>/<n>-<seed>, whole or not at all: written beside the folder
    and renamed into it, so an interrupt mid-write (a test's SIGINT) leaves no empty stamp."""
    os.makedirs(os.path.join(log_dir, folder), exist_ok=True)
    tmp = os.path.join(log_dir, f".{folder}-{n}-{seed}-{uuid.uuid4().hex}")
    with open(tmp, "w") as f:
        f.write(repr(time.time()))
    os.replace(tmp, os.path.join(log_dir, folder, f"{n}-{seed}"))


def logged_cell(n, log_dir, sleep, seed):
    """Logs each call as its own file log_dir/calls/<n>-<seed>-<uuid>, and the time it returned
    in log_dir/done/<n>-<seed>. If log_dir/FAIL-<n>-<seed> exists, holding "<exception name>"
    or "<exception name>:<delay>", it waits the delay, logs the time in log_dir/failed/<n>-<seed>
    and raises that exception. Else sleeps ``sleep`` seconds."""
    calls = os.path.join(log_dir, "calls")
    os.makedirs(calls, exist_ok=True)
    open(os.path.join(calls, f"{n}-{seed}-{uuid.uuid4().hex}"), "w").close()
    marker = os.path.join(log_dir, f"FAIL-{n}-{seed}")
    if os.path.exists(marker):
        with open(marker) as f:
            kind, _, delay = f.read().strip().partition(":")
        time.sleep(float(delay or 0))
        _stamp(log_dir, "failed", n, seed)
        raise KeyboardInterrupt() if kind == "KeyboardInterrupt" else CellFailure(f"cell n={n} seed={seed}")
    if sleep:
        time.sleep(sleep)
    _stamp(log_dir, "done", n, seed)
    return {"value": math.sqrt(n) + seed / 7, "label": f"n{n}", "even": n % 2 == 0}


def other_cell(n, log_dir, sleep, seed):
    """Same parameters as `logged_cell`, another function: another cache key."""
    return {"value": -1.0}


def numpy_cell(x, seed):
    import numpy as np
    return {"y": np.float64(x + seed), "k": np.int32(2), "ok": np.bool_(True)}


def seed_only_cell(seed):
    return {"twice": 2 * seed}


ECHO = None


def echo_cell(x, seed):
    """Returns the module attribute ECHO (set by the test; sequential backend only)."""
    return ECHO


# --------------------------------------------------------------------------------------------
# Functions that differ only by the values they hold (tests of lpgx.sweep.function_key)


def scaled(scale):
    """A closure: cells of scaled(2.0) and scaled(3.0) must not share cache files."""
    def cell(n, seed):
        return {"value": scale * n + seed}
    return cell


def weighted_cell(weights, n, seed):
    """For partials over (large) arrays."""
    return {"value": float(weights.sum()) + n + seed}


class Scaled:
    """A callable instance, and a method, holding ``scale``."""

    def __init__(self, scale):
        self.scale = scale

    def __call__(self, n, seed):
        return {"value": self.scale * n + seed}

    def cell(self, n, seed):
        return {"value": -self.scale * n + seed}


def compose(inner):
    """A closure over another function."""
    def cell(n, seed):
        return {"value": inner(n) + seed}
    return cell


def recursive():
    """A closure that refers to itself."""
    def count(n, seed):
        return {"value": 0 if n == 0 else count(n - 1, seed)["value"] + 1}
    return count


square_cell = lambda n, seed: {"value": n * n + seed}  # noqa: E731 (a module-level lambda)


def key_examples():
    """Functions whose keys must be the same in every process (built the same way in each)."""
    import functools
    import numpy as np
    words = frozenset({"alpha", "beta", "gamma", "delta", "epsilon"})
    table = {"b": 2, 1: "a", (1, 2): {"x", "yy", "zzz"}}

    def holds_sets(n, seed):  # pickled naively, sets of strings change order with PYTHONHASHSEED
        return {"value": len(words) + len(table) + (n in {"p", "q", "r", "s"})}

    return {"module function": train_cell, "closure": scaled(2.5), "closure over sets": holds_sets,
            "lambda": square_cell,
            "partial over an array": functools.partial(weighted_cell, np.linspace(0.0, 1.0, 10_001)),
            "partial of a partial": functools.partial(functools.partial(weighted_cell), np.arange(7.0)),
            "callable instance": Scaled(1.5), "method": Scaled(0.5).cell, "closure over a function":
                compose(math.sqrt), "closure over a closure": compose(scaled(4.0)), "recursive": recursive()}
