// The authors' input distributions (theory §2), one random stream per sample.
#pragma once
#include <cstdint>

#include "parallel.hpp"

namespace lpgx {

enum class InputKind : int { kRademacher = 0, kMixture = 1 };

struct InputDist {
  InputKind kind = InputKind::kRademacher;
  int d = 0;
  int num_mix = 1;     // M: means m_j = e_{j mod d}
  double sigma = 0.0;  // noise scale; noise norm capped at sigma
};

// x_b for b in [0, n): row-major n×d. Mixture component of each sample into comp (nullable).
void draw_inputs(const InputDist& dist, Index n, std::uint64_t key, std::uint64_t stream0,
                 double* x, std::int32_t* comp, int n_threads);

}  // namespace lpgx
