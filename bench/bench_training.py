#!/usr/bin/env python
"""Benchmark one Figure-1 policy-gradient step: lpgx against PyTorch and numpy, same run.

A step (docs/theory.md §6.2, the authors' Figure-1 post-training): draw B = 1024 mixture contexts,
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

    def __init__(self, d, k, N, W1s, W2s, seed, W1, W2):
        self.d, self.k, self.N = d, k, N
        self.W1s, self.W2s = W1s, W2s            # teacher, (k, d) and (k, k) [c, prev]
        self.W1 = W1.copy()                      # the policy, (d, k) and (k, k) [c, prev]
        self.W2 = W2.copy()
        self.acc1, self.acc2 = np.zeros_like(self.W1), np.zeros_like(self.W2)
        self.rng = np.random.default_rng(seed)

    def step(self, B, lr=0.1):
        x = mixture_inputs(self.rng, B, self.d, 32, 0.05)
        ys = self.decode(x)
        y, P = self.sample(x)
        self.adagrad(self.gradient(x, y, ys, P), lr)

    def decode(self, x):
        base_t = x @ self.W1s.T
        ys = np.empty((x.shape[0], self.N), dtype=np.int64)
        prev = None
        for i in range(self.N):
            z = base_t if prev is None else base_t + self.W2s[:, prev].T
            prev = z.argmax(1)
            ys[:, i] = prev
        return ys

    def sample(self, x):
        """Responses and their next-token probabilities P (B, N, k)."""
        B, N, k = x.shape[0], self.N, self.k
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
        return y, P

    def probs(self, x, y):
        """P for given responses (teacher forcing): for the correctness check."""
        z = np.repeat((x @ self.W1)[:, None, :], self.N, 1)
        z[:, 1:] += self.W2.T[y[:, :-1]]
        z -= z.max(2, keepdims=True)
        P = np.exp(z)
        return P / P.sum(2, keepdims=True)

    def gradient(self, x, y, ys, P):
        """∇ of the loss −mean A log p(y) (ORM ±1, batch-mean baseline) for W1 and W2."""
        B, N, k = P.shape
        r = np.where((y == ys).all(1), 1.0, -1.0)
        A = r - r.mean()
        # dL/dlogits = −A (onehot − p) / (B N)
        G = P.copy()
        np.put_along_axis(G, y[..., None], np.take_along_axis(G, y[..., None], 2) - 1.0, 2)
        G *= (A / (B * N))[:, None, None]
        g2 = np.zeros((k, k))
        np.add.at(g2, (slice(None), y[:, :-1].ravel()), G[:, 1:].reshape(-1, k).T)
        return x.T @ G.sum(1), g2

    def adagrad(self, grads, lr):
        for W, g, acc in zip((self.W1, self.W2), grads, (self.acc1, self.acc2)):
            acc += g * g
            W -= lr * g / (np.sqrt(acc) + 1e-10)


class TorchPG:
    """The Figure-1 step as a researcher writes it in PyTorch (float32)."""

    def __init__(self, d, k, N, W1s, W2s, seed, W1, W2):
        self.d, self.k, self.N = d, k, N
        self.W1s = torch.tensor(W1s, dtype=torch.float32)
        self.W2s = torch.tensor(W2s, dtype=torch.float32)
        self.W1 = torch.tensor(W1, dtype=torch.float32, requires_grad=True)
        self.W2 = torch.tensor(W2, dtype=torch.float32, requires_grad=True)
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
        self.opt.zero_grad()
        self.loss(x, y, ys).backward()
        self.opt.step()

    def loss(self, x, y, ys):
        """−mean A log p(y), ORM ±1 with the batch-mean baseline."""
        B, N = y.shape
        r = torch.where((y == ys).all(1), 1.0, -1.0)
        A = r - r.mean()
        logits = (x @ self.W1)[:, None, :].expand(B, N, self.k).clone()
        logits[:, 1:] += self.W2[:, y[:, :-1]].permute(1, 2, 0)
        logp = torch.log_softmax(logits, 2).gather(2, y[..., None]).squeeze(2)
        return -(A[:, None] * logp).mean()


def check_same_gradient(model, task, W1s, W2s, B=256):
    """The three implementations compute the same loss gradient on the same (x, y*, y)."""
    d, k, N = model.context_dim, model.vocab_size, model.seq_len
    x, ys = task.sample(B, rng=7)
    y = model.sample(x, rng=8)
    r = np.where((y == ys).all(1), 1.0, -1.0)
    A = np.repeat((r - r.mean())[:, None], N, 1)
    g = -model.grad_log_prob(x, y, A) / (B * N)
    want = (g[:d * k].reshape(d, k), g[d * k:].reshape(k, k))
    W1, W2 = model.block("context"), model.block("prev_token")
    npg = NumpyPG(d, k, N, W1s, W2s, 0, W1, W2)
    for got, ref in zip(npg.gradient(x, y, ys, npg.probs(x, y)), want):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    if torch is not None:
        tpg = TorchPG(d, k, N, W1s, W2s, 0, W1, W2)
        tpg.loss(torch.tensor(x, dtype=torch.float32), torch.tensor(y), torch.tensor(ys)).backward()
        for got, ref in zip((tpg.W1.grad.numpy(), tpg.W2.grad.numpy()), want):
            np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4 * np.abs(ref).max())


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
    ap.add_argument("--pretrain-steps", type=int, default=1000, help="supervised steps before post-training")
    ap.add_argument("--json", default=None)
    ap.add_argument("--group", type=int, default=8, help="G of the estimator steps (batch/G contexts each)")
    ap.add_argument("--no-estimators", action="store_true", help="skip the estimator steps")
    a = ap.parse_args()
    B, N, d, k = a.batch, a.seq_len, a.dim, a.vocab
    task = lpgx.TeacherTask(d, k, N, inputs="mixture", rng=0)
    W1s, W2s = task.teacher.block("context").T.copy(), task.teacher.block("prev_token").copy()
    # Figure 1 post-trains the model pre-trained by 1000 supervised steps (batch 256,
    # Adagrad 0.1); w = 0 is the other extreme (a uniform policy: every sequence visits all
    # k + 1 next-token distributions, the most lpgx's memo has to compute).
    pretrained = lpgx.LinearARModel(k, N, d)
    lpgx.pretrain(pretrained, task, a.pretrain_steps, 256, rng=0, n_threads=a.threads)
    states = {"Figure-1 pre-trained model": pretrained, "w = 0": lpgx.LinearARModel(k, N, d)}
    check_same_gradient(pretrained, task, W1s, W2s)
    if torch is not None:
        torch.set_num_threads(a.threads)
    rows = []
    for state, model in states.items():
        def lpgx_steps():
            lpgx.post_train(model.copy(), task, reward="outcome", steps=a.steps, batch_size=B, rng=1,
                            n_threads=a.threads)
        best, med = timed(lpgx_steps, a.repeats)
        rows.append((state, "lpgx (C++ loop, %d threads)" % a.threads, best / a.steps, med / a.steps))
        W1, W2 = model.block("context"), model.block("prev_token")
        npg = NumpyPG(d, k, N, W1s, W2s, 0, W1, W2)
        best, med = timed(lambda: npg.step(B), a.repeats)
        rows.append((state, "numpy (vectorised, float64)", best, med))
        if torch is not None:
            tpg = TorchPG(d, k, N, W1s, W2s, 0, W1, W2)
            best, med = timed(lambda: tpg.step(B), a.repeats)
            rows.append((state, f"PyTorch {torch.__version__} (float32, {a.threads} threads)", best, med))

    estimator_rows = [] if a.no_estimators else estimator_steps(pretrained, task, a)
    print(f"One Figure-1 PG step: B={B}, N={N}, d={d}, k={k} (ORM, on-policy, batch-mean baseline, Adagrad)\n")
    print("| policy at the start | implementation | best s/step | median s/step | steps/s | lpgx speed-up |")
    print("|---|---|---|---|---|---|")
    for state, name, best, med in rows:
        ref = next(b for s_, n, b, _ in rows if s_ == state and n.startswith("lpgx"))
        print(f"| {state} | {name} | {best:.4f} | {med:.4f} | {1 / best:.1f} | {best / ref:.1f}x |")
    if estimator_rows:
        G = a.group
        print(f"\nEstimator steps on the Figure-1 pre-trained model, {B} sequences per step each: the plain step "
              f"draws B = {B} contexts × 1 response, the others {B // G} contexts × G = {G} responses; "
              f"lpgx, {a.threads} threads; ratio = best step time / the plain step's\n")
        print("| estimator | reward | best s/step | median s/step | ratio to the plain step |")
        print("|---|---|---|---|---|")
        for name, reward, best, med in estimator_rows:
            plain = next(b for n, r, b, _ in estimator_rows if r == reward and n.startswith("Reinforce (plain"))
            print(f"| {name} | {reward} | {best:.4f} | {med:.4f} | {best / plain:.2f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"B": B, "N": N, "d": d, "k": k,
                       "rows": [dict(state=s_, name=n, best=b, median=m) for s_, n, b, m in rows],
                       "estimators": [dict(name=n, reward=r, best=b, median=m) for n, r, b, m in estimator_rows]},
                      f, indent=2)


def estimator_steps(model, task, a):
    """Per-step time of each estimator's post-training step on the same number of sequences."""
    B, G = a.batch, a.group
    variants = [
        ("Reinforce (plain, G = 1)", lambda: lpgx.Reinforce(), B),
        ("Reinforce, G groups", lambda: lpgx.Reinforce(group_size=G), B // G),
        ("RLOO", lambda: lpgx.RLOO(G), B // G),
        ("GRPO", lambda: lpgx.GRPO(G), B // G),
        ("GRPO scale=batch", lambda: lpgx.GRPO(G, scale="batch"), B // G),
        ("Dr. GRPO", lambda: lpgx.GRPO(G, scale="none"), B // G),
        ("PassAtK(k=4)", lambda: lpgx.PassAtK(G, 4), B // G),
        ("GRPO + KL exact", lambda: lpgx.GRPO(G, kl=0.05), B // G),
        ("GRPO + KL k3", lambda: lpgx.GRPO(G, kl=0.05, kl_estimator="k3"), B // G),
        ("GRPO + entropy", lambda: lpgx.GRPO(G, entropy=0.01), B // G),
        ("GRPO + clip, 4 epochs", lambda: lpgx.GRPO(G, clip=0.2, epochs=4), B // G),
    ]
    out = []
    for reward in ("outcome", "process"):
        for name, make, contexts in variants:
            def steps():
                lpgx.post_train(model.copy(), task, reward=reward, estimator=make(), steps=a.steps,
                                batch_size=contexts, rng=1, n_threads=a.threads)
            best, med = timed(steps, a.repeats)
            out.append((name, reward, best / a.steps, med / a.steps))
    return out


if __name__ == "__main__":
    main()
