// Micro-benchmark of the inverse-CDF draw at k = 32 (the sampling hot spot after exp):
// the linear scan, the blocked scan of cpp/lpgx/batch.hpp, and a branchless AVX-512 draw
// (in-register prefix sums of 8 lanes, count the prefix sums <= u). Each draw feeds the
// next one (as token i feeds position i+1), so latency, not throughput, is measured.
//
//   g++ -O3 -march=native bench/micro_draw_token.cpp -o /tmp/micro_draw && /tmp/micro_draw
//
// Needs AVX-512F. Not part of the build; see bench/README.md for the figures.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace {

int draw_linear(const double* p, int k, double u) {
  double a = 0.0;
  for (int c = 0; c < k; ++c) {
    a += p[c];
    if (u < a) return c;
  }
  return k - 1;
}

// cpp/lpgx/batch.hpp's draw_token as of 2026-11-27 09:48 UTC (without the rounding fallback).
int draw_blocked(const double* p, int k, double u) {
  double acc = 0.0;
  int c = 0;
  for (; c + 8 <= k; c += 8) {
    const double block = ((p[c] + p[c + 1]) + (p[c + 2] + p[c + 3])) + ((p[c + 4] + p[c + 5]) + (p[c + 6] + p[c + 7]));
    if (u < acc + block) break;
    acc += block;
  }
  for (; c < k; ++c) {
    acc += p[c];
    if (u < acc) return c;
  }
  return k - 1;
}

// k a multiple of 8. Counts the c with cumsum[c] <= u: the first c with u < cumsum[c].
int draw_branchless(const double* p, int k, double u) {
  const __m512i i1 = _mm512_set_epi64(6, 5, 4, 3, 2, 1, 0, 0);
  const __m512i i2 = _mm512_set_epi64(5, 4, 3, 2, 1, 0, 0, 0);
  const __m512i i4 = _mm512_set_epi64(3, 2, 1, 0, 0, 0, 0, 0);
  const __m512i last = _mm512_set1_epi64(7);
  const __m512d uv = _mm512_set1_pd(u);
  __m512d off = _mm512_setzero_pd();
  int count = 0;
  for (int c = 0; c < k; c += 8) {
    __m512d x = _mm512_loadu_pd(p + c);
    x = _mm512_add_pd(x, _mm512_maskz_permutexvar_pd(0xFE, i1, x));
    x = _mm512_add_pd(x, _mm512_maskz_permutexvar_pd(0xFC, i2, x));
    x = _mm512_add_pd(x, _mm512_maskz_permutexvar_pd(0xF0, i4, x));
    x = _mm512_add_pd(x, off);
    count += __builtin_popcount(_mm512_cmp_pd_mask(x, uv, _CMP_LE_OQ));
    off = _mm512_maskz_permutexvar_pd(0xFF, last, x);  // broadcast lane 7 (maskz: no undefined source)
  }
  return count < k ? count : k - 1;
}

}  // namespace

int main() {
  const int k = 32, T = 131072;  // one Figure-1 batch worth of tokens
  std::mt19937_64 gen(1);
  std::uniform_real_distribution<double> U;
  std::vector<double> P(std::size_t(T) * k), Z(T), us(T);
  for (int t = 0; t < T; ++t) {
    double z = 0.0;
    for (int c = 0; c < k; ++c) z += P[std::size_t(t) * k + c] = std::exp(2.0 * U(gen));
    Z[t] = z;
    us[t] = U(gen);
  }
  auto run = [&](const char* name, int (*draw)(const double*, int, double)) {
    double best = 1e9;
    long sum = 0;
    for (int r = 0; r < 15; ++r) {
      sum = 0;
      const auto t0 = std::chrono::steady_clock::now();
      for (int t = 0, prev = 0; t < T; ++t) {
        const double dep = 1.0 + prev * 1e-300;  // a data dependency on the previous draw
        prev = draw(&P[std::size_t(t) * k], k, us[t] * Z[t] * dep);
        sum += prev;
      }
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    int diff = 0;
    for (int t = 0; t < T; ++t) diff += draw(&P[std::size_t(t) * k], k, us[t] * Z[t]) != draw_linear(&P[std::size_t(t) * k], k, us[t] * Z[t]);
    std::printf("%-12s %6.2f ns/token   draws differing from the linear scan: %d of %d   (checksum %ld)\n", name,
                best * 1e9 / T, diff, T, sum);
  };
  run("linear", draw_linear);
  run("blocked", draw_blocked);
  run("branchless", draw_branchless);
}
