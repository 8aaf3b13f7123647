#include "estimator.hpp"

#include <algorithm>
#include <cmath>

namespace lpgx {
namespace {

// C(n − c, j) / C(n, j): the probability that j of n items drawn without replacement miss all c
// marked ones (0 when n − c < j).
double miss_ratio(int n, int c, int j) {
  if (n - c < j) return 0.0;
  double r = 1.0;
  for (int t = 0; t < j; ++t) r *= double(n - c - t) / double(n - t);
  return r;
}

// The group-local advantages of one column: G rewards r (stride apart) into A (stride apart).
// Batch-level parts (Reinforce's baseline, GRPO's batch scale) are applied by the caller.
void column_advantages(const Estimator& e, const RewardSpec& rw, const double* r, Index stride, int G, double* A) {
  double sum = 0.0;
  for (int g = 0; g < G; ++g) sum += r[g * stride];
  switch (e.kind) {
    case Estimator::kSupervised:
      for (int g = 0; g < G; ++g) A[g * stride] = 1.0;
      return;
    case Estimator::kReinforce:
    case Estimator::kBatchNorm:  // the batch statistics are applied by the caller
      for (int g = 0; g < G; ++g) A[g * stride] = r[g * stride];
      return;
    case Estimator::kRLOO:
      for (int g = 0; g < G; ++g) A[g * stride] = r[g * stride] - (sum - r[g * stride]) / double(G - 1);
      return;
    case Estimator::kGRPO: {
      const double mean = sum / double(G);
      double ss = 0.0;
      for (int g = 0; g < G; ++g) ss += (r[g * stride] - mean) * (r[g * stride] - mean);
      const double div = e.scale == Estimator::kScaleGroup ? std::sqrt(ss / double(G - 1)) + e.eps : 1.0;
      for (int g = 0; g < G; ++g) A[g * stride] = ss == 0.0 ? 0.0 : (r[g * stride] - mean) / div;  // all equal: 0
      return;
    }
    case Estimator::kPassAtK: {  // on the verdicts c_g = [r_g = pos] (theory §10)
      int correct = 0;
      for (int g = 0; g < G; ++g) correct += r[g * stride] == rw.pos;
      for (int g = 0; g < G; ++g) {
        const int c_g = r[g * stride] == rw.pos;
        const int others = correct - c_g;  // correct among the other G − 1
        double a = c_g ? double(e.k) * miss_ratio(G - 1, others, e.k - 1) : 0.0;
        if (e.baseline) a -= 1.0 - miss_ratio(G - 1, others, e.k);  // the others' pass@k estimate
        A[g * stride] = a;
      }
      return;
    }
  }
}

}  // namespace

ChannelPlan channel_plan(const Estimator& est, const RewardSpec& reward) {
  if (est.kind == Estimator::kSupervised || reward.kind == RewardSpec::kNone) return {1, true};
  if (reward.external) return {1, false};  // a user's verifier judges the whole batch at once
  const bool outcome = reward.kind == RewardSpec::kOutcome;
  switch (est.kind) {
    case Estimator::kReinforce:
      if (outcome) return {2, true};  // one channel per reward value: (value − baseline) later
      return {1, !est.baseline};      // the PRM's per-position baseline needs the whole batch
    case Estimator::kBatchNorm:
      return {outcome ? 2 : 1, outcome};  // (value − mean)/(sd + eps) per reward value; per position: later
    case Estimator::kGRPO:
      // the batch's standard deviation is one coefficient for outcome rewards, one per position for process rewards
      return {1, outcome || est.scale != Estimator::kScaleBatch};
    default:
      return {1, true};
  }
}

RewardStats reward_stats(const RewardSpec& reward, const double* r, Index n, Index width, bool with_sd) {
  RewardStats s;
  if (reward.kind == RewardSpec::kNone) return s;
  s.mean.assign(std::size_t(width), 0.0);
  s.sd.assign(std::size_t(width), 0.0);
  for (Index b = 0; b < n; ++b)
    for (Index j = 0; j < width; ++j) s.mean[std::size_t(j)] += r[b * width + j];
  s.average = 0.0;
  for (Index j = 0; j < width; ++j) {
    s.mean[std::size_t(j)] /= double(n);
    s.average += s.mean[std::size_t(j)] / double(width);
  }
  if (with_sd && n > 1) {
    for (Index b = 0; b < n; ++b)
      for (Index j = 0; j < width; ++j) {
        const double dev = r[b * width + j] - s.mean[std::size_t(j)];
        s.sd[std::size_t(j)] += dev * dev;
      }
    for (double& v : s.sd) v = std::sqrt(v / double(n - 1));
  }
  return s;
}

void group_weights(const Estimator& est, const RewardSpec& reward, const double* r_group, int N, int* channel,
                   double* a) {
  const int G = est.group_size;
  if (est.kind == Estimator::kSupervised || reward.kind == RewardSpec::kNone) {
    std::fill(a, a + Index(G) * N, 1.0);
    std::fill(channel, channel + G, 0);
    return;
  }
  std::fill(channel, channel + G, 0);
  if (reward.kind == RewardSpec::kOutcome) {
    if (est.kind == Estimator::kReinforce || est.kind == Estimator::kBatchNorm) {  // weight 1 in its value's channel
      std::fill(a, a + Index(G) * N, 1.0);
      for (int g = 0; g < G; ++g) channel[g] = r_group[g] == reward.pos ? 0 : 1;
      return;
    }
    column_advantages(est, reward, r_group, 1, G, a);  // A_g into a[g]; then to all N tokens of
    for (int g = G - 1; g >= 0; --g) {                  // response g (last first: a[g] is read before
      const double A = a[g];                            // the rows below overwrite it)
      std::fill(a + Index(g) * N, a + Index(g + 1) * N, A);
    }
    return;
  }
  if (est.kind == Estimator::kReinforce) {  // A = r (the local plan has no baseline)
    std::copy(r_group, r_group + Index(G) * N, a);
    return;
  }
  for (int i = 0; i < N; ++i) column_advantages(est, reward, r_group + i, N, G, a + i);
}

void channel_coefficients(const Estimator& est, const RewardSpec& reward, const RewardStats& stats, double* coef) {
  coef[0] = 1.0;
  if (est.kind == Estimator::kSupervised || reward.kind != RewardSpec::kOutcome) return;
  if (est.kind == Estimator::kReinforce) {
    const double baseline = est.baseline ? stats.mean[0] : 0.0;
    coef[0] = reward.pos - baseline;
    coef[1] = reward.neg - baseline;
  } else if (est.kind == Estimator::kBatchNorm) {
    const double div = stats.sd[0] + est.eps;  // 0 only when every reward is equal: then A = 0
    coef[0] = div > 0.0 ? (reward.pos - stats.mean[0]) / div : 0.0;
    coef[1] = div > 0.0 ? (reward.neg - stats.mean[0]) / div : 0.0;
  } else if (est.kind == Estimator::kGRPO && est.scale == Estimator::kScaleBatch) {
    const double div = stats.sd[0] + est.eps;  // 0 only when every reward, so every advantage, is equal
    coef[0] = div > 0.0 ? 1.0 / div : 0.0;
  }
}

void advantages(const Estimator& est, const RewardSpec& reward, const double* r, Index n, int N,
                const RewardStats& stats, double* adv) {
  if (est.kind == Estimator::kSupervised || reward.kind == RewardSpec::kNone) {
    std::fill(adv, adv + n * N, 1.0);
    return;
  }
  const bool process = reward.kind == RewardSpec::kProcess;
  const Index width = process ? N : 1;
  const int G = est.group_size;
  // The group-local advantages, one per reward: in place in adv for the PRM (one reward per token).
  std::vector<double> col(process ? 0 : std::size_t(n));
  double* A = process ? adv : col.data();
  if (est.kind == Estimator::kReinforce || est.kind == Estimator::kBatchNorm) {
    std::copy(r, r + n * width, A);  // A = r; the batch's baseline or statistics below
  } else {
    for (Index b = 0; b < n; b += G)
      for (Index j = 0; j < width; ++j) column_advantages(est, reward, r + b * width + j, width, G, A + b * width + j);
  }
  // The batch-level parts, per column j of the rewards.
  auto apply = [&](auto&& f) {
    for (Index b = 0; b < n; ++b)
      for (int i = 0; i < N; ++i) {
        const std::size_t j = std::size_t(process ? i : 0);
        adv[b * N + i] = f(A[b * width + Index(j)], j);
      }
  };
  if (est.kind == Estimator::kReinforce && est.baseline) {
    apply([&](double a, std::size_t j) { return a - stats.mean[j]; });
  } else if (est.kind == Estimator::kBatchNorm) {
    apply([&](double a, std::size_t j) {
      const double div = stats.sd[j] + est.eps;
      return div > 0.0 ? (a - stats.mean[j]) / div : 0.0;
    });
  } else if (est.kind == Estimator::kGRPO && est.scale == Estimator::kScaleBatch) {
    apply([&](double a, std::size_t j) {
      const double div = stats.sd[j] + est.eps;
      return div > 0.0 ? a / div : 0.0;
    });
  } else if (!process) {
    apply([](double a, std::size_t) { return a; });
  }
}

bool group_all_equal(const double* r_group, int G, Index width) {
  for (int g = 1; g < G; ++g)
    for (Index j = 0; j < width; ++j)
      if (r_group[g * width + j] != r_group[j]) return false;
  return true;
}

}  // namespace lpgx
