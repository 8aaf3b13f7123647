// Optimizers of theory §6.1 and §6.4 acting on the ascent direction
// G = ∇_w Σ_{b,i} A_bi log p_w(y_bi | x_b, y_b,<i) of one step.
#pragma once
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "kinds.hpp"
#include "parallel.hpp"

namespace lpgx {

struct Optimizer {
  enum Kind : int { kAdagrad = 0, kSGD = 1, kAdaptive = 2 };
  static constexpr KindNames<3> kNames = {"adagrad", "sgd", "adaptive"};
  Kind kind = kAdagrad;
  double lr = 0.1;
  double eps = 1e-10;             // Adagrad: PyTorch's default
  double a = 4.0, b = 2.0;        // adaptive step w += G / (a + b‖G‖²)
  bool mean_loss = true;          // Adagrad/SGD: loss = −mean over the B·N tokens

  // One update. `acc` is the Adagrad accumulator (n entries; unused otherwise).
  // `count` is B·N, the number of terms the loss averages over. An update that would make
  // w (or the accumulator) non-finite throws and leaves both unchanged.
  void step(double* w, const double* G, double* acc, Index n, double count) const {
    std::vector<double> next(w, w + n), next_acc;
    if (kind == kAdaptive) {
      double g2 = 0.0;
      for (Index j = 0; j < n; ++j) g2 += G[j] * G[j];
      const double scale = 1.0 / (a + b * g2);
      for (Index j = 0; j < n; ++j) next[j] += scale * G[j];
    } else if (kind == kSGD) {
      const double s = mean_loss ? 1.0 / count : 1.0;  // ∇loss = −s·G
      for (Index j = 0; j < n; ++j) next[j] += lr * s * G[j];
    } else {  // PyTorch Adagrad: acc += g²; w −= lr·g/(√acc + eps)
      const double s = mean_loss ? 1.0 / count : 1.0;
      next_acc.assign(acc, acc + n);
      for (Index j = 0; j < n; ++j) {
        const double g = -s * G[j];
        next_acc[j] += g * g;
        next[j] -= lr * g / (std::sqrt(next_acc[j]) + eps);
      }
      if (!all_finite(next_acc))
        throw std::domain_error(
            "the Adagrad accumulator overflowed: the gradient's square is beyond float64 "
            "(scale the rewards' values down, or check the weights for huge entries)");
    }
    if (!all_finite(next))
      throw std::domain_error(
          "the optimizer step overflowed: w would become non-finite (reduce the step size or the rewards' scale)");
    std::copy(next.begin(), next.end(), w);
    if (!next_acc.empty()) std::copy(next_acc.begin(), next_acc.end(), acc);
  }

 private:
  static bool all_finite(const std::vector<double>& v) {
    for (double x : v)
      if (!std::isfinite(x)) return false;
    return true;
  }
};

constexpr auto fields_of(const Optimizer*) {
  return std::make_tuple(field("kind", &Optimizer::kind), field("lr", &Optimizer::lr),
                         field("eps", &Optimizer::eps), field("a", &Optimizer::a), field("b", &Optimizer::b),
                         field("mean_loss", &Optimizer::mean_loss));
}

}  // namespace lpgx
