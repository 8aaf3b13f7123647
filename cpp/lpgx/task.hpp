// Where contexts and their correct responses come from: a generated input distribution
// with a teacher (y* = teacher's greedy decoding), or a finite list of contexts with
// probability masses and planted responses (theory §2, §8).
#pragma once
#include <cstdint>
#include <vector>

#include "inputs.hpp"
#include "model.hpp"

namespace lpgx {

struct Task {
  int d = 0, N = 0;
  InputDist inputs;                  // used when n_finite == 0
  const Policy* teacher = nullptr;   // y* = greedy(teacher, x) when ystar table is absent
  // Finite support: contexts (n×d), cumulative masses (n), correct responses (n×N).
  Index n_finite = 0;
  const double* finite_x = nullptr;
  std::vector<double> finite_cdf;
  const std::int32_t* finite_ystar = nullptr;
};

// B contexts (B×d), their correct responses (B×N) and, for finite tasks, their indices.
void draw_task(const Task& task, Index B, std::uint64_t key, double* x, std::int32_t* ystar,
               std::int32_t* index, int n_threads);

}  // namespace lpgx
