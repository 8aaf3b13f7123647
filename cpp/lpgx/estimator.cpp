#include "estimator.hpp"

#include <algorithm>

namespace lpgx {

ChannelPlan channel_plan(const Estimator& est, const RewardSpec& reward) {
  if (est.kind == Estimator::kSupervised || reward.kind == RewardSpec::kNone) return {1, true};
  // A user's verifier judges the whole batch at once: nothing is known per group.
  if (reward.external) return {1, false};
  if (reward.kind == RewardSpec::kOutcome) return {2, true};  // one channel per reward value
  return {1, !est.baseline};  // the PRM's per-position baseline needs the whole batch
}

RewardStats reward_stats(const RewardSpec& reward, const double* r, Index n, Index width) {
  RewardStats s;
  if (reward.kind == RewardSpec::kNone) return s;
  s.mean.assign(std::size_t(width), 0.0);
  for (Index b = 0; b < n; ++b)
    for (Index j = 0; j < width; ++j) s.mean[std::size_t(j)] += r[b * width + j];
  s.average = 0.0;
  for (Index j = 0; j < width; ++j) {
    s.mean[std::size_t(j)] /= double(n);
    s.average += s.mean[std::size_t(j)] / double(width);
  }
  return s;
}

int group_weights(const Estimator& est, const RewardSpec& reward, const double* r_group, int g, int N,
                  double* a) {
  if (est.kind == Estimator::kSupervised || reward.kind == RewardSpec::kNone) {
    std::fill(a, a + N, 1.0);
    return 0;
  }
  if (reward.kind == RewardSpec::kOutcome) {  // Reinforce: (value − baseline) applied per channel
    std::fill(a, a + N, 1.0);
    return r_group[g] == reward.pos ? 0 : 1;
  }
  std::copy(r_group + Index(g) * N, r_group + Index(g + 1) * N, a);  // PRM without baseline: A_i = r_i
  return 0;
}

void channel_coefficients(const Estimator& est, const RewardSpec& reward, const RewardStats& stats,
                          double* coef) {
  if (est.kind == Estimator::kSupervised || reward.kind != RewardSpec::kOutcome) {
    coef[0] = 1.0;
    return;
  }
  const double baseline = est.baseline ? stats.mean[0] : 0.0;
  coef[0] = reward.pos - baseline;
  coef[1] = reward.neg - baseline;
}

void advantages(const Estimator& est, const RewardSpec& reward, const double* r, Index n, int N,
                const RewardStats& stats, double* adv) {
  if (est.kind == Estimator::kSupervised || reward.kind == RewardSpec::kNone) {
    std::fill(adv, adv + n * N, 1.0);
    return;
  }
  const bool process = reward.kind == RewardSpec::kProcess;
  const Index width = process ? N : 1;
  for (Index b = 0; b < n; ++b)
    for (int i = 0; i < N; ++i) {
      const Index j = process ? i : 0;
      adv[b * N + i] = r[b * width + j] - (est.baseline ? stats.mean[std::size_t(j)] : 0.0);
    }
}

}  // namespace lpgx
