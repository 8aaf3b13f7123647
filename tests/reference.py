"""A slow, obviously-correct numpy reference of the model of theory §1.

It materialises the feature vector φ(x, y_<i, c) in the flat layout, block by block, and
computes logits as <w, φ>: no shared code with lpgx's block-structured C++ engine."""
from __future__ import annotations

import numpy as np

BLOCKS = ("context", "prev_token", "position", "context_position", "bias")


def block_sizes(k, N, d, blocks):
    sizes = {"context": d * k, "prev_token": k * k, "position": N * k, "context_position": d * N * k, "bias": k}
    return [(b, sizes[b]) for b in BLOCKS if b in blocks]


def phi(k, N, d, blocks, x, prefix, c):
    """φ(x, y_<i, c) with i = len(prefix) (0-based position)."""
    i = len(prefix)
    parts = []
    for b, size in block_sizes(k, N, d, blocks):
        f = np.zeros(size)
        if b == "context":            # vec(x e_cᵀ): W1[j, c] at j*k + c
            f[np.arange(d) * k + c] = x
        elif b == "prev_token" and i > 0:  # W2[c, prev] at c*k + prev
            f[c * k + prefix[-1]] = 1.0
        elif b == "position":         # P[i, c] at i*k + c
            f[i * k + c] = 1.0
        elif b == "context_position":  # C[j, i, c] at (j*N + i)*k + c
            f[(np.arange(d) * N + i) * k + c] = x
        elif b == "bias":
            f[c] = 1.0
        parts.append(f)
    return np.concatenate(parts)


def num_params(k, N, d, blocks):
    return sum(s for _, s in block_sizes(k, N, d, blocks))


def log_softmax(z):
    m = z.max()
    return z - (m + np.log(np.exp(z - m).sum()))


def token_log_probs(k, N, d, blocks, w, x, y):
    out = np.zeros(y.shape)
    for b in range(x.shape[0]):
        for i in range(N):
            prefix = list(y[b, :i])
            z = np.array([w @ phi(k, N, d, blocks, x[b], prefix, c) for c in range(k)])
            out[b, i] = log_softmax(z)[y[b, i]]
    return out


def grad(k, N, d, blocks, w, x, y, weights):
    """∇_w Σ weights[b,i] log p(y_bi|…) = Σ weights[b,i] (φ(y_bi) − Σ_c p_c φ(c))."""
    g = np.zeros_like(w)
    for b in range(x.shape[0]):
        for i in range(N):
            prefix = list(y[b, :i])
            feats = np.array([phi(k, N, d, blocks, x[b], prefix, c) for c in range(k)])
            p = np.exp(log_softmax(feats @ w))
            g += weights[b, i] * (feats[y[b, i]] - p @ feats)
    return g


def greedy(k, N, d, blocks, w, x):
    y = np.zeros((x.shape[0], N), dtype=int)
    for b in range(x.shape[0]):
        for i in range(N):
            z = [w @ phi(k, N, d, blocks, x[b], list(y[b, :i]), c) for c in range(k)]
            y[b, i] = int(np.argmax(z))
    return y
