// Behaviour policies of SPEC §6.3: where the responses a PG step learns from come from.
#pragma once
#include <cstdint>

#include "model.hpp"

namespace lpgx {

struct Behavior {
  enum Kind : int {
    kOnPolicy = 0,        // the current policy
    kFrozen = 1,          // a fixed model q0
    kUniform = 2,         // uniform tokens
    kEpsMixture = 3,      // per token: uniform with prob eps, else the current policy
    kBaseUniformSeq = 4,  // per sequence: uniform with prob eps, else q0   (eps = ½: ½q0 + ½U)
    kBaseUniformToken = 5,// per token: uniform with prob eps, else q0(·|prefix)
    kBestOfM = 6,         // per token, while the prefix is correct: up to m draws from the
                          // current policy, keep the first the PRM accepts (1 query each)
    kTeacherForcing = 7,  // y = y*
  };
  Kind kind = kOnPolicy;
  double eps = 0.5;
  int m = 1;
};

// Responses y (B×N) for contexts x; stream b of `key` for sequence b. `base` is q0 (kinds
// kFrozen, kBaseUniform*). queries[b] receives the PRM queries spent while sampling
// (best-of-m only; zero otherwise).
void sample_behavior(const Behavior& beh, const Policy& current, const Policy* base, const double* x,
                     const std::int32_t* ystar, Index B, std::uint64_t key, std::int32_t* y,
                     std::int64_t* queries, int n_threads);

}  // namespace lpgx
