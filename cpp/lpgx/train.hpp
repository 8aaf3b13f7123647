// The mini-batch training loop of theory §6.1–§6.2, entirely in C++: per step, contexts from the
// task, then one PGStep (behaviour → oracle → estimator → gradient → optimizer), then records.
// Supervised pre-training is the same loop with teacher forcing and the supervised estimator.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "records.hpp"
#include "step.hpp"
#include "task.hpp"

namespace lpgx {

// Contexts with their correct responses, measured every so often (test error, tracked
// likelihoods).
struct EvalSet {
  const double* x = nullptr;
  const std::int32_t* y = nullptr;
  Index n = 0;
};

// What a run records; row r of a periodic record belongs to the r-th recorded step
// (records.hpp). Sized by the caller for cfg.steps.
struct TrainRecords {
  std::vector<double> test_error;     // rows: 1 − mean q(y*|x) on the test contexts
  std::vector<double> test_entropy;   // rows: mean per-token entropy along sampled responses
  std::vector<double> test_kl;        // rows: mean per-token KL(π ‖ π_ref) along sampled responses
  std::vector<double> test_token_lq;  // rows: log token-level LQ(lq_eps) of y*
  std::vector<double> track_log_lik;  // rows × n_track
  std::vector<double> mean_reward;    // steps
  std::vector<double> success;        // steps: fraction of responses equal to y*
  std::vector<double> all_equal;      // steps: fraction of groups with all-equal rewards
  std::vector<double> clipped;        // steps: fraction of clipped ratios in the reuse epochs
  std::vector<std::int64_t> queries;  // steps: cumulative reward queries
  Index steps_done = 0;               // updated after every completed step
};

// Called after each completed step with the number of steps done; false stops the loop.
using StepHook = std::function<bool(Index steps_done)>;

struct TrainState {
  double* w = nullptr;
  double* opt_state = nullptr;
  const Policy* base = nullptr;  // q0 of the behaviours that need one
  const Policy* ref = nullptr;   // the reference of the KL term and of the KL diagnostic
  EvalSet test, track;
};

// Runs cfg.steps steps; rec.steps_done follows, also when an exception escapes (a step that
// throws leaves w and the optimizer's state as they were).
void train(const Spec& spec, const Task& task, const TrainConfig& cfg, const RewardOracle& oracle, TrainState& st,
           TrainRecords& rec, const StepHook& hook);

}  // namespace lpgx
