#include "rewards.hpp"

#include "rng.hpp"

namespace lpgx {

void evaluate_reward(const RewardSpec& spec, const std::int32_t* y, const std::int32_t* ystar, Index B,
                     int N, std::uint64_t key, double* r, std::uint8_t* correct, int n_threads) {
  parallel_for(B, n_threads, [&](Index b) {
    const int e = first_error(y + b * N, ystar + b * N, N);
    correct[b] = (e == N);
    Philox rng(key, std::uint64_t(b));
    auto noisy = [&](bool ok) { return (spec.flip_prob > 0.0 && rng.uniform() < spec.flip_prob) ? !ok : ok; };
    if (spec.kind == RewardSpec::kOutcome) {
      r[b] = noisy(e == N) ? spec.pos : spec.neg;
    } else {
      for (int i = 0; i < N; ++i) r[b * N + i] = noisy(i < e) ? spec.pos : spec.neg;
    }
  });
}

}  // namespace lpgx
