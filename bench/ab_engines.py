#!/usr/bin/env python
"""Two builds of lpgx timed against each other in one run: the speed half of "change the engine,
keep what works" (the other half is ``scripts/fingerprint.py``, which checks the outputs).

Each build is a folder that holds an importable ``lpgx`` package with its compiled ``_core``
(a source tree's ``python/`` after copying the extension there, or an unpacked wheel). For every
case the script starts one fresh interpreter per build, alternating the builds over ``--rounds``
rounds so that a load that comes and goes hits both alike, and keeps each build's best time.

Cases, at the paper's Figure-1 size (B = 1024, N = 128, d = k = 32, default blocks):
- ``sample``, ``log_prob``, ``grad_log_prob`` with 1 and 2 threads, random weights of scale 0.3;
- one ``post_train`` step (outcome and process rewards, default estimator, Adagrad), from a
  pre-trained model (300 supervised steps) and from w = 0, 2 threads, per-step time over
  ``--steps`` steps.

Usage (from the repository root)::

    python bench/ab_engines.py OLD_DIR NEW_DIR [--rounds 5] [--json PATH]

The ratio column is NEW / OLD: above 1 the new build is slower. The machine should be idle;
the share of CPU time other processes used during the run is printed at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import cpu_counters, others_busy_percent  # noqa: E402


def _with_children(c):  # the timed work runs in child interpreters: count it as ours
    if c is None:
        return None
    t = os.times()
    return c[0], c[1], c[2] + t.children_user + t.children_system

# One case per run of this program in a child interpreter: prints the best seconds per call.
_CHILD = r"""
import sys, time, numpy as np, lpgx
case, threads, repeats, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
B, N, d, k = 1024, 128, 32, 32
def best(f):
    f()
    t_best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter(); f(); t_best = min(t_best, time.perf_counter() - t)
    return t_best
if case.startswith("train"):
    _, reward, start = case.split(":")
    task = lpgx.TeacherTask(d, k, N, inputs="mixture", rng=0)
    model = lpgx.LinearARModel(k, N, d)
    if start == "pretrained":
        lpgx.pretrain(model, task, steps=300, rng=0, n_threads=threads)
    run = lambda: lpgx.post_train(model.copy(), task, reward=reward, steps=steps, batch_size=B, rng=1,
                                  n_threads=threads)
    print(best(run) / steps)
else:
    model = lpgx.LinearARModel(k, N, d)
    rng = np.random.default_rng(0)
    model.w = 0.3 * rng.standard_normal(model.num_params)
    x = rng.standard_normal((B, d))
    y = model.sample(x, rng=1, n_threads=threads)
    weights = rng.standard_normal((B, N))
    calls = {"sample": lambda: model.sample(x, rng=1, n_threads=threads),
             "log_prob": lambda: model.log_prob(x, y, n_threads=threads),
             "grad_log_prob": lambda: model.grad_log_prob(x, y, weights, n_threads=threads)}
    print(best(calls[case]))
"""

CASES = ([(op, t) for op in ("sample", "log_prob", "grad_log_prob") for t in (1, 2)]
         + [(f"train:{r}:{s}", 2) for s in ("pretrained", "w0") for r in ("outcome", "process")])


def time_case(build: str, case: str, threads: int, repeats: int, steps: int) -> float:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(build))
    out = subprocess.run([sys.executable, "-c", _CHILD, case, str(threads), str(repeats), str(steps)],
                         env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", help="folder holding the old build's lpgx package")
    ap.add_argument("new", help="folder holding the new build's lpgx package")
    ap.add_argument("--rounds", type=int, default=5, help="fresh interpreters per build and case")
    ap.add_argument("--repeats", type=int, default=20, help="timed kernel calls per interpreter")
    ap.add_argument("--steps", type=int, default=50, help="post_train steps per timing")
    ap.add_argument("--json", metavar="PATH")
    a = ap.parse_args(argv)
    for build in (a.old, a.new):
        if not os.path.isdir(os.path.join(build, "lpgx")):
            ap.error(f"{build!r} holds no lpgx package")
    start, t0 = _with_children(cpu_counters()), time.time()
    rows: List[Dict[str, object]] = []
    print("| case | threads | old best (ms) | new best (ms) | new / old |\n|---|---:|---:|---:|---:|")
    for case, threads in CASES:
        best = {"old": float("inf"), "new": float("inf")}
        for r in range(a.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for which in order:
                build = a.old if which == "old" else a.new
                best[which] = min(best[which], time_case(build, case, threads, a.repeats, a.steps))
        ratio = best["new"] / best["old"]
        rows.append({"case": case, "threads": threads, "old_s": best["old"], "new_s": best["new"], "ratio": ratio})
        print(f"| {case} | {threads} | {best['old'] * 1e3:.3f} | {best['new'] * 1e3:.3f} | {ratio:.3f} |", flush=True)
    busy = others_busy_percent(start, _with_children(cpu_counters()))
    print(f"\n{time.time() - t0:.0f} s; other processes used {busy}% of the CPU time")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"old": a.old, "new": a.new, "others_busy_percent": busy, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
