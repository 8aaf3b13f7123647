// grad_log_prob for large vocabularies, in one pass, with W2's gradient kept as its columns.
//
// A call's tokens follow at most min(B·N, k) distinct previous tokens, so W2's gradient
// ∂/∂W2[:, p] is nonzero in that many columns only: one k-row per previous token that occurs
// (a table of V × k doubles), not the k² of W2.
//
// Each column is summed where it first occurs: the chunk of sequences that holds the first
// token after p adds its tokens' gradients straight into p's row of the table, and a later
// chunk with tokens after p sums them in a row of its own, added to the table once every
// earlier chunk is in. These are GradAccum's per-chunk rows summed over the chunks in order
// (each chunk's sum from zero, then the chunks from zero), bit for bit and whatever the thread
// count, with only the chunks in flight holding rows of their own.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "buffer_pool.hpp"
#include "model.hpp"

namespace lpgx {

// W2's gradient as its nonzero columns: row j of table (k values) is ∂/∂W2[:, tokens[j]].
struct PrevColumns {
  std::vector<std::int32_t> tokens;      // ascending
  std::unique_ptr<PooledDoubles> table;  // tokens.size() × k: a caller's result, recycled when let go
};

// Whether grad_log_prob takes this route: no memo (the memo sums per row already), a prev-token
// block above GradAccum::kDenseRows, and no context_position block.
bool grad_by_prev_columns(const Policy& pol);

// The previous tokens of the tokens i ≥ 1 with a nonzero weight (weights null: every token),
// ascending: the columns where W2's gradient can be nonzero.
std::vector<std::int32_t> prev_tokens_of(int k, int N, Index B, const std::int32_t* y, const double* weights);

// ∇_w Σ_b Σ_i weights[b,i] log p(y_bi | x_b, y_b,<i): every block but prev_token added to grad
// (flat layout, zero on entry; its prev-token block is not touched), W2's block into cols.
// token_logp (B×N) receives the log-probs when non-null.
void grad_log_prob_columns(const Policy& pol, const double* x, const std::int32_t* y, const double* weights,
                           Index B, double* grad, double* token_logp, int n_threads, PrevColumns& cols);

// Writes the columns into w2 (k × k, W2[c, p] at c·k + p, zero on entry): only those columns.
void write_columns(const PrevColumns& cols, int k, double* w2, int n_threads);

// The reverse, for the routes that sum W2 densely: moves the columns cols.tokens of w2 into
// cols.table, leaving zeros in w2.
void take_columns(double* w2, int k, PrevColumns& cols);

}  // namespace lpgx
