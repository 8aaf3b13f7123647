// Batched operations on a policy: exact log-likelihoods, sampling, greedy decoding,
// gradients, margins and Monte-Carlo hit counts. Parallel over sequences; results never
// depend on the thread count (own random stream per sequence, fixed reduction order).
#pragma once
#include <cstdint>

#include "draw.hpp"
#include "gradient.hpp"
#include "model.hpp"
#include "prev_gradient.hpp"
#include "rng.hpp"

namespace lpgx {

// Draws y_i for i ≥ from (the prefix y_<from given) token by token, one uniform of rng
// per token; false when a logit is not finite.
inline bool draw_sequence(const Policy& pol, SeqState& st, Philox& rng, std::int32_t* y, int from = 0) {
  for (int i = from; i < pol.spec().N; ++i) {
    NextToken t;
    if (!pol.next(st, i, i ? y[i - 1] : -1, t)) return false;
    y[i] = t.draw(rng.uniform());
  }
  return true;
}

// y (B×N), and log p(y_i | ...) into logp (B×N) when non-null.
void sample(const Policy& pol, const double* x, Index B, std::uint64_t key, std::uint64_t stream0,
            std::int32_t* y, double* logp, int n_threads);

// log p(y_i | x, y_<i) for every position (B×N).
void token_log_prob(const Policy& pol, const double* x, const std::int32_t* y, Index B,
                    double* out, int n_threads);

// log p(y | x) = Σ_i log p(y_i | x, y_<i) for every sequence (B): the one place that sums a
// sequence's log-likelihood (in position order).
void log_prob(const Policy& pol, const double* x, const std::int32_t* y, Index B, double* out, int n_threads);

void greedy(const Policy& pol, const double* x, Index B, std::int32_t* y, int n_threads);

// ∇_w Σ_b Σ_i weights[b,i] log p(y_bi | x_b, y_b,<i)   (weights null: all ones): added to grad,
// which starts at zero, in the internal layout (flat = false) or the flat layout of theory §1
// (flat = true). Only the nonzero entries of W2's gradient are written: at large k most
// columns are zero, and a zeroed result from calloc costs no pass of its own. With `columns`
// (flat only), W2's gradient goes there as its nonzero columns instead, and grad's prev-token
// block stays zero, untouched: O(V·k) for the V previous tokens that occur, not O(k²).
// token_logp (B×N) receives the log-probs when non-null.
void grad_log_prob(const Policy& pol, const double* x, const std::int32_t* y, const double* weights,
                   Index B, double* grad, double* token_logp, int n_threads, bool flat = false,
                   PrevColumns* columns = nullptr);

// Per sample: min_i min_{c≠y_i} (logit_i[y_i] − logit_i[c]) and max_i ‖φ‖² along y.
void margin_gaps(const Policy& pol, const double* x, const std::int32_t* y, Index B, double* gap,
                 double* phi_norm2, int n_threads);

// Along one response per context drawn from pol (stream b of key): the mean over contexts and
// positions of the exact per-token entropy H(π(·|s)) and KL(π(·|s) ‖ π_ref(·|s)).
void entropy_and_kl_along_samples(const Policy& pol, const Policy& ref, const double* x, Index B, std::uint64_t key,
                                  double& entropy, double& kl, int n_threads);

// Along given responses: the exact per-token KL(π(·|s) ‖ π_ref(·|s)) into kl (B×N) and
// log ρ = log π_ref(y_i|s) − log π(y_i|s) at the drawn tokens into log_rho (B×N).
void kl_along(const Policy& pol, const Policy& ref, const double* x, const std::int32_t* y, Index B, double* kl,
              double* log_rho, int n_threads);

// log q(S | x) for each context: the likelihood of its correct set S, the responses that agree
// with y* on the checked positions (checked: N flags) up to `tolerance` mismatches (theory §5).
// Exact: a forward pass over (previous token, mismatches so far), rescaled at every position.
void set_log_prob(const Policy& pol, const double* x, const std::int32_t* ystar, Index B,
                  const std::uint8_t* checked, int tolerance, double* out, int n_threads);

// log of the token-level Likelihood Quantile at eps (theory §5): the ⌊eps·B⌋+1-th smallest of
// min_i log p(y_i | x, y_<i) over the B sequences (0 when ⌊eps·B⌋ = B).
double token_log_lq(const Policy& pol, const double* x, const std::int32_t* y, Index B, double eps, int n_threads);

// For each context, how many of n_samples independent draws equal y exactly.
void count_matches(const Policy& pol, const double* x, const std::int32_t* y, Index B,
                   Index n_samples, std::uint64_t key, std::int64_t* counts, int n_threads);

}  // namespace lpgx
