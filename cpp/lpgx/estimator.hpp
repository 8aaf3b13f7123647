// Advantage estimators (theory §6.2, §10): how a step's rewards become the per-token weights A
// of the ascent direction Σ A ∇log p.
//
// The step assembles Σ A ∇log p from channels: each response adds its gradient, with token
// weights known once its group is judged, to one channel; after the batch every channel gets a
// coefficient from batch statistics. An estimator whose advantages factor this way is "local":
// the step then accumulates each response while its distributions are at hand (one pass).
// Otherwise the step computes every advantage after the batch and accumulates in a second pass.
#pragma once
#include <cstdint>

#include "kinds.hpp"
#include "oracle.hpp"

namespace lpgx {

struct Estimator {
  enum Kind : int {
    kSupervised = 0,  // A = 1 on every token (pre-training with teacher forcing)
    kReinforce = 1,   // A = r, or r − batch mean (per position for process rewards)
  };
  static constexpr KindNames<2> kNames = {"supervised", "reinforce"};
  Kind kind = kReinforce;
  bool baseline = false;
  int group_size = 1;  // responses per context
};

constexpr auto fields_of(const Estimator*) {
  return std::make_tuple(field("kind", &Estimator::kind), field("baseline", &Estimator::baseline), field("group_size", &Estimator::group_size));
}

// The channel layout of an estimator for a reward.
struct ChannelPlan {
  int channels = 1;
  bool local = true;
};
ChannelPlan channel_plan(const Estimator& est, const RewardSpec& reward);

// Batch statistics of the rewards r (n responses × width): the mean per column (per position
// for the PRM) and their average, the step's mean reward.
struct RewardStats {
  std::vector<double> mean;
  double average = 1.0;
};
RewardStats reward_stats(const RewardSpec& reward, const double* r, Index n, Index width);

// Local plans: the channel of response g of a group (rewards r_group: G × width) and its token
// weights a (N).
int group_weights(const Estimator& est, const RewardSpec& reward, const double* r_group, int g, int N,
                  double* a);
// Local plans: the coefficient of each channel after the batch.
void channel_coefficients(const Estimator& est, const RewardSpec& reward, const RewardStats& stats,
                          double* coef);
// Every plan: the advantages of all n responses (n×N) after the batch.
void advantages(const Estimator& est, const RewardSpec& reward, const double* r, Index n, int N,
                const RewardStats& stats, double* adv);

}  // namespace lpgx
