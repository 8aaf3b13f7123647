// Reward oracles of SPEC §4 and their query accounting.
//
// Outcome (ORM): r_b = pos if y_b = y*_b else neg; one query per sequence.
// Process (PRM): r_bi = pos if y_b,1..i = y*_b,1..i else neg; evaluating a whole sequence
// reveals its first error, one query per sequence. flip_prob flips each revealed
// indicator independently (the paper's open problem: noisy verifiers).
#pragma once
#include <cstdint>
#include <functional>

#include "parallel.hpp"

namespace lpgx {

struct RewardSpec {
  enum Kind : int { kNone = 0, kOutcome = 1, kProcess = 2 };
  Kind kind = kOutcome;
  double pos = 1.0, neg = -1.0;
  double flip_prob = 0.0;
  bool external = false;  // computed by a user callable instead of against y*
};

// A user's batched verifier: fills r (B for outcome, B×N for process) from x and y.
using RewardCallback = std::function<void(const double* x, const std::int32_t* y, Index B, double* r)>;

// Position of the first token where y differs from y* (N when they agree).
inline int first_error(const std::int32_t* y, const std::int32_t* ystar, int N) {
  int i = 0;
  while (i < N && y[i] == ystar[i]) ++i;
  return i;
}

// The built-in reward of sequence b (y and y* of length N) into r (1 value for outcome,
// N for process); noise uses stream b of `key`. Returns whether y = y*.
bool reward_of(const RewardSpec& spec, const std::int32_t* y, const std::int32_t* ystar, int N,
               std::uint64_t key, Index b, double* r);

// Built-in rewards for a batch against y*: r is B (outcome) or B×N (process); `correct`
// (B) receives whether each sequence equals y*. Noise uses stream b of `key`.
void evaluate_reward(const RewardSpec& spec, const std::int32_t* y, const std::int32_t* ystar, Index B,
                     int N, std::uint64_t key, double* r, std::uint8_t* correct, int n_threads);

// Batch means of the rewards r (B×width): one per position for the PRM (width N), one for
// the ORM (width 1), into mean; returns their average (the step's mean reward).
double batch_means(const double* r, Index B, Index width, double* mean);

}  // namespace lpgx
