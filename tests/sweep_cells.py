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


def logged_cell(n, log_dir, sleep, seed):
    """Logs each call as its own file in log_dir/calls; fails if log_dir/FAIL-<n>-<seed> exists
    (holding the exception name); sleeps ``sleep`` seconds."""
    calls = os.path.join(log_dir, "calls")
    os.makedirs(calls, exist_ok=True)
    open(os.path.join(calls, f"{n}-{seed}-{uuid.uuid4().hex}"), "w").close()
    marker = os.path.join(log_dir, f"FAIL-{n}-{seed}")
    if os.path.exists(marker):
        with open(marker) as f:
            kind = f.read().strip()
        raise KeyboardInterrupt() if kind == "KeyboardInterrupt" else CellFailure(f"cell n={n} seed={seed}")
    if sleep:
        time.sleep(sleep)
    return {"value": math.sqrt(n) + seed / 7, "label": f"n{n}", "even": n % 2 == 0}
