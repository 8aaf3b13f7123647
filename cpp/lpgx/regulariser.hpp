// The terms every estimator can add to the loss at each visited prefix s (theory §10):
//
//   β·KL(π(·|s) ‖ π_ref(·|s))   exactly (its gradient w.r.t. the logits is π ⊙ (log π − log π_ref − KL)),
//                               or sampled at the drawn token y with ρ = π_ref(y|s)/π(y|s):
//                               k1 = −log ρ, k2 = ½(log ρ)², k3 = ρ − 1 − log ρ (gradient through π);
//   −c·H(π(·|s))                an entropy bonus (∂H/∂logits = −π ⊙ (log π + H)).
//
// The step ascends Σ A ∇log π − ∇(terms): a sampled estimate contributes a weight on ∇log π(y),
// the exact KL and the entropy a dense vector on the logits of every visited prefix.
#pragma once
#include "estimator.hpp"
#include "model.hpp"

namespace lpgx {

class Regulariser {
 public:
  Regulariser(const Estimator& est, const Policy* ref);
  bool active() const { return beta_ > 0.0 || entropy_ > 0.0; }
  bool sampled() const { return beta_ > 0.0 && kind_ != Estimator::kKLExact; }
  bool dense() const { return entropy_ > 0.0 || (beta_ > 0.0 && kind_ == Estimator::kKLExact); }
  // Prepares the reference's state for a context.
  void begin(const double* x, SeqState& ref_st) const {
    if (beta_ > 0.0) ref_->begin(x, ref_st);
  }
  // The sampled KL estimate's weight on ∇log π(y) at prefix (i, prev) with current distribution
  // cur (0 without one); false when a reference logit is not finite.
  bool token_weight(const NextToken& cur, int y, int i, int prev, SeqState& ref_st, double& w) const;
  // Adds count × ∂(−terms)/∂logits at prefix (i, prev) to g (k values): the exact KL and the
  // entropy bonus; false when a reference logit is not finite.
  bool add_dense(const NextToken& cur, int i, int prev, double count, SeqState& ref_st, double* g) const;
  const Policy* reference() const { return ref_; }

 private:
  double beta_, entropy_;
  int kind_;
  const Policy* ref_;
};

// Exact per-prefix entropy H(π) and KL(π ‖ π_ref) of two next-token distributions.
void entropy_and_kl(const NextToken& cur, const NextToken& ref, double& entropy, double& kl);

}  // namespace lpgx
