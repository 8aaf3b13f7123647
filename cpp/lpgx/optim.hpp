// Optimizers of SPEC §6.1 and §6.4 acting on the ascent direction
// G = ∇_w Σ_{b,i} A_bi log p_w(y_bi | x_b, y_b,<i) of one step.
#pragma once
#include <cmath>

#include "parallel.hpp"

namespace lpgx {

struct Optimizer {
  enum Kind : int { kAdagrad = 0, kSGD = 1, kAdaptive = 2 };
  Kind kind = kAdagrad;
  double lr = 0.1;
  double eps = 1e-10;             // Adagrad: PyTorch's default
  double a = 4.0, b = 2.0;        // adaptive step w += G / (a + b‖G‖²)
  bool mean_loss = true;          // Adagrad/SGD: loss = −mean over the B·N tokens

  // One update. `acc` is the Adagrad accumulator (n entries; unused otherwise).
  // `count` is B·N, the number of terms the loss averages over.
  void step(double* w, const double* G, double* acc, Index n, double count) const {
    if (kind == kAdaptive) {
      double g2 = 0.0;
      for (Index j = 0; j < n; ++j) g2 += G[j] * G[j];
      const double scale = 1.0 / (a + b * g2);
      for (Index j = 0; j < n; ++j) w[j] += scale * G[j];
      return;
    }
    const double s = mean_loss ? 1.0 / count : 1.0;  // ∇loss = −s·G
    if (kind == kSGD) {
      for (Index j = 0; j < n; ++j) w[j] += lr * s * G[j];
      return;
    }
    for (Index j = 0; j < n; ++j) {  // PyTorch Adagrad: acc += g²; w −= lr·g/(√acc + eps)
      const double g = -s * G[j];
      acc[j] += g * g;
      w[j] -= lr * g / (std::sqrt(acc[j]) + eps);
    }
  }
};

}  // namespace lpgx
