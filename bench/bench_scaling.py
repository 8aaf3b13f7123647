#!/usr/bin/env python
"""How lpgx's model kernels scale with the vocabulary k and the sequence length N.

For every k in ``--ks``, N in ``--Ns`` and block set in ``--blocks`` (``default``:
context + prev_token; ``position``: context + prev_token + position), with d = 64, random
weights w = 0.3·N(0, 1), contexts x ~ N(0, I_d), responses y sampled from the model and, for
the gradient, per-token weights N(0, 1) of shape (B, N), the script times ``model.sample``,
``model.log_prob``, ``model.grad_log_prob`` and ``model.grad_log_prob(sparse=True)`` (op
``grad_sparse``: W2's gradient as the columns of the previous tokens that occur) and, in the same
run on the same data:

- numpy, float64: sampling loops over the positions, vectorised over the batch (stable
  softmax, inverse-CDF draw with one uniform per row); ``log_prob`` and the gradient work on
  blocks of positions (stable log-softmax + gather; the analytic gradient
  dlogits = weights·(onehot − p), ∇W1 = xᵀ Σ_i dlogits_i, ∇W2[:, prev] summed per previous
  token with a sort and ``np.add.reduceat`` into one row per previous token, ∇P per position;
  the dense gradient then scatters those rows into the columns of a zeroed k × k block);
- PyTorch CPU in float32 and float64, written as a researcher would: sampling loops over
  the positions with ``torch.softmax`` + ``torch.multinomial``; ``log_prob`` is
  ``log_softmax`` + ``gather`` on all teacher-forced logits; the gradient is autograd of
  Σ weights·log p on persistent leaf tensors, and for ``grad_sparse`` with W2ᵀ as a sparse
  embedding (``embedding(prev, W2ᵀ, sparse=True)``, whose gradient autograd leaves
  uncoalesced); ``torch.set_num_threads(--threads)``.

The batch B of each (k, N) is chosen so that one call covers about 2^``--budget`` logits
(B·N·k, at least B = 1, at most ``--max-batch``). Reported per call: best and median time,
tokens/s = B·N / best, logits/s = B·N·k / best, the peak memory the call added to the
process (``/proc/self/status`` VmHWM after resetting it through ``/proc/self/clear_refs``;
this sees C++ allocations, which ``tracemalloc`` does not), and lpgx's speed-up over each
reference (reference best / lpgx best).

**Correctness is checked before timing** and a failure raises AssertionError: lpgx's
log-probs and gradient equal numpy's to 1e-10 relative, as do torch float64's (torch
float32 to 1e-3); lpgx's samples, log-probs and gradients are bit-identical for 1 thread
and ``--threads``; the log-probs ``sample`` returns equal numpy's for those tokens; and every
sampler (lpgx, numpy, torch) passes a Kolmogorov–Smirnov test of the randomised probability
integral transform of its tokens (uniform for an exact sampler; fixed seeds, so the verdict
is reproducible).

Cases whose parameter vector exceeds ``--max-model-gb``, or whose estimated peak memory
exceeds 90 % of MemAvailable, are skipped and reported as skipped.

How to run (from the repository root, with lpgx, and torch==2.13.0 for the torch columns)::

    python bench/bench_scaling.py --quick                 # about a minute
    python bench/bench_scaling.py --json scaling.json     # the whole grid: long at large k
    python bench/plot_scaling.py scaling.json -o scaling.png

The machine should be otherwise idle: the share of CPU time other processes used while
each row was timed is recorded, and rows above 5 % are marked ``*``.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import os
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

import lpgx
from _machine import cpu_counters, others_busy_percent, status_kb  # bench/_machine.py
from _machine import machine_info as _machine_info

try:
    import torch
except ImportError:  # the torch columns are left out, the rest still runs
    torch = None

KS = (2, 8, 32, 64, 65, 128, 512, 2048, 8192, 16384)
NS = (16, 128, 1024, 4096)
QUICK_KS = (8, 64, 65, 512, 4096)
QUICK_NS = (128,)
BLOCK_SETS = {"default": ("context", "prev_token"),
              "position": ("context", "prev_token", "position")}
OPS = ("sample", "log_prob", "grad_log_prob", "grad_sparse")
#: Rows timed while other processes used more than this share of the CPUs are marked *.
BUSY_LIMIT = 5.0
#: Logits per block of positions in the numpy references (bounds their memory).
NP_BLOCK_LOGITS = 1 << 22


# ----------------------------------------------------------------------------------------
# the model's weights as arrays

class Weights:
    """Views of one model's blocks: W1 (d, k), W2 (k, k) indexed [c, prev], P (N, k) or None."""

    def __init__(self, model: "lpgx.LinearARModel") -> None:
        self.W1 = model.block("context")
        self.W2 = model.block("prev_token")
        self.P = model.block("position") if "position" in model.blocks else None
        self.num_params = model.num_params
        self.k = model.vocab_size


