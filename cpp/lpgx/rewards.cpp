#include "rewards.hpp"

#include <algorithm>

#include "rng.hpp"

namespace lpgx {

bool reward_of(const RewardSpec& spec, const std::int32_t* y, const std::int32_t* ystar, int N,
               std::uint64_t key, Index b, double* r) {
  const int e = first_error(y, ystar, N);
  Philox rng(key, std::uint64_t(b));
  auto noisy = [&](bool ok) { return (spec.flip_prob > 0.0 && rng.uniform() < spec.flip_prob) ? !ok : ok; };
  if (spec.kind == RewardSpec::kOutcome) {
    r[0] = noisy(e == N) ? spec.pos : spec.neg;
  } else {
    for (int i = 0; i < N; ++i) r[i] = noisy(i < e) ? spec.pos : spec.neg;
  }
  return e == N;
}

void evaluate_reward(const RewardSpec& spec, const std::int32_t* y, const std::int32_t* ystar, Index B,
                     int N, std::uint64_t key, double* r, std::uint8_t* correct, int n_threads) {
  const Index width = spec.kind == RewardSpec::kOutcome ? 1 : N;
  parallel_for(B, n_threads, [&](Index b) {
    correct[b] = reward_of(spec, y + b * N, ystar + b * N, N, key, b, r + b * width);
  });
}

double batch_means(const double* r, Index B, Index width, double* mean) {
  std::fill(mean, mean + width, 0.0);
  for (Index b = 0; b < B; ++b)
    for (Index j = 0; j < width; ++j) mean[j] += r[b * width + j];
  double average = 0.0;
  for (Index j = 0; j < width; ++j) {
    mean[j] /= double(B);
    average += mean[j] / double(width);
  }
  return average;
}

}  // namespace lpgx
