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
    os.makedirs(os.path.join(log_dir, folder), exist_ok=True)
    with open(os.path.join(log_dir, folder, f"{n}-{seed}"), "w") as f:
        f.write(repr(time.time()))


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