# ----------------------------------------------------------------------------------------
# numpy references (float64)

def np_sample(x: np.ndarray, W: Weights, N: int, gen: np.random.Generator) -> np.ndarray:
    """Loop over positions, vectorised over the batch; inverse-CDF draw, one uniform per row."""
    B, k = x.shape[0], W.k
    base = x @ W.W1
    W2T = W.W2.T                                # row `prev` = the column W2[:, prev]
    y = np.empty((B, N), dtype=np.int32)
    prev = None
    for i in range(N):
        logits = base.copy() if prev is None else base + W2T[prev]
        if W.P is not None:
            logits += W.P[i]
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        cdf = np.cumsum(logits, axis=1)
        u = gen.random(B) * cdf[:, -1]
        c = (cdf <= u[:, None]).sum(axis=1)     # the number of prefix sums <= u
        np.minimum(c, k - 1, out=c)
        y[:, i] = c
        prev = c
    return y


def _np_position_blocks(B: int, N: int, k: int):
    n = max(1, NP_BLOCK_LOGITS // max(1, B * k))
    return [(i0, min(N, i0 + n)) for i0 in range(0, N, n)]


def _np_logits(base: np.ndarray, W: Weights, y: np.ndarray, i0: int, i1: int) -> np.ndarray:
    """Teacher-forced logits of positions [i0, i1), shape (B, i1 - i0, k)."""
    B, k = base.shape
    L = np.empty((B, i1 - i0, k))
    L[:] = base[:, None, :]
    lo = max(i0, 1)
    if lo < i1:
        L[:, lo - i0:] += W.W2.T[y[:, lo - 1:i1 - 1]]
    if W.P is not None:
        L += W.P[i0:i1]
    return L


def np_token_log_prob(x: np.ndarray, y: np.ndarray, W: Weights) -> np.ndarray:
    """log p(y_i | x, y_<i), (B, N): stable log-softmax and gather, block of positions at a time."""
    B, N = y.shape
    base = x @ W.W1
    out = np.empty((B, N))
    for i0, i1 in _np_position_blocks(B, N, W.k):
        L = _np_logits(base, W, y, i0, i1)
        target = np.take_along_axis(L, y[:, i0:i1, None].astype(np.intp), axis=2)[..., 0]
        m = L.max(axis=2)
        L -= m[..., None]
        np.exp(L, out=L)
        out[:, i0:i1] = target - m - np.log(L.sum(axis=2))
    return out


def np_log_prob(x, y, W):
    return np_token_log_prob(x, y, W).sum(axis=1)


def np_grad_parts(x: np.ndarray, y: np.ndarray, weights: np.ndarray, W: Weights):
    """∇_w Σ_b Σ_i weights[b, i] log p(y_bi | x_b, y_b,<i) by block: ∇W1 (d, k), ∇P (N, k) or None,
    and ∇W2 as its columns: the previous tokens that occur (ascending) and ∂/∂W2[:, p] as rows."""
    B, N = y.shape
    k = W.k
    yi = y.astype(np.intp)
    tokens = np.unique(yi[:, :-1])
    columns = np.zeros((tokens.size, k))        # row j = ∂/∂W2[:, tokens[j]]
    gP = np.zeros((N, k)) if W.P is not None else None
    base = x @ W.W1
    S = np.zeros((B, k))                        # Σ_i dlogits_i per sequence
    for i0, i1 in _np_position_blocks(B, N, k):
        p = _np_logits(base, W, y, i0, i1)
        p -= p.max(axis=2, keepdims=True)
        np.exp(p, out=p)
        p /= p.sum(axis=2, keepdims=True)
        dl = p                                  # dlogits = weights·(onehot(y) − p), in place
        dl *= -weights[:, i0:i1, None]
        bi, ni = np.indices((B, i1 - i0), sparse=True)
        dl[bi, ni, yi[:, i0:i1]] += weights[:, i0:i1]
        S += dl.sum(axis=1)
        if gP is not None:
            gP[i0:i1] = dl.sum(axis=0)
        lo = max(i0, 1)
        if lo < i1:                             # ∇W2[:, prev] = Σ of dlogits after prev
            prev = yi[:, lo - 1:i1 - 1].reshape(-1)
            D = dl[:, lo - i0:].reshape(-1, k)
            order = np.argsort(prev, kind="stable")
            ps = prev[order]
            starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
            columns[np.searchsorted(tokens, ps[starts])] += np.add.reduceat(D[order], starts, axis=0)
    return x.T @ S, gP, tokens, columns


def dense_of_sparse(g1, gP, tokens, columns, W: Weights) -> np.ndarray:
    """The flat vector (lpgx's layout) of a gradient given by blocks, W2 as columns."""
    d, k = g1.shape
    g = np.zeros(W.num_params)
    g[:d * k] = g1.reshape(-1)
    g[d * k:d * k + k * k].reshape(k, k)[:, tokens] = columns.T
    if gP is not None:
        g[d * k + k * k:] = gP.reshape(-1)
    return g


def np_grad_log_prob(x: np.ndarray, y: np.ndarray, weights: np.ndarray, W: Weights) -> np.ndarray:
    """Flat ∇_w Σ_b Σ_i weights[b, i] log p(y_bi | x_b, y_b,<i) in lpgx's layout."""
    return dense_of_sparse(*np_grad_parts(x, y, weights, W), W)


# ----------------------------------------------------------------------------------------
# torch references

class TorchModel:
    """The blocks as persistent torch leaves of one dtype (float64 ones share numpy's memory)."""

    def __init__(self, W: Weights, dtype) -> None:
        def leaf(a):
            t = torch.from_numpy(a) if dtype == torch.float64 else torch.tensor(a, dtype=dtype)
            return t.requires_grad_(True)
        self.W1 = leaf(W.W1)
        self.W2 = leaf(W.W2)
        self.P = leaf(W.P) if W.P is not None else None
        self.params = [t for t in (self.W1, self.W2, self.P) if t is not None]
        self.dtype = dtype
        self._W2T = None

    @property
    def W2T(self):
        """W2ᵀ as an embedding table (row p = W2[:, p]) for sparse gradients: a copy, made once."""
        if self._W2T is None:
            self._W2T = self.W2.detach().T.contiguous().requires_grad_(True)
        return self._W2T


def torch_sample(tm: TorchModel, xt, N: int, gen):
    """Loop over positions, vectorised over the batch: softmax + multinomial."""
    B = xt.shape[0]
    y = torch.empty((B, N), dtype=torch.long)
    with torch.no_grad():
        base = xt @ tm.W1
        prev = None
        for i in range(N):
            logits = base if prev is None else base + tm.W2[:, prev].T
            if tm.P is not None:
                logits = logits + tm.P[i]
            probs = torch.softmax(logits, dim=-1)
            c = torch.multinomial(probs, 1, generator=gen).squeeze(1)
            y[:, i] = c
            prev = c
    return y


def torch_logits(tm: TorchModel, xt, yt, sparse: bool = False):
    L = (xt @ tm.W1).unsqueeze(1).expand(-1, yt.shape[1], -1)
    prev = yt[:, :-1]
    rows = torch.nn.functional.embedding(prev, tm.W2T, sparse=True) if sparse else tm.W2.T[prev]
    L = torch.cat([L[:, :1], L[:, 1:] + rows], dim=1)
    if tm.P is not None:
        L = L + tm.P
    return L


def torch_token_log_prob(tm: TorchModel, xt, yt, sparse: bool = False):
    return torch.log_softmax(torch_logits(tm, xt, yt, sparse), dim=-1).gather(2, yt.unsqueeze(2)).squeeze(2)


def torch_log_prob(tm: TorchModel, xt, yt):
    with torch.no_grad():
        return torch_token_log_prob(tm, xt, yt).sum(1)


def torch_grad(tm: TorchModel, xt, yt, wt):
    for p in tm.params:
        p.grad = None
    (wt * torch_token_log_prob(tm, xt, yt)).sum().backward()
    return torch.cat([p.grad.reshape(-1) for p in tm.params])


def torch_grad_sparse(tm: TorchModel, xt, yt, wt):
    """Autograd with W2ᵀ as a sparse embedding (``embedding(..., sparse=True)``): ∇W1, ∇P (or
    None) and ∇W2ᵀ as autograd leaves it, an uncoalesced sparse tensor of B·(N − 1) rows."""
    params = [t for t in (tm.W1, tm.W2T, tm.P) if t is not None]
    for p in params:
        p.grad = None
    (wt * torch_token_log_prob(tm, xt, yt, sparse=True)).sum().backward()
    return tm.W1.grad, (tm.P.grad if tm.P is not None else None), tm.W2T.grad


def torch_sparse_dense(parts, W: Weights) -> np.ndarray:
    """torch_grad_sparse's result as a flat vector in lpgx's layout (for the checks)."""
    g1, gP, g2t = parts
    g2t = g2t.coalesce()
    return dense_of_sparse(g1.double().numpy(), None if gP is None else gP.double().numpy(),
                           g2t.indices()[0].numpy(), g2t.values().double().numpy(), W)


# ----------------------------------------------------------------------------------------
# memory and CPU accounting

def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


try:
    _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):
    _malloc_trim = None


