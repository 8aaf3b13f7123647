// The paper's query-efficient algorithms (theory §6.4): one context per step, plain REINFORCE
// updates with the adaptive step w ← w + G/(a + b‖G‖²), every verdict asked of the reward oracle.
//
//   kSGD             supervised: A_i = 1 on the labelled (x, y*) (no reward queries)
//   kPGOutcome       y ~ (1−λ)q0 + λ·Unif(Y^N), one ORM query; update on success
//   kPGOutcomeMulti  Algorithm 1: y ~ p_w (1 query); on failure up to m draws from the
//                    mixture, stopping at the first success (1 query each)
//   kPGProcess       Algorithm 2: y ~ p_w (1 PRM query reveals the first error); from there,
//                    per position up to m tokens from (1−λ)q0(·|prefix) + λ·Unif(Y) until the
//                    PRM accepts one (1 query each); update on the longest accepted prefix
//                    (A_i = 1 on it, 0 after)
//   kOnline          online protocol: behaviour λ·Unif + (1−λ)·p_w, one ORM query, update on
//                    success; counts Σ_t (1 − p_{w_t}(y*_t|x_t)) and the rounds whose own
//                    sample y' ~ p_{w_t} is wrong
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "kinds.hpp"
#include "optim.hpp"
#include "oracle.hpp"
#include "task.hpp"
#include "train.hpp"

namespace lpgx {

struct AlgoConfig {
  enum Kind : int { kSGD = 0, kPGOutcome = 1, kPGOutcomeMulti = 2, kPGProcess = 3, kOnline = 4 };
  static constexpr KindNames<5> kNames = {"sgd", "pg_outcome", "pg_outcome_multi", "pg_process", "online"};
  Kind kind = kPGOutcomeMulti;
  Index steps = 0;
  std::uint64_t seed = 0;
  int n_threads = 1;       // for evaluations only: the steps themselves are sequential
  Optimizer optimizer;     // adaptive by default; SGD for the constant-step comparison
  int m = 1;               // exploration budget per step (or per position for kPGProcess)
  double mix = 0.5;        // weight of the uniform part of the exploration mixture
  bool resample = false;   // kPGProcess: after an accepted token, resample the rest on-policy
  Index eval_every = 0;    // evaluate the eval contexts every this many steps (0: never);
                           // also after the last step
  double target_log_lik = 1.0;  // stop once min eval log-likelihood ≥ this (> 0: never)
  bool random_iterate = false;  // keep a uniformly random iterate of those the run visits
  RewardSpec reward;            // the oracle's correct set and noise (its kind: the algorithm's)
};

constexpr auto fields_of(const AlgoConfig*) {
  return std::make_tuple(field("kind", &AlgoConfig::kind), field("steps", &AlgoConfig::steps),
                         field("seed", &AlgoConfig::seed), field("n_threads", &AlgoConfig::n_threads),
                         field("optimizer", &AlgoConfig::optimizer), field("m", &AlgoConfig::m),
                         field("mix", &AlgoConfig::mix), field("resample", &AlgoConfig::resample),
                         field("eval_every", &AlgoConfig::eval_every),
                         field("target_log_lik", &AlgoConfig::target_log_lik),
                         field("random_iterate", &AlgoConfig::random_iterate), field("reward", &AlgoConfig::reward));
}

// Whether an algorithm explores with a base model q0 (which the caller must supply).
constexpr bool needs_base(AlgoConfig::Kind kind) {
  return kind == AlgoConfig::kPGOutcome || kind == AlgoConfig::kPGOutcomeMulti || kind == AlgoConfig::kPGProcess;
}
// The reward an algorithm asks for.
constexpr RewardSpec::Kind reward_kind(AlgoConfig::Kind kind) {
  return kind == AlgoConfig::kSGD ? RewardSpec::kNone
         : kind == AlgoConfig::kPGProcess ? RewardSpec::kProcess : RewardSpec::kOutcome;
}

// Records grow with the steps actually run (a run may stop early at its target).
struct AlgoRecords {
  std::vector<Index> eval_steps;          // steps 0, every, 2·every, …, last
  std::vector<double> eval_log_lik;       // n_eval per evaluation
  std::vector<std::int64_t> queries;      // per step: cumulative reward queries
  std::vector<std::uint8_t> success;      // per step: a response was accepted
  std::vector<double> expected_mistakes;  // per step (kOnline): cumulative Σ (1 − p_w(y*|x))
  std::vector<std::int64_t> sample_mistakes;  // per step (kOnline): cumulative wrong own samples
  Index steps_done = 0;
  Index target_step = -1;  // first step whose evaluation met the target
  Index iterate = -1;      // with random_iterate: the step whose weights w_iterate holds
};

struct AlgoState {
  double* w = nullptr;
  double* w_iterate = nullptr;   // receives the random iterate
  const Policy* base = nullptr;  // q0 of the exploration mixture
  EvalSet eval;
};

void run_algorithm(const Spec& spec, const Task& task, const AlgoConfig& cfg, const RewardOracle& oracle,
                   AlgoState& st, AlgoRecords& rec, const StepHook& hook);

}  // namespace lpgx
