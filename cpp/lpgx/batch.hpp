// Batched operations on a policy: exact log-likelihoods, sampling, greedy decoding,
// gradients, margins and Monte-Carlo hit counts. Parallel over sequences; results never
// depend on the thread count (own random stream per sequence, fixed reduction order).
#pragma once
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "model.hpp"
#include "rng.hpp"

namespace lpgx {

// Draws token c with probability p[c] / Σp from u uniform on [0, Σp): the first c whose
// cumulative sum exceeds u (the last token when rounding leaves u above the total).
inline int draw_token_scan(const double* p, int k, double u) {
  double acc = 0.0;
  for (int c = 0; c < k; ++c) {
    acc += p[c];
    if (u < acc) return c;
  }
  for (int c = k - 1; c >= 0; --c)
    if (p[c] > 0.0) return c;
  return k - 1;
}

#if defined(__AVX512F__)
// The same draw without a data-dependent branch per token: prefix sums of 8 lanes in a
// register, and the count of cumulative sums ≤ u is the drawn token (~3x faster at k = 32;
// bench/micro_draw_token.cpp). The sums associate differently from the scan, so a draw
// can differ from it only when u lies within rounding of a boundary.
inline int draw_token(const double* p, int k, double u) {
  if (k % 8 != 0) return draw_token_scan(p, k, u);
  const __m512i i1 = _mm512_set_epi64(6, 5, 4, 3, 2, 1, 0, 0);
  const __m512i i2 = _mm512_set_epi64(5, 4, 3, 2, 1, 0, 0, 0);
  const __m512i i4 = _mm512_set_epi64(3, 2, 1, 0, 0, 0, 0, 0);
  const __m512i last = _mm512_set1_epi64(7);
  const __m512d uv = _mm512_set1_pd(u);
  __m512d offset = _mm512_setzero_pd();
  int count = 0;
  for (int c = 0; c < k; c += 8) {
    __m512d x = _mm512_loadu_pd(p + c);
    x = _mm512_add_pd(x, _mm512_maskz_permutexvar_pd(0xFE, i1, x));
    x = _mm512_add_pd(x, _mm512_maskz_permutexvar_pd(0xFC, i2, x));
    x = _mm512_add_pd(x, _mm512_maskz_permutexvar_pd(0xF0, i4, x));
    x = _mm512_add_pd(x, offset);
    count += __builtin_popcount(_mm512_cmp_pd_mask(x, uv, _CMP_LE_OQ));
    offset = _mm512_permutexvar_pd(last, x);  // broadcast the running total
  }
  return count < k ? count : draw_token_scan(p, k, u);
}
#else
inline int draw_token(const double* p, int k, double u) { return draw_token_scan(p, k, u); }
#endif

// y (B×N), and log p(y_i | ...) into logp (B×N) when non-null.
void sample(const Policy& pol, const double* x, Index B, std::uint64_t key, std::uint64_t stream0,
            std::int32_t* y, double* logp, int n_threads);

// log p(y_i | x, y_<i) for every position (B×N).
void token_log_prob(const Policy& pol, const double* x, const std::int32_t* y, Index B,
                    double* out, int n_threads);

void greedy(const Policy& pol, const double* x, Index B, std::int32_t* y, int n_threads);

// grad += ∇_w Σ_b Σ_i weights[b,i] log p(y_bi | x_b, y_b,<i)   (weights null: all ones).
// token_logp (B×N) receives the log-probs when non-null.
void grad_log_prob(const Policy& pol, const double* x, const std::int32_t* y, const double* weights,
                   Index B, double* grad, double* token_logp, int n_threads);

// Per sample: min_i min_{c≠y_i} (logit_i[y_i] − logit_i[c]) and max_i ‖φ‖² along y.
void margin_gaps(const Policy& pol, const double* x, const std::int32_t* y, Index B, double* gap,
                 double* phi_norm2, int n_threads);

// For each context, how many of n_samples independent draws equal y exactly.
void count_matches(const Policy& pol, const double* x, const std::int32_t* y, Index B,
                   Index n_samples, std::uint64_t key, std::int64_t* counts, int n_threads);

}  // namespace lpgx