def _hwm_works() -> bool:
    """Whether VmHWM can be reset here (Linux ≥ 4.0): a 64 MiB array must show up, then go."""
    if not _reset_hwm() or status_kb("VmHWM") is None:
        return False
    a = np.ones(8 << 20)
    grown = status_kb("VmHWM") - status_kb("VmRSS") + a.nbytes // 1024
    del a
    _reset_hwm()
    return grown > 60 * 1024 and status_kb("VmHWM") - status_kb("VmRSS") < 16 * 1024


HWM_WORKS = _hwm_works()


def peak_bytes(fn: Callable[[], object]) -> Optional[int]:
    """Resident memory the call added at its peak, result included (None without /proc)."""
    if not HWM_WORKS:
        fn()
        return None
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)                         # memory freed by earlier calls goes back first
    _reset_hwm()
    rss0 = status_kb("VmRSS")
    out = fn()
    peak = status_kb("VmHWM") - rss0
    del out
    return max(peak, 0) * 1024






def mem_available() -> Optional[int]:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# ----------------------------------------------------------------------------------------

def time_call(fn: Callable[[], object], repeats: int, pause: float) -> Dict[str, object]:
    """Pause (idle OpenMP/OpenBLAS workers of the previous implementation fall asleep), one
    warm-up call, one call measured for peak memory, then ``repeats`` timed calls. The CPU
    share of other processes is taken over the calls (None when they last under 0.1 s, too
    short for /proc/stat's 10 ms ticks)."""
    time.sleep(pause)
    c0 = cpu_counters()
    t0 = time.perf_counter()
    fn()
    peak = peak_bytes(fn)
    ts: List[float] = []
    for _ in range(repeats):
        t1 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t1)
    busy = others_busy_percent(c0, cpu_counters()) if time.perf_counter() - t0 >= 0.1 else None
    return {"best": min(ts), "median": statistics.median(ts), "max": max(ts), "repeats": repeats,
            "peak_bytes": peak, "others_busy_pct": busy}


