// Advantage estimators (theory §6.2, §10): how a step's rewards become the per-token weights A
// of the ascent direction Σ A ∇log p.
//
// A step draws G responses per context (a group). Every estimator is a formula on one column
// of a group's rewards: the G rewards of whole responses (outcome rewards), or the G rewards
// of the prefixes ending at one position (process rewards: the estimator applies per position).
//
// The step assembles Σ A ∇log p from channels: each response adds its gradient, with token
// weights known once its group is judged, to one channel; after the batch every channel gets a
// coefficient from batch statistics. An estimator whose advantages factor this way is "local":
// the step then accumulates each response in the pass that drew it. Otherwise the step computes
// every advantage after the batch and accumulates in a second pass.
#pragma once
#include <cstdint>
#include <vector>

#include "kinds.hpp"
#include "oracle.hpp"

namespace lpgx {

struct Estimator {
  enum Kind : int {
    kSupervised = 0,  // A = 1 on every token (pre-training with teacher forcing)
    kReinforce = 1,   // A = r, or r − batch mean (baseline)
    kRLOO = 2,        // A_g = r_g − mean of the other G − 1
    kGRPO = 3,        // A_g = (r_g − group mean) / (std + eps), std of the group or the batch, or none
    kPassAtK = 4,     // the unbiased pass@k gradient estimator; with baseline, minus the others' pass@k
    kBatchNorm = 5,   // A = (r − batch mean) / (batch std + eps), as REINFORCE++ normalises
  };
  static constexpr KindNames<6> kNames = {"supervised", "reinforce", "rloo", "grpo", "pass_at_k", "batch_norm"};
  enum Scale : int { kScaleGroup = 0, kScaleBatch = 1, kScaleNone = 2 };
  static constexpr KindNames<3> kScaleNames = {"group", "batch", "none"};
  enum KL : int { kKLExact = 0, kK1 = 1, kK2 = 2, kK3 = 3 };
  static constexpr KindNames<4> kKLNames = {"exact", "k1", "k2", "k3"};

  Kind kind = kReinforce;
  bool baseline = false;   // Reinforce: subtract the batch mean; PassAtK: the leave-one-out baseline
  int group_size = 1;      // responses per context
  int scale = kScaleGroup; // GRPO's division
  double eps = 1e-4;       // GRPO, BatchNorm: added to the standard deviation
  int k = 1;               // PassAtK
  // Terms every estimator can add to the loss, per visited prefix (theory §10):
  double kl = 0.0;         // β of the KL penalty towards the reference policy
  int kl_estimator = kKLExact;
  double entropy = 0.0;    // c of the entropy bonus
  double clip = 0.0;       // PPO's ε (0: no clipping)
  int epochs = 1;          // μ: updates per sampled batch (reuses cost no queries)

  bool has_terms() const { return kl > 0.0 || entropy > 0.0; }
  // Whether the advantages divide by the batch's standard deviation of the rewards.
  bool batch_stats() const { return kind == kBatchNorm || (kind == kGRPO && scale == kScaleBatch); }
};

constexpr auto fields_of(const Estimator*) {
  return std::make_tuple(field("kind", &Estimator::kind), field("baseline", &Estimator::baseline),
                         field("group_size", &Estimator::group_size), field("scale", &Estimator::scale),
                         field("eps", &Estimator::eps), field("k", &Estimator::k), field("kl", &Estimator::kl),
                         field("kl_estimator", &Estimator::kl_estimator),
                         field("entropy", &Estimator::entropy), field("clip", &Estimator::clip),
                         field("epochs", &Estimator::epochs));
}

// The channel layout of an estimator for a reward (a last channel for the terms is the step's).
struct ChannelPlan {
  int channels = 1;
  bool local = true;
};
ChannelPlan channel_plan(const Estimator& est, const RewardSpec& reward);

// Batch statistics of the rewards r (n responses × width): per column (per position for the
// PRM) the mean and the standard deviation (n − 1 in the denominator), and the step's mean
// reward (the average of the column means).
struct RewardStats {
  std::vector<double> mean, sd;
  double average = 1.0;
};
// with_sd: the standard deviations too (BatchNorm, GRPO's batch scale); else sd stays zero.
RewardStats reward_stats(const RewardSpec& reward, const double* r, Index n, Index width, bool with_sd);

// Local plans: the channel of each response of a group (rewards r_group: G × width) into
// channel (G) and its token weights into a (G × N).
void group_weights(const Estimator& est, const RewardSpec& reward, const double* r_group, int N, int* channel,
                   double* a);
// Local plans: the coefficient of each channel after the batch.
void channel_coefficients(const Estimator& est, const RewardSpec& reward, const RewardStats& stats, double* coef);
// Every plan: the advantages of all n responses (n×N, groups of group_size in order) after the batch.
void advantages(const Estimator& est, const RewardSpec& reward, const double* r, Index n, int N,
                const RewardStats& stats, double* adv);
// Whether a group's G reward vectors (G × width) are all equal: its queries bought no gradient
// for the group-relative estimators.
bool group_all_equal(const double* r_group, int G, Index width);

}  // namespace lpgx
