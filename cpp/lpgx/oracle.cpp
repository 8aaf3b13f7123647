#include "oracle.hpp"

namespace lpgx {

bool RewardOracle::judge(const std::int32_t* y, const std::int32_t* ystar, std::uint64_t key, Index j,
                         double* r, bool revealed) const {
  const int e = first_error(y, ystar, N_);
  Philox rng(key, std::uint64_t(j));
  if (spec_.kind == RewardSpec::kOutcome) {
    r[0] = noisy(e == N_, rng) ? spec_.pos : spec_.neg;
  } else {
    for (int i = 0; i < N_; ++i) r[i] = noisy(i < e, rng) ? spec_.pos : spec_.neg;
  }
  if (!revealed) count(1);
  return e == N_;
}

void judge_batch(const RewardOracle& oracle, const std::int32_t* y, const std::int32_t* ystar, Index n,
                 std::uint64_t key, double* r, int n_threads) {
  const int N = oracle.seq_len();
  const Index width = oracle.spec().width(N);
  parallel_for(n, n_threads, [&](Index j) { oracle.judge(y + j * N, ystar + j * N, key, j, r + j * width); });
}

}  // namespace lpgx
