// What a training run is: the stages of its policy-gradient step and the run's size.
#pragma once
#include <cstdint>

#include "behavior.hpp"
#include "estimator.hpp"
#include "optim.hpp"
#include "oracle.hpp"

namespace lpgx {

struct TrainConfig {
  Index batch = 1;        // contexts per step (each gets estimator.group_size responses)
  Index steps = 0;        // total steps of the run (records are laid out for these)
  std::uint64_t seed = 0;
  int n_threads = 1;
  RewardSpec reward;      // kind kNone: supervised (A = 1 on y*)
  Estimator estimator;
  Behavior behavior;
  Optimizer optimizer;
  Index track_every = 0;  // 0: never
  Index test_every = 0;
  double lq_eps = 0.1;    // ε of the token-level LQ recorded on the test contexts
  // Accumulate each response's gradient while its distributions are at hand where the
  // estimator allows it (false forces the two-pass execution: the tests compare the two).
  bool one_pass = true;
};

constexpr auto fields_of(const TrainConfig*) {
  return std::make_tuple(field("batch", &TrainConfig::batch), field("steps", &TrainConfig::steps),
                         field("seed", &TrainConfig::seed), field("n_threads", &TrainConfig::n_threads),
                         field("reward", &TrainConfig::reward), field("estimator", &TrainConfig::estimator),
                         field("behavior", &TrainConfig::behavior),
                         field("optimizer", &TrainConfig::optimizer),
                         field("track_every", &TrainConfig::track_every),
                         field("test_every", &TrainConfig::test_every), field("lq_eps", &TrainConfig::lq_eps),
                         field("one_pass", &TrainConfig::one_pass));
}

}  // namespace lpgx
