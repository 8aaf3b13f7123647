#include "inputs.hpp"

#include <cmath>

#include "rng.hpp"

namespace lpgx {

namespace {

double sum_sq(const double* v, int n) {
  double s = 0.0;
  for (int j = 0; j < n; ++j) s += v[j] * v[j];
  return s;
}

}  // namespace

void draw_inputs(const InputDist& dist, Index n, std::uint64_t key, std::uint64_t stream0,
                 double* x, std::int32_t* comp, int n_threads) {
  const int d = dist.d;
  parallel_for(n, n_threads, [&](Index b) {
    Philox rng(key, stream0 + std::uint64_t(b));
    double* xb = x + b * d;
    if (dist.kind == InputKind::kRademacher) {
      for (int j = 0; j < d; ++j) xb[j] = (rng.next_u32() & 1u) ? 1.0 : -1.0;
      if (comp) comp[b] = -1;
      return;
    }
    const int m = static_cast<int>(rng.below(static_cast<std::uint32_t>(dist.num_mix)));
    double norm2;
    if (dist.sigma <= 1e150) {
      double noise2 = 0.0;
      for (int j = 0; j < d; ++j) {
        xb[j] = dist.sigma * rng.normal();
        noise2 += xb[j] * xb[j];
      }
      const double noise_norm = std::sqrt(noise2);
      if (noise_norm > dist.sigma && noise_norm > 0.0) {
        const double shrink = dist.sigma / noise_norm;
        for (int j = 0; j < d; ++j) xb[j] *= shrink;
      }
      xb[m % d] += 1.0;
      norm2 = sum_sq(xb, d);
    } else {  // ‖σ z‖² would overflow: build x/σ = e_m/σ + z·min(1, 1/‖z‖) instead (same direction)
      for (int j = 0; j < d; ++j) xb[j] = rng.normal();
      const double zn = std::sqrt(sum_sq(xb, d));
      const double f = zn > 1.0 ? 1.0 / zn : 1.0;
      for (int j = 0; j < d; ++j) xb[j] *= f;
      xb[m % d] += 1.0 / dist.sigma;
      norm2 = sum_sq(xb, d);
    }
    const double scale = norm2 > 0.0 ? std::sqrt(double(d) / norm2) : 1.0;
    for (int j = 0; j < d; ++j) xb[j] *= scale;
    if (comp) comp[b] = m;
  });
}

}  // namespace lpgx
