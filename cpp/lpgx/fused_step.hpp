// One on-policy PG step (SPEC §6.2) with sampling and the gradient in a single pass.
//
// The general step samples every response, evaluates the rewards, then revisits every token
// for Σ A·∇log p: every next-token distribution twice. Here a sequence's gradient is
// accumulated while its memoised distributions are at hand. Its advantage is not known yet
// (the baseline is a batch mean) but enters linearly: outcome-rewarded sequences with the
// same reward share one advantage, so they are summed per reward value and scaled once the
// batch is done; process rewards without a baseline are known token by token. Responses,
// rewards and queries are those of the general step; the update differs by rounding only.
#pragma once
#include <cstdint>

#include "train.hpp"

namespace lpgx {

// Whether fused_pg_step runs cfg's step: on-policy, a built-in outcome reward or a process
// reward without baseline, a memoising model.
bool fusable(const Spec& spec, const TrainConfig& cfg);

// The step, with its buffers kept from one step to the next (a batch's accumulators are
// megabytes: allocating them per step costs page faults every step).
class FusedPGStep {
 public:
  FusedPGStep(const Spec& spec, const TrainConfig& cfg);
  // Samples y (B×N, B = cfg.batch) on-policy from w (stream b of sample_key, as
  // sample_behavior), rewards against y* (stream b of noise_key, as evaluate_reward), and
  // one optimizer step on w. Adds the B reward queries to *queries; returns the mean reward.
  double run(double* w, double* opt_state, const double* x, const std::int32_t* ystar,
             std::uint64_t sample_key, std::uint64_t noise_key, std::int32_t* y, std::int64_t* queries);

 private:
  const Spec& spec_;
  const TrainConfig& cfg_;
  bool process_;
  Index width_, classes_;
  Chunks chunks_;
  std::vector<GradAccum> acc_;  // chunk-major, one per class
  std::vector<double> r_, mean_;
  Eigen::VectorXd G_, part_;
};

}  // namespace lpgx
