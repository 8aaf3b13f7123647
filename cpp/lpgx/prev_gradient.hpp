// The prev-token block's gradient for large vocabularies, recomputed by previous token.
//
// Accumulating ∂/∂W2[:, prev] per chunk of sequences keeps one k-row per visited previous
// token and chunk: up to B·N·k doubles, the size of all the logits, written and read once.
// Past GradAccum::kDenseRows the model kernel instead runs the sequences without those rows
// (pass 1) and then, per previous token p, recomputes the distributions of the positions that
// follow p and sums their gradients (pass 2): O(k) memory per worker, twice the exponentials.
#pragma once
#include <cstdint>

#include "model.hpp"
#include "parallel.hpp"

namespace lpgx {

// Whether grad_log_prob takes the two-pass route for this policy (flat layout only): no memo,
// a prev-token block above kDenseRows, and no context_position block (whose per-sequence
// tables pass 2 would have to keep for every sequence).
bool prev_gradient_by_token(const Policy& pol);

// Adds W2's gradient in the flat layout (w2: k × k, W2[c, p] at c·k + p, zero on entry: only
// nonzero entries may be written, or lines with zeros written whole) for the batch whose
// sequences' context logits (SeqState::base after begin) are base (B × k): Σ over tokens i ≥ 1
// with previous token p and weight a ≠ 0 of a (e_{y_i} − p_i). The sums run as pass 1 would
// have run them, per chunk of `chunks` from zero and then over the chunks in order, so the
// result is bit-identical to GradAccum's rows, whatever n_threads.
void prev_gradient_flat(const Policy& pol, const double* base, const std::int32_t* y, const double* weights,
                        const Chunks& chunks, double* w2, int n_threads);

}  // namespace lpgx
