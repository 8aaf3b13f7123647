// The mini-batch training loop of SPEC §6.1–§6.2, entirely in C++:
// contexts → behaviour responses → rewards → advantages → gradient → optimizer → w.
//
// Supervised pre-training is the same loop with teacher forcing and A = 1.
#pragma once
#include <cstdint>
#include <functional>

#include "behavior.hpp"
#include "optim.hpp"
#include "records.hpp"
#include "rewards.hpp"
#include "task.hpp"

namespace lpgx {

struct TrainConfig {
  Index batch = 1;
  Index steps = 0;       // total steps of the run (records are laid out for these)
  std::uint64_t seed = 0;
  int n_threads = 1;
  RewardSpec reward;     // kind kNone: supervised (A = 1 on y*)
  bool baseline = false; // subtract the batch mean (per position for the PRM)
  Behavior behavior;
  Optimizer optimizer;
  Index track_every = 0; // 0: never
  Index test_every = 0;
  bool fuse = true;      // use fused_pg_step where it applies (false: tests compare the two)
};

// Caller-owned state and records. Records at step s (updates done) are taken when
// s % every == 0 or s == steps; row r of a record array belongs to the r-th such s.
struct TrainState {
  double* w = nullptr;
  double* opt_state = nullptr;
  const double* track_x = nullptr;
  const std::int32_t* track_y = nullptr;
  Index n_track = 0;
  double* track_log_lik = nullptr;  // rows × n_track
  const double* test_x = nullptr;
  const std::int32_t* test_y = nullptr;
  Index n_test = 0;
  double* test_error = nullptr;     // rows
  double* mean_reward = nullptr;    // steps
  double* success = nullptr;        // steps: fraction of responses equal to y*
  std::int64_t* queries = nullptr;  // steps: cumulative reward queries
  Index steps_done = 0;             // updated after every completed step
};

// Called after each completed step with the number of steps done; false stops the loop.
using StepHook = std::function<bool(Index steps_done)>;

// Runs steps [s0, cfg.steps); state.steps_done follows, also when an exception escapes.
// `base` is the behaviour's q0 where it needs one; `user_reward` evaluates external rewards.
void train(const Spec& spec, const Task& task, const Policy* base, const TrainConfig& cfg, TrainState& state,
            Index s0, const RewardCallback& user_reward, const StepHook& hook);

// One update from given responses: rewards (built-in against y*, or user_reward),
// advantages, gradient, optimizer. Adds the reward queries to *queries (explore_queries
// already spent by the behaviour are the caller's). Returns the mean reward.
double learn_from(const Spec& spec, const TrainConfig& cfg, double* w, double* opt_state, const double* x,
                  const std::int32_t* ystar, const std::int32_t* y, Index B, std::uint64_t noise_key,
                  const RewardCallback& user_reward, std::int64_t* queries);


}  // namespace lpgx
