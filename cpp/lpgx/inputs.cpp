#include "inputs.hpp"

#include <cmath>

#include "rng.hpp"

namespace lpgx {

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
    double norm2 = 0.0;
    for (int j = 0; j < d; ++j) norm2 += xb[j] * xb[j];
    const double scale = norm2 > 0.0 ? std::sqrt(double(d) / norm2) : 1.0;
    for (int j = 0; j < d; ++j) xb[j] *= scale;
    if (comp) comp[b] = m;
  });
}

}  // namespace lpgx