def rel_err(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def batch_for(k: int, N: int, budget_log2: int, max_batch: int) -> int:
    return int(min(max_batch, max(1, (1 << budget_log2) // (N * k))))


def np_pit(x: np.ndarray, y: np.ndarray, W: Weights, gen: np.random.Generator) -> np.ndarray:
    """Randomised probability integral transform of every token under the model, with the
    tokens ordered by decreasing probability: u = Σ_{c: p_c > p_y} p_c + V·p_y, V uniform,
    p = p(· | x, y_<i). For an exact sampler the u are i.i.d. uniform on [0, 1) (Rosenblatt);
    the ordering makes a too peaked or too flat sampler push u to one side."""
    B, N = y.shape
    base = x @ W.W1
    u = np.empty((B, N))
    for i0, i1 in _np_position_blocks(B, N, W.k):
        p = _np_logits(base, W, y, i0, i1)
        p -= p.max(axis=2, keepdims=True)
        np.exp(p, out=p)
        p /= p.sum(axis=2, keepdims=True)
        py = np.take_along_axis(p, y[:, i0:i1, None].astype(np.intp), axis=2)
        above = np.where(p > py, p, 0.0).sum(axis=2)
        py = py[..., 0]
        u[:, i0:i1] = above + gen.random(py.shape) * py
    return u.ravel()


def ks_uniform(u: np.ndarray) -> float:
    """Kolmogorov–Smirnov statistic √n·sup|F_n − F| of u against the uniform distribution."""
    u = np.sort(np.clip(u, 0.0, 1.0))
    n = u.size
    i = np.arange(1, n + 1)
    return float(math.sqrt(n) * max((i / n - u).max(), (u - (i - 1) / n).max()))


#: √n·D above this rejects uniformity (P(√n·D > 2.5) ≈ 1e-5 for an exact sampler).
KS_LIMIT = 2.5
#: Tokens the samplers' check draws at least (when that costs at most 2^26 logits).
CHECK_TOKENS = 4096


def run_case(blocks_name: str, k: int, N: int, args, log) -> Dict[str, object]:
    d, T = args.dim, args.threads
    blocks = BLOCK_SETS[blocks_name]
    B = batch_for(k, N, args.budget, args.max_batch)
    num_params = d * k + k * k + (N * k if "position" in blocks else 0)
    case: Dict[str, object] = {"blocks": blocks_name, "k": k, "N": N, "B": B, "d": d,
                               "num_params": num_params, "logits_per_call": B * N * k}
    model_bytes = 8 * num_params
    # the caller's w, the engine's working copies and gradient, the references' tensors
    need = 8 * model_bytes + 6 * 8 * B * N * k
    avail = mem_available()
    if model_bytes > args.max_model_gb * 2**30:
        case["skipped"] = f"parameters {model_bytes / 2**30:.2f} GiB > --max-model-gb {args.max_model_gb}"
    elif avail is not None and need > 0.9 * avail:
        case["skipped"] = (f"estimated peak {need / 2**30:.1f} GiB > 90% of MemAvailable "
                           f"{avail / 2**30:.1f} GiB")
    if "skipped" in case:
        log(f"## {blocks_name:8s} k={k:<6d} N={N:<5d} SKIPPED: {case['skipped']}")
        return case
    log(f"## {blocks_name:8s} k={k:<6d} N={N:<5d} B={B:<5d} ({B * N * k / 2**20:.1f} M logits/call, "
        f"{model_bytes / 2**20:.1f} MiB of parameters)")

    gen = np.random.default_rng(args.seed)
    model = lpgx.LinearARModel(vocab_size=k, seq_len=N, context_dim=d, blocks=blocks)
    model.w = args.scale * gen.standard_normal(num_params)
    W = Weights(model)
    x = gen.standard_normal((B, d))
    weights = gen.standard_normal((B, N))
    y, lp_sampled = model.sample(x, rng=args.seed + 1, n_threads=T, return_log_prob=True)

    # ---- correctness (fails loudly) ---------------------------------------------------
    checks: Dict[str, float] = {}

    def check(name: str, err: float, tol: float) -> None:
        checks[name] = err
        assert err <= tol, f"{blocks_name} k={k} N={N}: {name}: relative error {err:.3e} > {tol:g}"

    y1, lp1 = model.sample(x, rng=args.seed + 1, n_threads=1, return_log_prob=True)
    assert np.array_equal(y1, y) and np.array_equal(lp1, lp_sampled), \
        f"{blocks_name} k={k} N={N}: sample differs between 1 and {T} threads"
    tok_np = np_token_log_prob(x, y, W)
    tok = model.token_log_prob(x, y, n_threads=T)
    assert np.array_equal(tok, model.token_log_prob(x, y, n_threads=1)), "log-probs depend on n_threads"
    check("token log-probs lpgx vs numpy", rel_err(tok, tok_np), 1e-10)
    check("log_prob lpgx vs numpy", rel_err(model.log_prob(x, y, n_threads=T), tok_np.sum(1)), 1e-10)
    check("sample's log-probs lpgx vs numpy", rel_err(lp_sampled, tok_np), 1e-10)
    g = model.grad_log_prob(x, y, weights=weights, n_threads=T)
    assert np.array_equal(g, model.grad_log_prob(x, y, weights=weights, n_threads=1)), \
        "gradient depends on n_threads"
    g_np = np_grad_log_prob(x, y, weights, W)
    check("grad lpgx vs numpy", rel_err(g, g_np), 1e-10)
    for nt in (1, T):  # the sparse form holds the same values, bit for bit
        assert np.array_equal(model.grad_log_prob(x, y, weights=weights, n_threads=nt, sparse=True).to_dense(), g), \
            f"the sparse gradient differs from the dense one ({nt} threads)"
    tms: Dict[str, TorchModel] = {}
    if torch is not None:
        xts = {dt: torch.tensor(x, dtype=dt) for dt in (torch.float32, torch.float64)}
        yt = torch.tensor(y, dtype=torch.long)
        wts = {dt: torch.tensor(weights, dtype=dt) for dt in (torch.float32, torch.float64)}
        tms = {"torch f32": TorchModel(W, torch.float32), "torch f64": TorchModel(W, torch.float64)}
        for name, tm in tms.items():
            xt, wt = xts[tm.dtype], wts[tm.dtype]
            tol = 1e-3 if tm.dtype == torch.float32 else 1e-10
            check(f"log_prob {name} vs numpy", rel_err(torch_log_prob(tm, xt, yt).numpy(), tok_np.sum(1)), tol)
            check(f"grad {name} vs numpy", rel_err(torch_grad(tm, xt, yt, wt).numpy(), g_np), tol)
            check(f"sparse grad {name} vs numpy",
                  rel_err(torch_sparse_dense(torch_grad_sparse(tm, xt, yt, wt), W), g_np), tol)
    # samplers: the PIT of an exact sampler's tokens is i.i.d. uniform (KS test, fixed seeds)
    Bc = B if B * N >= CHECK_TOKENS else max(B, min(-(-CHECK_TOKENS // N), (1 << 26) // (N * k)))
    xc = np.random.default_rng(args.seed + 7).standard_normal((Bc, d))
    draws = {"lpgx": model.sample(xc, rng=args.seed + 8, n_threads=T),
             "numpy": np_sample(xc, W, N, np.random.default_rng(args.seed + 2))}
    for name, tm in tms.items():
        xct = torch.tensor(xc, dtype=tm.dtype)
        draws[name] = torch_sample(tm, xct, N, torch.Generator().manual_seed(args.seed + 3)).numpy()
    for name, yc in draws.items():
        ks = ks_uniform(np_pit(xc, yc, W, np.random.default_rng(args.seed + 9)))
        checks[f"sample {name}: KS sqrt(n)*D of the PIT ({yc.size} tokens)"] = ks
        assert ks < KS_LIMIT, (f"{blocks_name} k={k} N={N}: {name}'s samples do not follow the model "
                               f"(KS statistic {ks:.2f} >= {KS_LIMIT})")
    case["checks"] = checks
    log("#   checks: " + ", ".join(f"{n} {e:.1e}" for n, e in checks.items()))

    # ---- timing -------------------------------------------------------------------------
    impls: Dict[str, Dict[str, Callable[[], object]]] = {op: {} for op in OPS}
    impls["sample"]["lpgx"] = lambda: model.sample(x, rng=args.seed + 4, n_threads=T)
    impls["log_prob"]["lpgx"] = lambda: model.log_prob(x, y, n_threads=T)
    impls["grad_log_prob"]["lpgx"] = lambda: model.grad_log_prob(x, y, weights=weights, n_threads=T)
    impls["grad_sparse"]["lpgx"] = lambda: model.grad_log_prob(x, y, weights=weights, n_threads=T, sparse=True)
    if not args.no_numpy:
        ng = np.random.default_rng(args.seed + 5)
        impls["sample"]["numpy"] = lambda: np_sample(x, W, N, ng)
        impls["log_prob"]["numpy"] = lambda: np_log_prob(x, y, W)
        impls["grad_log_prob"]["numpy"] = lambda: np_grad_log_prob(x, y, weights, W)
        impls["grad_sparse"]["numpy"] = lambda: np_grad_parts(x, y, weights, W)
    for name, tm in tms.items():
        xt, wt = xts[tm.dtype], wts[tm.dtype]
        tg = torch.Generator().manual_seed(args.seed + 6)
        impls["sample"][name] = lambda tm=tm, xt=xt, tg=tg: torch_sample(tm, xt, N, tg)
        impls["log_prob"][name] = lambda tm=tm, xt=xt: torch_log_prob(tm, xt, yt)
        impls["grad_log_prob"][name] = lambda tm=tm, xt=xt, wt=wt: torch_grad(tm, xt, yt, wt)
        impls["grad_sparse"][name] = lambda tm=tm, xt=xt, wt=wt: torch_grad_sparse(tm, xt, yt, wt)
    results: Dict[str, Dict[str, Dict[str, object]]] = {}
    for op in args.ops:
        results[op] = {}
        for name, fn in impls[op].items():
            r = time_call(fn, args.repeats, args.pause)
            r["tokens_per_s"] = B * N / r["best"]
            r["logits_per_s"] = B * N * k / r["best"]
            results[op][name] = r
            busy = r["others_busy_pct"]
            peak = r["peak_bytes"]
            log(f"#   {op:13s} {name:9s} best {r['best'] * 1e3:10.3f} ms  median {r['median'] * 1e3:10.3f} ms  "
                f"{r['tokens_per_s'] / 1e6:9.3f} Mtok/s  {r['logits_per_s'] / 1e9:8.4f} Glogit/s  "
                f"peak {'n/a' if peak is None else f'{peak / 2**20:.1f} MiB'}"
                + (f"  (others {busy}%)" if busy is not None and busy > BUSY_LIMIT else ""))
    case["results"] = results
    for tm in tms.values():
        for p in tm.params + ([tm.W2T] if tm._W2T is not None else []):
            p.grad = None
    return case


def machine_info() -> Dict[str, object]:
    info = _machine_info(numpy=np.__version__, torch=torch.__version__ if torch is not None else None,
                         lpgx=lpgx.__version__, lpgx_openmp=lpgx.openmp_enabled())
    info["peak_memory_method"] = "VmHWM reset via /proc/self/clear_refs" if HWM_WORKS else None
    return info


def _ratio(ref: Optional[Dict[str, object]], lp: Dict[str, object]) -> str:
    return "" if ref is None else f"{ref['best'] / lp['best']:.2f}×"


def table(cases: Sequence[Dict[str, object]], ops: Sequence[str]) -> str:
    refs = ("numpy", "torch f32", "torch f64")
    lines = ["| blocks | k | N | B | operation | lpgx best (ms) | lpgx Mtok/s | lpgx Glogit/s | "
             "lpgx peak (MiB) | numpy peak (MiB) | vs numpy | vs torch f32 | vs torch f64 |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in cases:
        if "skipped" in c:
            lines.append(f"| {c['blocks']} | {c['k']} | {c['N']} | {c['B']} | skipped: {c['skipped']} "
                         "|  |  |  |  |  |  |  |  |")
            continue
        for op in ops:
            rows = c["results"][op]
            lp = rows["lpgx"]
            mark = "*" if any((r["others_busy_pct"] or 0.0) > BUSY_LIMIT for r in rows.values()) else ""

            def mib(r):
                return "" if r is None or r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:.1f}"
            lines.append(
                f"| {c['blocks']} | {c['k']} | {c['N']} | {c['B']} | {op}{mark} | {lp['best'] * 1e3:.3f} | "
                f"{lp['tokens_per_s'] / 1e6:.3f} | {lp['logits_per_s'] / 1e9:.4f} | {mib(lp)} | "
                f"{mib(rows.get('numpy'))} | " + " | ".join(_ratio(rows.get(r), lp) for r in refs) + " |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ks", type=int, nargs="+", help=f"vocabulary sizes (default {' '.join(map(str, KS))})")
    ap.add_argument("--Ns", type=int, nargs="+", help=f"sequence lengths (default {' '.join(map(str, NS))})")
    ap.add_argument("--blocks", nargs="+", choices=sorted(BLOCK_SETS), default=["default", "position"],
                    help="block sets: default = context+prev_token, position = default + position")
    ap.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS))
    ap.add_argument("--quick", action="store_true",
                    help=f"k in {QUICK_KS}, N in {QUICK_NS}, --budget 21 (about a minute)")
    ap.add_argument("--dim", type=int, default=64, help="d, context dimension")
    ap.add_argument("--scale", type=float, default=0.3, help="w = scale * N(0, 1)")
    ap.add_argument("--threads", type=int, default=2, help="lpgx n_threads and torch.set_num_threads")
    ap.add_argument("--budget", type=int, help="log2 of the logits (B*N*k) per call (default 24)")
    ap.add_argument("--max-batch", type=int, default=4096, help="largest B")
    ap.add_argument("--max-model-gb", type=float, default=3.0, help="skip larger parameter vectors")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per measurement")
    ap.add_argument("--pause", type=float, default=0.2, help="seconds of rest before each implementation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-torch", action="store_true", help="leave out the torch references")
    ap.add_argument("--no-numpy", action="store_true", help="time no numpy reference (still checked)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    global torch
    if args.no_torch:
        torch = None
    args.ks = args.ks or list(QUICK_KS if args.quick else KS)
    args.Ns = args.Ns or list(QUICK_NS if args.quick else NS)
    args.budget = args.budget if args.budget is not None else (21 if args.quick else 24)
    if torch is not None:
        torch.set_num_threads(args.threads)

    def log(msg: str) -> None:
        print(msg, flush=True)

    info = machine_info()
    log(f"# lpgx scaling benchmark: ks={args.ks} Ns={args.Ns} blocks={args.blocks} d={args.dim} "
        f"threads={args.threads} budget=2^{args.budget} logits/call repeats={args.repeats}")
    log("# " + ", ".join(f"{a}={b}" for a, b in info.items()))
    if torch is None:
        log("# torch not used: torch columns left out")
    if not HWM_WORKS:
        log("# peak memory not measured: /proc/self/clear_refs cannot reset VmHWM here")
    t_start = time.perf_counter()
    c0 = cpu_counters()
    cases = [run_case(b, k, N, args, log) for b in args.blocks for N in args.Ns for k in args.ks]
    info["others_busy_during_run_pct"] = others_busy_percent(c0, cpu_counters())
    info["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    out = table(cases, args.ops)
    log("")
    log(f"best of {args.repeats} calls after one warm-up; speed-up = reference best / lpgx best "
        f"(> 1: lpgx faster); lpgx on {args.threads} threads; * = other processes used > {BUSY_LIMIT}% "
        f"of the CPUs while a row of that operation was timed")
    log("")
    log(out)
    log(f"\n# {info['wall_seconds']} s; other processes used {info['others_busy_during_run_pct']}% of the CPU time")
    if args.json:
        cfg = {k: v for k, v in vars(args).items() if k != "json"}
        with open(args.json, "w") as fh:
            json.dump({"config": cfg, "machine": info, "cases": cases, "table": out,
                       "command": " ".join([os.path.basename(sys.executable)] + sys.argv)}, fh, indent=1)
        log(f"# wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
