#!/usr/bin/env python
"""One post-training run at a large vocabulary: does it finish, how long, how much memory.

The defaults are k = 4096, N = 256, B = 256, 100 steps of outcome-reward policy gradient
from w = 0 on a teacher task with d = 64 (a model of 4096² + 64·4096 parameters, 130 MiB).
Reported: wall time, seconds per step, sampled tokens and logits per second, the process's
peak resident memory (VmHWM) against the parameter vector's size, and the reward queries.

    python bench/bench_large_run.py                       # ~1.5 min on 2 cores
    python bench/bench_large_run.py --vocab 8192 --steps 20 --json PATH
"""
from __future__ import annotations

import argparse
import json
import time
from typing import List, Optional

import lpgx

from _machine import busy_percent, cpu_counters, machine_info, others_busy_percent, status_kb  # bench/_machine.py


def peak_rss_mib() -> Optional[float]:
    hwm = status_kb("VmHWM")
    return None if hwm is None else hwm / 1024


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vocab", type=int, default=4096, help="k")
    ap.add_argument("--seq-len", type=int, default=256, help="N")
    ap.add_argument("--dim", type=int, default=64, help="d")
    ap.add_argument("--batch", type=int, default=256, help="B, contexts per step")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--reward", default="outcome", choices=["outcome", "process"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    k, N, d, B = args.vocab, args.seq_len, args.dim, args.batch

    print(f"idle check: other processes used {busy_percent()} % of the CPUs")
    task = lpgx.TeacherTask(d, k, N, inputs="mixture", rng=0)
    model = lpgx.LinearARModel(k, N, d)
    params_mib = model.num_params * 8 / 2**20
    before = peak_rss_mib()
    counters = cpu_counters()
    t0 = time.perf_counter()
    res = lpgx.post_train(model, task, reward=args.reward, steps=args.steps, batch_size=B, rng=1,
                          n_threads=args.threads)
    seconds = time.perf_counter() - t0
    busy = others_busy_percent(counters, cpu_counters())
    tokens = args.steps * B * N
    out = {"machine": machine_info(lpgx=lpgx.__version__), "k": k, "N": N, "d": d, "B": B, "steps": args.steps,
           "reward": args.reward, "threads": args.threads, "seconds": seconds,
           "seconds_per_step": seconds / args.steps, "tokens_per_s": tokens / seconds,
           "logits_per_s": tokens * k / seconds, "params_mib": params_mib,
           "peak_rss_mib_before": before, "peak_rss_mib": peak_rss_mib(),
           "queries": int(res.queries[-1]), "mean_reward_first": float(res.mean_reward[0]),
           "mean_reward_last": float(res.mean_reward[-1]), "others_busy_percent": busy}
    print(f"k={k} N={N} d={d} B={B}: {args.steps} {args.reward} steps in {seconds:.1f} s "
          f"({out['seconds_per_step'] * 1e3:.0f} ms/step, {out['tokens_per_s'] / 1e6:.2f} Mtok/s sampled, "
          f"{out['logits_per_s'] / 1e9:.2f} Glogit/s); parameters {params_mib:.0f} MiB, "
          f"peak RSS {out['peak_rss_mib']:.0f} MiB (after the task and model: {before:.0f} MiB); "
          f"{out['queries']} reward queries; other processes {busy} % of the CPUs")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
