#!/usr/bin/env python
"""Benchmark one Figure-1 policy-gradient step: lpgx against PyTorch and numpy, same run.

A step (SPEC §6.2, the authors' Figure-1 post-training): draw B = 1024 mixture contexts,
compute their correct responses y* (the teacher's greedy decoding), sample one response per
context on-policy, outcome rewards ±1 with the batch-mean baseline, the loss
−mean_{b,i} A_b log p(y_bi | x_b, y_b,<i), one Adagrad step (lr 0.1). Sizes d = k = 32,
N = 128 by default.

- lpgx: ``lpgx.post_train`` (the whole loop in C++), time per step over ``--steps`` steps.
- PyTorch: written as a researcher would: float32, a per-position loop over the batch with
  ``torch.multinomial`` for sampling and greedy decoding for y*, the loss on all positions
  at once with autograd, ``torch.optim.Adagrad``; ``torch.set_num_threads(2)``.
- numpy: the same step vectorised over the batch (float64, loop over positions for
  sampling, analytic gradient).

Run from the repository root (lpgx and torch==2.13.0 installed; the machine otherwise idle):

    python bench/bench_training.py                 # B=1024, N=128, d=k=32, 2 threads
    python bench/bench_training.py --steps 20 --json bench/training.json
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import lpgx

try:
    import torch
except ImportError:
    torch = None


def mixture_inputs(rng, B, d, M, sigma):
    j = rng.integers(0, M, B)
    noise = sigma * rng.standard_normal((B, d))
    norm = np.linalg.norm(noise, axis=1, keepdims=True)
    noise = np.where(norm > sigma, noise * sigma / norm, noise)
    x = noise
    x[np.arange(B), j % d] += 1.0
    return x * np.sqrt(d) / np.linalg.norm(x, axis=1, keepdims=True)


class NumpyPG:
    """The Figure-1 step in vectorised numpy (float64)."""

    def __init__(self, d, k, N, W1s, W2s, seed):
        self.d, self.k, self.N = d, k, N
        self.W1s, self.W2s = W1s, W2s            # teacher, (k, d) and (k, k) [c, prev]
        self.W1 = np.zeros((d, k))
        self.W2 = np.zeros((k, k))
        self.acc1, self.acc2 = np.zeros_like(self.W1), np.zeros_like(self.W2)
        self.rng = np.random.default_rng(seed)

    def step(self, B, lr=0.1):
        d, k, N = self.d, self.k, self.N
        x = mixture_inputs(self.rng, B, d, 32, 0.05)
        base_t = x @ self.W1s.T
        ys = np.empty((B, N), dtype=np.int64)
        prev = None
        for i in range(N):
            z = base_t if prev is None else base_t + self.W2s[:, prev].T
            prev = z.argmax(1)
            ys[:, i] = prev
        base = x @ self.W1
        y = np.empty((B, N), dtype=np.int64)
        P = np.empty((B, N, k))
        prev = None
        for i in range(N):
            z = base if prev is None else base + self.W2[:, prev].T
            z = z - z.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            u = self.rng.random((B, 1))
            prev = np.minimum((p.cumsum(1) < u).sum(1), k - 1)
            y[:, i] = prev
            P[:, i] = p
        r = np.where((y == ys).all(1), 1.0, -1.0)
        A = r - r.mean()
        # dL/dlogits = −A (onehot − p) / (B N)
        G = P.copy()
        np.put_along_axis(G, y[..., None], np.take_along_axis(G, y[..., None], 2) - 1.0, 2)
        G *= (A / (B * N))[:, None, None]
        g1 = x.T @ G.sum(1)
        g2 = np.zeros((k, k))
        np.add.at(g2, (slice(None), y[:, :-1].ravel()), G[:, 1:].reshape(-1, k).T)
        for W, g, acc in ((self.W1, g1, self.acc1), (self.W2, g2, self.acc2)):
            acc += g * g
            W -= lr * g / (np.sqrt(acc) + 1e-10)


class TorchPG:
    """The Figure-1 step as a researcher writes it in PyTorch (float32)."""

    def __init__(self, d, k, N, W1s, W2s, seed):
        self.d, self.k, self.N = d, k, N
        self.W1s = torch.tensor(W1s, dtype=torch.float32)
        self.W2s = torch.tensor(W2s, dtype=torch.float32)
        self.W1 = torch.zeros(d, k, requires_grad=True)
        self.W2 = torch.zeros(k, k, requires_grad=True)
        self.opt = torch.optim.Adagrad([self.W1, self.W2], lr=0.1)
        self.gen = torch.Generator().manual_seed(seed)
        self.np_rng = np.random.default_rng(seed)

    def step(self, B):
        N = self.N
        x = torch.tensor(mixture_inputs(self.np_rng, B, self.d, 32, 0.05), dtype=torch.float32)
        with torch.no_grad():
            base_t = x @ self.W1s.T
            ys, prev = [], None
            for i in range(N):
                z = base_t if prev is None else base_t + self.W2s[:, prev].T
                prev = z.argmax(1)
                ys.append(prev)
            ys = torch.stack(ys, 1)
            base = x @ self.W1
            y, prev = [], None
            for i in range(N):
                z = base if prev is None else base + self.W2[:, prev].T
                prev = torch.multinomial(torch.softmax(z, 1), 1, generator=self.gen).squeeze(1)
                y.append(prev)
            y = torch.stack(y, 1)
            r = torch.where((y == ys).all(1), 1.0, -1.0)
            A = r - r.mean()
        logits = (x @ self.W1)[:, None, :].expand(B, N, self.k).clone()
        logits[:, 1:] += self.W2[:, y[:, :-1]].permute(1, 2, 0)
        logp = torch.log_softmax(logits, 2).gather(2, y[..., None]).squeeze(2)
        loss = -(A[:, None] * logp).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()


def timed(fn, repeats):
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts), float(np.median(ts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20, help="steps per lpgx timing (per-step time reported)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    B, N, d, k = a.batch, a.seq_len, a.dim, a.vocab
    task = lpgx.TeacherTask(d, k, N, inputs="mixture", rng=0)
    W1s, W2s = task.teacher.block("context").T.copy(), task.teacher.block("prev_token").copy()
    rows = []

    def lpgx_steps():
        m = lpgx.LinearARModel(k, N, d)
        lpgx.post_train(m, task, reward="outcome", steps=a.steps, batch_size=B, rng=1, n_threads=a.threads)
    best, med = timed(lpgx_steps, a.repeats)
    rows.append(("lpgx (C++ loop, %d threads)" % a.threads, best / a.steps, med / a.steps))

    npg = NumpyPG(d, k, N, W1s, W2s, 0)
    best, med = timed(lambda: npg.step(B), a.repeats)
    rows.append(("numpy (vectorised, float64)", best, med))

    if torch is not None:
        torch.set_num_threads(a.threads)
        tpg = TorchPG(d, k, N, W1s, W2s, 0)
        best, med = timed(lambda: tpg.step(B), a.repeats)
        rows.append((f"PyTorch {torch.__version__} (float32, {a.threads} threads)", best, med))

    ref = rows[0][1]
    print(f"One Figure-1 PG step: B={B}, N={N}, d={d}, k={k} (ORM, on-policy, batch-mean baseline, Adagrad)\n")
    print("| implementation | best s/step | median s/step | steps/s | lpgx speed-up |")
    print("|---|---|---|---|---|")
    for name, best, med in rows:
        print(f"| {name} | {best:.4f} | {med:.4f} | {1 / best:.1f} | {best / ref:.1f}x |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"B": B, "N": N, "d": d, "k": k, "rows": [dict(name=n, best=b, median=m) for n, b, m in rows]},
                      f, indent=2)


if __name__ == "__main__":
    main()
