// Optimizers of theory §6.1 and §6.4 acting on the ascent direction
// G = ∇_w Σ_{b,i} A_bi log p_w(y_bi | x_b, y_b,<i) of one step.
#pragma once
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "kinds.hpp"
#include "model.hpp"
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

  // One update of w (internal layout, model.hpp). `acc` is the Adagrad accumulator (unused
  // otherwise). `count` is B·N, the number of terms the loss averages over. An update that would
  // make w (or the accumulator) non-finite throws and leaves both unchanged.
  void step(const Spec& spec, double* w, const double* G, double* acc, double count) const {
    const Index n = spec.num_params;
    std::vector<double> next(w, w + n), next_acc;
    if (kind == kAdaptive) {
      const double g2 = squared_norm_in_flat_order(spec, G);
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
  // ‖G‖², summed in the order of the flat layout (so results do not depend on how the engine
  // stores the prev-token block).
  static double squared_norm_in_flat_order(const Spec& spec, const double* G) {
    double g2 = 0.0;
    if (!spec.has(kPrevToken)) {
      for (Index j = 0; j < spec.num_params; ++j) g2 += G[j] * G[j];
      return g2;
    }
    const Index a = spec.off_prev, k = spec.k;
    for (Index j = 0; j < a; ++j) g2 += G[j] * G[j];
    for (Index c = 0; c < k; ++c)
      for (Index p = 0; p < k; ++p) g2 += G[a + p * k + c] * G[a + p * k + c];  // W2[c, p]
    for (Index j = a + k * k; j < spec.num_params; ++j) g2 += G[j] * G[j];
    return g2;
  }
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
