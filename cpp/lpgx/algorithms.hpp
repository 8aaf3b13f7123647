// The paper's query-efficient algorithms (SPEC §6.4): one context per step, plain
// REINFORCE updates with the adaptive step w ← w + G/(a + b‖G‖²), exact query accounting.
//
//   kSGD             supervised: A_i = 1 on the labelled (x, y*) (no reward queries)
//   kPGOutcome       y ~ (1−λ)q0 + λ·Unif(Y^N), one ORM query; update on success
//   kPGOutcomeMulti  Algorithm 1: y ~ p_w (1 query); on failure up to m draws from the
//                    mixture, stopping at the first success (1 query each)
//   kPGProcess       Algorithm 2: y ~ p_w (1 PRM query reveals the first error); from
//                    there, per position up to m tokens from (1−λ)q0(·|prefix) + λ·Unif(Y)
//                    until the PRM accepts one (1 query each); update on the longest
//                    verified prefix (A_i = 1 on it, 0 after)
//   kOnline          online protocol: behaviour λ·Unif + (1−λ)·p_w, one ORM query, update
//                    on success; counts Σ_t (1 − p_{w_t}(y*_t|x_t)) and the rounds whose
//                    own sample y' ~ p_{w_t} is wrong
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "optim.hpp"
#include "task.hpp"

namespace lpgx {

struct AlgoConfig {
  enum Kind : int { kSGD = 0, kPGOutcome = 1, kPGOutcomeMulti = 2, kPGProcess = 3, kOnline = 4 };
  Kind kind = kPGOutcomeMulti;
  Index steps = 0;
  std::uint64_t seed = 0;
  int n_threads = 1;       // for evaluations only: the steps themselves are sequential
  Optimizer optimizer;     // adaptive by default; SGD for the constant-step comparison
  int m = 1;               // exploration budget per step (or per position for kPGProcess)
  double mix = 0.5;        // weight of the uniform part of the exploration mixture
  bool resample = false;   // kPGProcess: after a verified token, resample the rest on-policy
  Index eval_every = 0;    // evaluate the eval contexts every this many steps (0: never);
                           // also after the last step
  double target_log_lik = 1.0;  // stop once min eval log-likelihood ≥ this (> 0: never)
  Index random_iterate = -1;    // snapshot w after this many steps (−1: none)
};

// Records grow with the steps actually run (a run may stop early at its target).
struct AlgoState {
  double* w = nullptr;
  double* w_snapshot = nullptr;     // receives the random iterate
  const Policy* base = nullptr;     // q0 of the exploration mixture
  const double* eval_x = nullptr;
  const std::int32_t* eval_y = nullptr;
  Index n_eval = 0;
  std::vector<Index> eval_steps;          // steps 0, every, 2·every, …, last
  std::vector<double> eval_log_lik;       // n_eval per evaluation
  std::vector<std::int64_t> queries;      // per step: cumulative reward queries
  std::vector<std::uint8_t> success;      // per step: a correct response was found
  std::vector<double> expected_mistakes;  // per step (kOnline): cumulative Σ (1 − p_w(y*|x))
  std::vector<std::int64_t> sample_mistakes;  // per step (kOnline): cumulative wrong own samples
  Index steps_done = 0;
  Index target_step = -1;           // first step whose evaluation met the target
  // Called every kPollQueries queries inside a step (a step can take billions of draws
  // off the base model's support); may throw to abandon the step, w untouched.
  std::function<void()> poll;
};

constexpr std::int64_t kPollQueries = 1 << 16;

using AlgoHook = std::function<bool(Index steps_done)>;

void run_algorithm(const Spec& spec, const Task& task, const AlgoConfig& cfg, AlgoState& st,
                   const AlgoHook& hook);

}  // namespace lpgx
