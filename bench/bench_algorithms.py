#!/usr/bin/env python
"""Benchmark the paper's query-efficient algorithms: lpgx against numpy, same run.

On a small combination lock (k = 4, N = 8, one context, uniform base α = k^−N, the case
where outcome rewards need ~k^N queries):

- outcome reward, Algorithm 1 (``pg_outcome_multi``, exploration ½q0 + ½Unif, unbounded
  m): reward queries per second;
- process reward, Algorithm 2 (``pg_process``, token-level exploration): steps per second
  and queries per second.

The numpy reference implements the same algorithms as a researcher would in Python: per
query, a sequence is sampled token by token from the model's softmax with numpy and
checked against the code; updates use the analytic gradient and the adaptive step.
Both run until the same number of steps; per-query and per-step rates are compared.

Run from the repository root (machine otherwise idle):

    python bench/bench_algorithms.py
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import lpgx
from lpgx import algorithms as alg


class NumpyLock:
    """Algorithms 1 and 2 on a combination lock, in numpy (one-hot contexts, the
    context_position block: the logits at position i of context j are C[j, i, :])."""

    def __init__(self, C, codes, base_C, seed):
        self.C, self.codes, self.base = C.copy(), codes, base_C
        self.k, self.N = C.shape[2], C.shape[1]
        self.rng = np.random.default_rng(seed)
        self.queries = 0

    def _probs(self, W, j, i):
        z = W[j, i] - W[j, i].max()
        p = np.exp(z)
        return p / p.sum()

    def _sample(self, W, j):
        return np.array([self.rng.choice(self.k, p=self._probs(W, j, i)) for i in range(self.N)])

    def _mixture(self, j):
        if self.rng.random() < 0.5:
            return self.rng.integers(0, self.k, self.N)
        return self._sample(self.base, j)

    def _update(self, j, upto):
        G = np.zeros_like(self.C[j])
        for i in range(upto):
            G[i] = -self._probs(self.C, j, i)
            G[i, self.codes[j, i]] += 1.0
        self.C[j] += G / (4.0 + 2.0 * (G * G).sum())

    def outcome_step(self, j, m):
        y = self._sample(self.C, j)
        self.queries += 1
        ok = np.array_equal(y, self.codes[j])
        t = 0
        while not ok and t < m:
            y = self._mixture(j)
            self.queries += 1
            ok = np.array_equal(y, self.codes[j])
            t += 1
        if ok:
            self._update(j, self.N)

    def process_step(self, j, m):
        y = self._sample(self.C, j)
        self.queries += 1
        wrong = np.nonzero(y != self.codes[j])[0]
        v = self.N if len(wrong) == 0 else int(wrong[0])
        while v < self.N:
            p = self._probs(self.base, j, v)
            for _ in range(m):
                c = self.rng.integers(0, self.k) if self.rng.random() < 0.5 else self.rng.choice(self.k, p=p)
                self.queries += 1
                if c == self.codes[j, v]:
                    break
            else:
                break
            v += 1
        if v > 0:
            self._update(j, v)


def rate(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=8)
    ap.add_argument("--outcome-steps", type=int, default=200)
    ap.add_argument("--process-steps", type=int, default=2000)
    ap.add_argument("--numpy-steps", type=int, default=20)
    a = ap.parse_args()
    k, N = a.vocab, a.seq_len
    task, base = lpgx.combination_lock(k, N, 1, rng=0)
    C0 = base.block("context_position").copy()
    rows = []

    r, s = rate(lambda: alg.pg_outcome_multi(base.copy(), task, base, steps=a.outcome_steps, m=10**9, rng=1))
    rows.append(("outcome (Algorithm 1)", "lpgx", r.total_queries / s, r.steps_done / s))
    ref = NumpyLock(C0, task.y_star, C0, 1)
    _, s = rate(lambda: [ref.outcome_step(0, 10**9) for _ in range(a.numpy_steps)])
    rows.append(("outcome (Algorithm 1)", "numpy", ref.queries / s, a.numpy_steps / s))

    r, s = rate(lambda: alg.pg_process(base.copy(), task, base, steps=a.process_steps, m=10**6, rng=1))
    rows.append(("process (Algorithm 2)", "lpgx", r.total_queries / s, r.steps_done / s))
    ref = NumpyLock(C0, task.y_star, C0, 1)
    _, s = rate(lambda: [ref.process_step(0, 10**6) for _ in range(a.numpy_steps * 10)])
    rows.append(("process (Algorithm 2)", "numpy", ref.queries / s, a.numpy_steps * 10 / s))

    print(f"Combination lock, one context, uniform base: k={k}, N={N} (k^N = {k**N})\n")
    print("| algorithm | implementation | queries/s | steps/s | lpgx speed-up |")
    print("|---|---|---|---|---|")
    for i, (name, impl, qps, sps) in enumerate(rows):
        lp = rows[i - (i % 2)]
        print(f"| {name} | {impl} | {qps:,.0f} | {sps:,.1f} | {lp[2] / qps:.0f}x (queries/s) |")


if __name__ == "__main__":
    main()
