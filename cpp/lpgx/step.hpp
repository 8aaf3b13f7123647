// One policy-gradient step (theory §6.2, §10), the pipeline every training step runs:
//
//   behaviour (who samples) → reward oracle (judges, counts queries) → advantage estimator
//   → regulariser terms → gradient accumulation → optimizer (→ reuse epochs).
//
// Work is split into fixed chunks of contexts (results never depend on the thread count). When
// the behaviour samples the current policy and the estimator's advantages are local
// (estimator.hpp), each response's gradient is accumulated in the pass that drew it, while its
// memoised distributions are at hand, so every distribution is computed once. Otherwise a
// second pass accumulates once every advantage is known (off-policy, the current policy's
// distributions cost the same either way). Both make the same update up to rounding. With
// epochs μ > 1 the batch is reused μ − 1 more times with PPO's clipped importance ratio against
// the policy that sampled it, at no query cost.
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

struct StepStats {
  double mean_reward = 0.0;
  double all_equal = 0.0;  // fraction of groups whose G reward vectors were all equal (NaN: G = 1)
  double clipped = 0.0;    // fraction of the reuse epochs' weighted tokens that were clipped (NaN: none)
};

class PGStep {
 public:
  // B = cfg.batch contexts per step. Buffers are kept from one step to the next (a batch's
  // accumulators are megabytes: allocating them per step costs page faults every step).
  PGStep(const Spec& spec, const TrainConfig& cfg);
  // One update of w and the optimizer's state (μ with reuse epochs; all or none of them).
  // Responses go to y ((B·G)×N, context-major); the oracle judges them and counts the queries;
  // `base` is q0 for the behaviours that need one, `ref` the reference of the KL term.
  StepStats run(double* w, double* opt_state, const Policy* base, const Policy* ref, const RewardOracle& oracle,
                const StepInputs& in, std::int32_t* y);
  // Responses per step, B·G.
  Index responses() const { return n_; }

 private:
  struct Scratch;
  Scratch scratch() const;
  void judge_external(const RewardOracle& oracle, const double* x, const std::int32_t* y);
  void sample_and_judge(const Policy& pol, const BehaviorSampler& sampler, const Regulariser& reg,
                        const RewardOracle& oracle, const StepInputs& in, std::int32_t* y);
  void accumulate(const Policy& pol, const Regulariser& reg, const double* x, const std::int32_t* y,
                  const double* weights, bool record_log_probs);
  double reuse(const Policy& pol, const Regulariser& reg, const double* x, const std::int32_t* y);
  void update(double* w, double* opt_state, const std::vector<double>& coef);

  const Spec& spec_;
  const TrainConfig& cfg_;
  ChannelPlan plan_;
  bool one_pass_;
  int G_;
  Index n_, width_, adv_channels_, channels_;
  Chunks chunks_;
  std::vector<GradAccum> acc_;  // chunk-major, channels_ per chunk (the last: the terms)
  std::vector<double> r_, adv_, logp_old_, reuse_w_, x_rep_;
  std::vector<std::uint8_t> equal_;  // per group
  Eigen::VectorXd grad_, part_;
};

}  // namespace lpgx
