#!/usr/bin/env python
"""Benchmark lpgx's model kernels against numpy and PyTorch CPU implementations.

Compares, in one run and on the same data, at the paper's Figure-1 size by default
(B = 1024 contexts, N = 128 tokens, d = k = 32, default blocks ``context + prev_token``):

1. ``sample``: lpgx (each ``--threads`` value) vs a PyTorch CPU loop over positions
   (float32, vectorised over the batch, ``torch.softmax`` + ``torch.multinomial``, no_grad,
   ``torch.set_num_threads(--torch-threads)``) vs numpy (float64, loop over positions,
   inverse-CDF draw with cumsum and one uniform per row).
2. teacher-forced ``log_prob``: lpgx vs numpy (float64, all positions at once, stable
   log-softmax) vs torch (float32 and float64, vectorised, log_softmax + gather).
3. ``grad_log_prob`` with random (B, N) weights: lpgx vs numpy (analytic gradient
   ``dlogits = weights * (onehot - p)``) vs torch autograd (float64, vectorised loss).

Before timing, lpgx's log_prob and gradient are checked against the numpy ones (and the
float64 torch ones) to ~1e-10 relative; a mismatch raises AssertionError.

Timing: for each implementation in turn, a 0.3 s pause (idle OpenBLAS/OpenMP worker
threads of the previous one stop spinning), one warm-up call, then ``--repeats`` calls
timed with ``time.perf_counter``. The table reports the best (min) and the median,
tokens/s = B*N / best, and lpgx's speed-up (reference best time / lpgx best time) over
each reference. The machine should be otherwise idle: from /proc/stat the script measures
the CPU share other processes used just before the start and while each row was timed,
marks rows above 5 % with ``*`` and says which targets rest on such noisy rows.

How to run (from the repository root, with lpgx and torch==2.13.0 installed)::

    python bench/bench_model.py                       # defaults: Figure-1 size, threads 1 2
    python bench/bench_model.py --repeats 20 --json bench/results.json

The script never changes the environment. numpy's OpenBLAS and torch honour their usual
variables; if ``OPENBLAS_CORETYPE`` or ``OPENBLAS_L2_SIZE`` are set in your shell (some CI
images pin them to a generic core, which slows the numpy baseline), run with them removed
so that numpy gets its native kernels::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_model.py
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

import numpy as np

import lpgx
from _machine import cpu_counters, others_busy_percent  # bench/_machine.py
from _machine import machine_info as _machine_info

try:
    import torch
except ImportError:  # the torch baselines are skipped, the rest still runs
    torch = None


# ----------------------------------------------------------------------------------------
# timing

def time_blocks(fns: Dict[str, Callable[[], object]], repeats: int,
                pause: float = 0.3) -> Dict[str, Dict[str, float]]:
    """For each function in turn: pause, one warm-up call, then ``repeats`` timed calls
    (``time.perf_counter``); best and median seconds of each.

    The pause lets the idle worker threads of the previous implementation (OpenBLAS spins
    ~0.1 s after a BLAS call; libgomp spins too) go to sleep, so that on a 2-core machine
    they do not steal a core from the next one. Calls of different implementations are
    not interleaved for the same reason."""
    out: Dict[str, Dict[str, float]] = {}
    for name, fn in fns.items():
        time.sleep(pause)
        fn()
        ts: List[float] = []
        c0 = cpu_counters()
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        out[name] = {"best": min(ts), "median": statistics.median(ts), "repeats": repeats,
                     "others_busy_pct": others_busy_percent(c0, cpu_counters())}
    return out


# ----------------------------------------------------------------------------------------
# numpy references (float64)

def np_sample(x: np.ndarray, W1: np.ndarray, W2: np.ndarray, N: int,
              gen: np.random.Generator) -> np.ndarray:
    """Loop over positions, vectorised over the batch; inverse-CDF draw per row."""
    B = x.shape[0]
    k = W1.shape[1]
    W2T = np.ascontiguousarray(W2.T)           # row `prev` = W2[:, prev]
    base = x @ W1                               # (B, k), once per sequence
    y = np.empty((B, N), dtype=np.int32)
    prev = None
    for i in range(N):
        logits = base if prev is None else base + W2T[prev]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        cdf = np.cumsum(p, axis=1)
        u = gen.random(B) * cdf[:, -1]
        c = (cdf < u[:, None]).sum(axis=1)      # first index with cdf >= u
        np.minimum(c, k - 1, out=c)
        y[:, i] = c
        prev = c
    return y


def np_logits(x: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray) -> np.ndarray:
    """All teacher-forced logits, (B, N, k)."""
    B, N = y.shape
    L = np.empty((B, N, W1.shape[1]))
    L[:] = (x @ W1)[:, None, :]
    L[:, 1:] += W2.T[y[:, :-1]]                 # W2[c, prev] for c = 0..k-1
    return L


def np_token_log_prob(x, y, W1, W2):
    """Stable log-softmax at the targets, in place on the (B, N, k) logits."""
    L = np_logits(x, y, W1, W2)
    target = np.take_along_axis(L, y[..., None].astype(np.intp), axis=2)[..., 0]
    m = L.max(axis=2)
    L -= m[..., None]
    np.exp(L, out=L)
    return target - m - np.log(L.sum(axis=2))


def np_log_prob(x, y, W1, W2):
    return np_token_log_prob(x, y, W1, W2).sum(axis=1)


def np_grad_log_prob(x, y, weights, W1, W2):
    """Flat ∇ Σ_b Σ_i weights[b,i] log p(y_bi | x_b, y_b<i), the flat layout of docs/theory.md §1 (W1, W2)."""
    B, N = y.shape
    k = W1.shape[1]
    p = np_logits(x, y, W1, W2)
    p -= p.max(axis=2, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=2, keepdims=True)
    # dlogits = weights * (onehot(y) - p), in place
    dl = p
    dl *= -weights[..., None]
    yi = y.astype(np.intp)
    bi, ni = np.indices(y.shape, sparse=True)
    dl[bi, ni, yi] += weights
    gW1 = x.T @ dl.sum(axis=1)                  # (d, k)
    # gW2[c, prev] = Σ over positions i >= 1 with y_{i-1} = prev of dl[c]
    prev = yi[:, :-1].reshape(-1)
    D = dl[:, 1:].reshape(-1, k)
    idx = (prev[:, None] * k + np.arange(k)).reshape(-1)
    gW2T = np.bincount(idx, weights=D.reshape(-1), minlength=k * k).reshape(k, k)  # [prev, c]
    return np.concatenate([gW1.ravel(), gW2T.T.ravel()])


# ----------------------------------------------------------------------------------------
# torch references

def torch_sample(xt, W1t, W2t, N: int, gen) -> "torch.Tensor":
    """As a researcher would write it: float32, loop over positions, softmax + multinomial."""
    B = xt.shape[0]
    y = torch.empty((B, N), dtype=torch.long)
    with torch.no_grad():
        base = xt @ W1t
        prev = None
        for i in range(N):
            logits = base if prev is None else base + W2t[:, prev].T
            probs = torch.softmax(logits, dim=-1)
            c = torch.multinomial(probs, 1, generator=gen).squeeze(1)
            y[:, i] = c
            prev = c
    return y


def torch_logits(xt, yt, W1t, W2t):
    L = (xt @ W1t).unsqueeze(1).expand(-1, yt.shape[1], -1)
    prev_part = W2t.T[yt[:, :-1]]               # (B, N-1, k)
    return torch.cat([L[:, :1], L[:, 1:] + prev_part], dim=1)


def torch_log_prob(xt, yt, W1t, W2t):
    with torch.no_grad():
        L = torch_logits(xt, yt, W1t, W2t)
        return torch.log_softmax(L, dim=-1).gather(2, yt.unsqueeze(2)).squeeze(2).sum(1)


def torch_grad(xt, yt, wt, W1: np.ndarray, W2: np.ndarray):
    W1t = torch.tensor(W1, dtype=torch.float64, requires_grad=True)
    W2t = torch.tensor(W2, dtype=torch.float64, requires_grad=True)
    L = torch_logits(xt, yt, W1t, W2t)
    tok = torch.log_softmax(L, dim=-1).gather(2, yt.unsqueeze(2)).squeeze(2)
    (wt * tok).sum().backward()
    return torch.cat([W1t.grad.reshape(-1), W2t.grad.reshape(-1)])


# ----------------------------------------------------------------------------------------

def rel_err(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


#: Rows timed while other processes used more than this share of the CPUs are flagged.
BUSY_LIMIT = 5.0






def _pct(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v}%"


def machine_info() -> Dict[str, object]:
    return _machine_info(numpy=np.__version__, torch=torch.__version__ if torch is not None else None,
                         lpgx=lpgx.__version__, lpgx_openmp=lpgx.openmp_enabled(), lpgx_max_threads=lpgx.max_threads())


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=1024, help="B, contexts per call")
    ap.add_argument("--seq-len", type=int, default=128, help="N, tokens per sequence")
    ap.add_argument("--dim", type=int, default=32, help="d, context dimension")
    ap.add_argument("--vocab", type=int, default=32, help="k, vocabulary size")
    ap.add_argument("--repeats", type=int, default=20, help="timed calls per measurement")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="lpgx n_threads values")
    ap.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads value")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)

    B, N, d, k, R = args.batch, args.seq_len, args.dim, args.vocab, args.repeats
    tokens = B * N
    info = machine_info()
    print(f"# lpgx benchmark: B={B} N={N} d={d} k={k} repeats={R}  ({tokens} tokens per call)")
    print("# " + ", ".join(f"{a}={b}" for a, b in info.items()))
    if (info["busy_before_start_pct"] or 0.0) > 10.0:
        print(f"# WARNING: other processes used {info['busy_before_start_pct']}% of the CPUs just "
              "before the run; the timings (above all the multi-threaded ones) will be noisy")
    if torch is not None:
        torch.set_num_threads(args.torch_threads)
        info["torch_threads"] = torch.get_num_threads()
    else:
        print("# torch not importable: torch baselines skipped")

    # data and model: contexts from the paper's mixture generator, a random policy
    task = lpgx.TeacherTask(context_dim=d, vocab_size=k, seq_len=N, inputs="mixture", rng=0)
    x, _ = task.sample(B, rng=1)                  # contexts (the teacher's y* is not needed)
    model = lpgx.LinearARModel(vocab_size=k, seq_len=N, context_dim=d)
    model.w = 0.1 * np.random.default_rng(0).standard_normal(model.num_params)
    W1 = model.block("context").copy()
    W2 = model.block("prev_token").copy()
    y = model.sample(x, rng=2, n_threads=max(args.threads))   # on-policy responses
    weights = np.random.default_rng(3).standard_normal((B, N))
    if torch is not None:
        xt32, W1t32, W2t32 = (torch.tensor(a, dtype=torch.float32) for a in (x, W1, W2))
        xt64, W1t64, W2t64 = (torch.tensor(a, dtype=torch.float64) for a in (x, W1, W2))
        yt = torch.tensor(y, dtype=torch.long)
        wt = torch.tensor(weights, dtype=torch.float64)
        tgen = torch.Generator().manual_seed(0)

    # ---- correctness (fails loudly) -----------------------------------------------------
    lp_lpgx = model.log_prob(x, y, n_threads=max(args.threads))
    lp_np = np_log_prob(x, y, W1, W2)
    g_lpgx = model.grad_log_prob(x, y, weights=weights, n_threads=max(args.threads))
    g_np = np_grad_log_prob(x, y, weights, W1, W2)
    checks = {"log_prob lpgx vs numpy": rel_err(lp_lpgx, lp_np),
              "grad lpgx vs numpy": rel_err(g_lpgx, g_np)}
    for t in args.threads:
        checks[f"log_prob lpgx n_threads={t} vs numpy"] = rel_err(model.log_prob(x, y, n_threads=t), lp_np)
        checks[f"grad lpgx n_threads={t} vs numpy"] = rel_err(
            model.grad_log_prob(x, y, weights=weights, n_threads=t), g_np)
        assert np.array_equal(model.sample(x, rng=2, n_threads=t), y), "sample depends on n_threads"
    if torch is not None:
        checks["log_prob torch64 vs lpgx"] = rel_err(torch_log_prob(xt64, yt, W1t64, W2t64).numpy(), lp_lpgx)
        checks["grad torch64 vs lpgx"] = rel_err(torch_grad(xt64, yt, wt, W1, W2).numpy(), g_lpgx)
    for name, err in checks.items():
        print(f"# check {name}: max rel err {err:.2e}")
        assert err < 1e-10, f"correctness check failed: {name}: rel err {err:.3e}"
    if torch is not None:  # float32 is only expected to agree to float32 precision
        e32 = rel_err(torch_log_prob(xt32, yt, W1t32, W2t32).double().numpy(), lp_lpgx)
        print(f"# check log_prob torch32 vs lpgx: max rel err {e32:.2e} (float32)")
        assert e32 < 1e-4, f"torch float32 log_prob disagrees: {e32:.3e}"
        checks["log_prob torch32 vs lpgx"] = e32

    # ---- timing -------------------------------------------------------------------------
    counters0 = cpu_counters()
    results: Dict[str, Dict[str, Dict[str, object]]] = {"sample": {}, "log_prob": {}, "grad_log_prob": {}}

    def run(op: str, impls: Dict[str, tuple]) -> None:
        """impls: name -> (function, note); timed one after the other, then reported."""
        timed = time_blocks({name: fn for name, (fn, _) in impls.items()}, R)
        for name, (_, note) in impls.items():
            r = timed[name]
            r.update(tokens_per_s=tokens / r["best"], note=note)
            results[op][name] = r
            print(f"#   {op:14s} {name:22s} best {r['best'] * 1e3:9.2f} ms  median "
                  f"{r['median'] * 1e3:9.2f} ms  {r['tokens_per_s'] / 1e6:8.2f} Mtok/s  "
                  f"(other processes: {_pct(r['others_busy_pct'])} of the CPUs)", flush=True)

    tth = f"torch threads {args.torch_threads}"
    np_gen = np.random.default_rng(5)
    impls = {f"lpgx ({t} thr)": (lambda t=t: model.sample(x, rng=5, n_threads=t), "float64")
             for t in args.threads}
    impls["numpy"] = (lambda: np_sample(x, W1, W2, N, np_gen), "float64, loop over N, inverse CDF")
    if torch is not None:
        impls["torch loop"] = (lambda: torch_sample(xt32, W1t32, W2t32, N, tgen),
                               f"float32, loop over N, softmax + multinomial, no_grad, {tth}")
    run("sample", impls)

    impls = {f"lpgx ({t} thr)": (lambda t=t: model.log_prob(x, y, n_threads=t), "float64")
             for t in args.threads}
    impls["numpy"] = (lambda: np_log_prob(x, y, W1, W2), "float64, vectorised, stable log-softmax")
    if torch is not None:
        impls["torch float32"] = (lambda: torch_log_prob(xt32, yt, W1t32, W2t32),
                                  f"vectorised log_softmax + gather, no_grad, {tth}")
        impls["torch float64"] = (lambda: torch_log_prob(xt64, yt, W1t64, W2t64),
                                  f"vectorised log_softmax + gather, no_grad, {tth}")
    run("log_prob", impls)

    impls = {f"lpgx ({t} thr)": (lambda t=t: model.grad_log_prob(x, y, weights=weights, n_threads=t),
                                 "float64, (B, N) weights") for t in args.threads}
    impls["numpy"] = (lambda: np_grad_log_prob(x, y, weights, W1, W2), "float64, vectorised analytic")
    if torch is not None:
        impls["torch autograd f64"] = (lambda: torch_grad(xt64, yt, wt, W1, W2),
                                       f"float64, vectorised loss + backward, {tth}")
    run("grad_log_prob", impls)

    info["others_busy_during_run_pct"] = others_busy_percent(counters0, cpu_counters())
    noisy = [f"{op}/{name}" for op, rows in results.items() for name, r in rows.items()
             if (r["others_busy_pct"] or 0.0) > BUSY_LIMIT]
    info["noisy_rows"] = noisy
    print(f"# other processes used {_pct(info['others_busy_during_run_pct'])} of the CPU time during the timings")
    if noisy:
        print(f"# WARNING: other processes used > {BUSY_LIMIT}% of the CPUs while timing {', '.join(noisy)} "
              "(marked * in the table): those figures are unreliable, rerun on an idle machine")

    # ---- table --------------------------------------------------------------------------
    lpgx_names = [f"lpgx ({t} thr)" for t in args.threads]
    lines = [
        f"B={B}, N={N}, d={d}, k={k}; {tokens} tokens per call; best and median of {R} "
        f"calls after one warm-up; speed-up = reference best / lpgx best.",
        "",
        "| operation | implementation | best (ms) | median (ms) | Mtokens/s | "
        + " | ".join(f"{n} speed-up" for n in lpgx_names) + " |",
        "|---|---|---:|---:|---:|" + "---:|" * len(lpgx_names),
    ]
    for op, rows in results.items():
        for name, r in rows.items():
            mark = "*" if (r["others_busy_pct"] or 0.0) > BUSY_LIMIT else ""
            if name in lpgx_names:
                ratios = ["" for _ in lpgx_names]
            else:
                ratios = [f"{r['best'] / rows[ln]['best']:.1f}×" for ln in lpgx_names]
            lines.append(f"| {op} | {name}{mark} | {r['best'] * 1e3:.2f} | {r['median'] * 1e3:.2f} | "
                         f"{r['tokens_per_s'] / 1e6:.2f} | " + " | ".join(ratios) + " |")
    table = "\n".join(lines)
    print()
    print(table)

    # ---- targets ------------------------------------------------------------------------
    def noisy(*rows) -> bool:
        return any((r["others_busy_pct"] or 0.0) > BUSY_LIMIT for r in rows)

    targets = []
    best_t = max(args.threads)
    ln = f"lpgx ({best_t} thr)"
    s = results["sample"]
    targets.append((f"sample >= 10 Mtokens/s ({best_t} thr)", s[ln]["tokens_per_s"] / 1e6, 10.0, "Mtok/s",
                    noisy(s[ln])))
    if "torch loop" in s:
        targets.append(("sample >= 20x torch loop", s["torch loop"]["best"] / s[ln]["best"], 20.0, "x",
                        noisy(s[ln], s["torch loop"])))
    for op in ("log_prob", "grad_log_prob"):
        rr = results[op]
        targets.append((f"{op} >= 5x numpy", rr["numpy"]["best"] / rr[ln]["best"], 5.0, "x",
                        noisy(rr[ln], rr["numpy"])))
    print()
    target_out = []
    for name, val, need, unit, unsure in targets:
        ok = val >= need
        target_out.append({"target": name, "value": val, "required": need, "met": ok, "noisy": unsure})
        print(f"# target {name:36s}: {val:8.2f} {unit:6s} {'MET' if ok else 'MISSED'}"
              + ("  (noisy measurement)" if unsure else ""))

    if args.json:
        out = {"config": {"batch": B, "seq_len": N, "dim": d, "vocab": k, "repeats": R,
                          "threads": args.threads, "torch_threads": args.torch_threads},
               "machine": info, "checks": checks, "results": results, "targets": target_out,
               "command": " ".join([os.path.basename(sys.executable)] + sys.argv)}
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
        print(f"# wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
