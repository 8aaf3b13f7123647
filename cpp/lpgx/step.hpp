// One policy-gradient step (theory §6.2, §10), the pipeline every training step runs:
//
//   behaviour (who samples) → reward oracle (judges, counts queries) → advantage estimator
//   → gradient accumulation → optimizer.
//
// Work is split into fixed chunks of contexts (results never depend on the thread count).
// When the behaviour samples the current policy and the estimator's advantages are local
// (estimator.hpp), each response's gradient is accumulated in the pass that drew it, while its
// memoised distributions are at hand, so every distribution is computed once. Otherwise a
// second pass accumulates once every advantage is known (off-policy, the current policy's
// distributions cost the same either way). Both make the same update up to rounding.
#pragma once
#include <cstdint>
#include <vector>

#include "gradient.hpp"
#include "train_config.hpp"

namespace lpgx {

struct StepInputs {
  const double* x = nullptr;            // B×d contexts
  const std::int32_t* ystar = nullptr;  // B×N correct responses
  std::uint64_t sample_key = 0;         // response j draws from stream j
  std::uint64_t noise_key = 0;          // the oracle's noise for response j: stream j
  const std::int32_t* given = nullptr;  // (B·G)×N responses of the "given" behaviour
};

class PGStep {
 public:
  // B = cfg.batch contexts per step. Buffers are kept from one step to the next (a batch's
  // accumulators are megabytes: allocating them per step costs page faults every step).
  PGStep(const Spec& spec, const TrainConfig& cfg);
  // One update of w and the optimizer's state. Responses go to y ((B·G)×N, context-major);
  // the oracle judges them and counts the queries; `base` is q0 for the behaviours that need
  // one. Returns the step's mean reward.
  double run(double* w, double* opt_state, const Policy* base, const RewardOracle& oracle, const StepInputs& in,
             std::int32_t* y);
  // Responses per step, B·G.
  Index responses() const { return n_; }

 private:
  void judge_external(const RewardOracle& oracle, const double* x, const std::int32_t* y);
  const Spec& spec_;
  const TrainConfig& cfg_;
  ChannelPlan plan_;
  bool one_pass_;
  int G_;
  Index n_, width_, channels_;
  Chunks chunks_;
  std::vector<GradAccum> acc_;  // chunk-major, channels_ per chunk
  std::vector<double> r_, adv_, x_rep_;
  Eigen::VectorXd grad_, part_;
};

}  // namespace lpgx
