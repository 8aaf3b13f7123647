#include "regulariser.hpp"

#include <cmath>

namespace lpgx {

Regulariser::Regulariser(const Estimator& est, const Policy* ref)
    : beta_(est.kl), entropy_(est.entropy), kind_(est.kl_estimator), ref_(ref) {}

bool Regulariser::token_weight(const NextToken& cur, int y, int i, int prev, SeqState& ref_st, double& w) const {
  w = 0.0;
  if (!sampled()) return true;
  NextToken ref;
  if (!ref_->next(ref_st, i, prev, ref)) return false;
  const double log_rho = ref.norm.log_prob(ref.logits[y]) - cur.norm.log_prob(cur.logits[y]);
  switch (kind_) {  // minus the gradient of β·k w.r.t. log π(y)
    case Estimator::kK1: w = -beta_; break;
    case Estimator::kK2: w = beta_ * log_rho; break;
    case Estimator::kK3: w = -beta_ * (1.0 - std::exp(log_rho)); break;
    default: break;
  }
  return true;
}

bool Regulariser::add_dense(const NextToken& cur, int i, int prev, double count, SeqState& ref_st, double* g) const {
  if (!dense()) return true;
  const int k = cur.k;
  const double log_z = std::log(cur.norm.z);
  const bool kl = beta_ > 0.0 && kind_ == Estimator::kKLExact;
  NextToken ref;
  double ref_log_z = 0.0;
  if (kl) {
    if (!ref_->next(ref_st, i, prev, ref)) return false;
    ref_log_z = std::log(ref.norm.z);
  }
  // H = −Σ π log π and KL = Σ π (log π − log π_ref), then the two logit gradients
  double H = 0.0, KL = 0.0;
  for (int v = 0; v < k; ++v) {
    const double p = cur.e[v] / cur.norm.z;
    const double lp = (cur.logits[v] - cur.norm.max) - log_z;
    H -= p * lp;
    if (kl) KL += p * (lp - ((ref.logits[v] - ref.norm.max) - ref_log_z));
  }
  for (int v = 0; v < k; ++v) {
    const double p = cur.e[v] / cur.norm.z;
    const double lp = (cur.logits[v] - cur.norm.max) - log_z;
    double d = -entropy_ * p * (lp + H);  // −c ∂(−H)/∂l
    if (kl) d += -beta_ * p * (lp - ((ref.logits[v] - ref.norm.max) - ref_log_z) - KL);
    g[v] += count * d;
  }
  return true;
}

void entropy_and_kl(const NextToken& cur, const NextToken& ref, double& entropy, double& kl) {
  const double log_z = std::log(cur.norm.z), ref_log_z = std::log(ref.norm.z);
  entropy = 0.0;
  kl = 0.0;
  for (int v = 0; v < cur.k; ++v) {
    const double p = cur.e[v] / cur.norm.z;
    const double lp = (cur.logits[v] - cur.norm.max) - log_z;
    entropy -= p * lp;
    kl += p * (lp - ((ref.logits[v] - ref.norm.max) - ref_log_z));
  }
}

}  // namespace lpgx
