#include "oracle.hpp"

#include <algorithm>
#include <stdexcept>

namespace lpgx {

RewardOracle::RewardOracle(const RewardSpec& spec, int N, RewardCallback external)
    : spec_(spec), N_(N), external_(std::move(external)), noisy_(spec.noisy()),
      checked_(std::size_t(N), spec.positions.empty() ? 1 : 0) {
  for (int p : spec.positions) {
    if (p < 0 || p >= N) throw std::invalid_argument("reward positions must lie in [0, N)");
    checked_[std::size_t(p)] = 1;
  }
  exact_ = spec.positions.empty() && spec.tolerance == 0 && spec.window == 0;
}

int RewardOracle::first_error_in_set(const std::int32_t* y, const std::int32_t* ystar, int upto) const {
  int misses = 0;
  for (int i = 0; i < upto; ++i)
    if (checked_[std::size_t(i)] && y[i] != ystar[i] && ++misses > spec_.tolerance) return i;
  return upto;
}

bool RewardOracle::prefix_correct(const std::int32_t* y, const std::int32_t* ystar, int i) const {
  if (spec_.window > 0) {  // a short-sighted PRM: positions i−w+1..i only
    const int lo = std::max(0, i + 1 - spec_.window);
    int misses = 0;
    for (int t = lo; t <= i; ++t) misses += checked_[std::size_t(t)] && y[t] != ystar[t];
    return misses <= spec_.tolerance;
  }
  return first_error_in_set(y, ystar, i + 1) == i + 1;
}

void RewardOracle::prefix_verdicts(const std::int32_t* y, const std::int32_t* ystar, Philox& rng,
                                   std::uint8_t* ok) const {
  if (spec_.window > 0) {
    for (int i = 0; i < N_; ++i) ok[i] = prefix_correct(y, ystar, i);
    return;
  }
  int e = first_error_of(y, ystar);
  if (spec_.jitter > 0 && e < N_) {  // the error, reported up to j positions early or late
    const int shift = int(rng.below(std::uint32_t(2 * spec_.jitter + 1))) - spec_.jitter;
    e = std::clamp(e + shift, 0, N_ - 1);
  }
  for (int i = 0; i < N_; ++i) ok[i] = i < e;
}

bool RewardOracle::judge(const std::int32_t* y, const std::int32_t* ystar, std::uint64_t key, Index j, double* r,
                         bool revealed) const {
  Philox rng(key, std::uint64_t(j));
  const int e = first_error_of(y, ystar);
  if (spec_.kind == RewardSpec::kOutcome) {
    r[0] = report(e == N_, rng) ? spec_.pos : spec_.neg;
  } else if (exact_ && spec_.jitter == 0) {
    for (int i = 0; i < N_; ++i) r[i] = report(i < e, rng) ? spec_.pos : spec_.neg;
  } else {
    std::vector<std::uint8_t> ok(static_cast<std::size_t>(N_));
    prefix_verdicts(y, ystar, rng, ok.data());
    for (int i = 0; i < N_; ++i) r[i] = report(ok[std::size_t(i)], rng) ? spec_.pos : spec_.neg;
  }
  if (!revealed) count(1);
  return e == N_;
}

int RewardOracle::first_rejected(const std::int32_t* y, const std::int32_t* ystar, Philox& noise) const {
  count(1);
  std::vector<std::uint8_t> ok(static_cast<std::size_t>(N_));
  prefix_verdicts(y, ystar, noise, ok.data());
  for (int i = 0; i < N_; ++i)
    if (!report(ok[std::size_t(i)], noise)) return i;
  return N_;
}

void judge_batch(const RewardOracle& oracle, const std::int32_t* y, const std::int32_t* ystar, Index n,
                 std::uint64_t key, double* r, int n_threads) {
  const int N = oracle.seq_len();
  const Index width = oracle.spec().width(N);
  parallel_for(n, n_threads, [&](Index j) { oracle.judge(y + j * N, ystar + j * N, key, j, r + j * width); });
}

}  // namespace lpgx
