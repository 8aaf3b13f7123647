// The linear autoregressive softmax policy of SPEC §1, computed block by block.
//
// logit(c | x, y_<i) = (xᵀW1)[c] + W2[c, y_{i-1}] + P[i, c] + Σ_j x_j C[j, i, c] + b[c]
//
// The context part is computed once per sequence; every other block is a lookup, so a
// token costs O(k) plus the softmax. φ is never materialised.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "parallel.hpp"

namespace lpgx {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum Block : unsigned {
  kContext = 1u,
  kPrevToken = 2u,
  kPosition = 4u,
  kContextPosition = 8u,
  kBias = 16u,
};

// Sizes and the offsets of the enabled blocks in the flat parameter vector
// (blocks concatenated in the order above, each row-major).
struct Spec {
  int k = 0, N = 0, d = 0;
  unsigned blocks = 0;
  Index off_context = -1, off_prev = -1, off_position = -1, off_ctxpos = -1, off_bias = -1;
  Index num_params = 0;

  Spec(int vocab, int seq_len, int dim, unsigned block_mask);
  bool has(Block b) const { return (blocks & b) != 0; }
  // ‖φ(x, y_<i, c)‖² at position i for a context with squared norm x2.
  double feature_norm2(double x2, int i) const;
};

// The normaliser of one position's logits: log p(c) = (l_c − max) − log z. Kept relative
// to the max so that a large common offset of the logits costs no precision.
struct LogNorm {
  double max = 0.0, z = 1.0;
  double log_prob(double logit) const { return (logit - max) - std::log(z); }
};

// Per-sequence scratch: an aligned copy of x, the context (+ bias) logits and, with the
// context_position block, the N×k table Σ_j x_j C[j, i, :]; plus logits/probability
// buffers for one position.
//
// Every buffer is Eigen-aligned and the weights are copied into aligned storage: Eigen's
// vectorised sums peel unaligned heads, so reading caller memory directly would make the
// last bits depend on where numpy happened to allocate an array.
struct SeqState {
  bool safe = false;  // every logit of this sequence is provably finite: per-token checks skipped
  Eigen::VectorXd x;
  Eigen::VectorXd base;
  Eigen::VectorXd ctxpos;  // N*k, row i at i*k
  Eigen::VectorXd logits, p;
  // Per position: l_y − max and z, turned into log-probs with one vectorised log at the end
  // of the sequence (a scalar log per token costs as much as the token's exps).
  Eigen::ArrayXd shifted, z, logp;
  explicit SeqState(int k) : logits(k), p(k) {}
  void begin_log_probs(int N) {
    shifted.resize(N);
    z.resize(N);
  }
  void record(int i, double logit, const LogNorm& norm);
  // Writes log p(y_i) = shifted_i − log z_i for every position to out (N values). The
  // arithmetic happens in aligned storage, so the bits never depend on where out lives.
  void write_log_probs(double* out) {
    logp = shifted - z.log();
    std::copy(logp.data(), logp.data() + logp.size(), out);
  }
};

// The weights prepared for fast per-token logits.
class Policy {
 public:
  Policy(const Spec& spec, const double* w);
  const Spec& spec() const { return spec_; }
  // Fills st for context x (length d).
  void begin(const double* x, SeqState& st) const;
  // logits of every token at position i (0-based) after token `prev` (-1 at i = 0).
  void logits(const SeqState& st, int i, int prev, double* out) const;

 private:
  Spec spec_;
  Eigen::VectorXd w_;  // aligned copy of the flat parameters
  RowMatrix prev_t_;   // W2ᵀ: row `prev` is the contiguous column W2[:, prev]
  // max |w| of the context-dependent blocks (context, context_position) and the sum of
  // max |w| over the others: |logit| ≤ ‖x‖₁·ctx_max_ + rest_max_ (NaN when w is not finite)
  double ctx_max_ = 0.0, rest_max_ = 0.0;
};


constexpr const char* kNonFinite = "non-finite logits: the weights or contexts are too large for float64";

// e = exp(l − max) (stable: no overflow) and its normaliser. With `check`, returns false
// when a logit, or a gap l − max, is not finite (the weights are too large for float64);
// sequences whose logits are provably finite (SeqState::safe) skip that pass.
inline bool exp_shifted(const double* logits, double* e, int k, LogNorm& norm, bool check) {
  Eigen::Map<const Eigen::ArrayXd> l(logits, k);
  Eigen::Map<Eigen::ArrayXd> ev(e, k);
  norm.max = l.maxCoeff();
  // Clamping at −700 keeps exp out of the subnormal range (slow on x86) and changes
  // nothing that matters: those terms are < 1e-304 next to the max's 1.
  if (check) {
    ev = l - norm.max;
    if (!ev.allFinite()) return false;  // also catches NaN logits (and so a NaN max)
    ev = ev.max(-700.0).exp();
  } else {
    ev = (l - norm.max).max(-700.0).exp();
  }
  norm.z = ev.sum();
  return true;
}

inline void SeqState::record(int i, double logit, const LogNorm& norm) {
  shifted[i] = logit - norm.max;
  z[i] = norm.z;
}

// Softmax of `logits` into `p` (normalised); false as exp_shifted.
inline bool softmax(const double* logits, double* p, int k, LogNorm& norm, bool check) {
  if (!exp_shifted(logits, p, k, norm, check)) return false;
  Eigen::Map<Eigen::ArrayXd>(p, k) /= norm.z;
  return true;
}

// Whether every logit is finite.
inline bool all_finite(const double* logits, int k) {
  return Eigen::Map<const Eigen::ArrayXd>(logits, k).allFinite();
}

// Accumulates Σ g_i ⊗ ∂logits_i/∂w for one worker's sequences, block by block.
// The W2 part is kept transposed (contiguous per previous token) until flushed.
class GradAccum {
 public:
  explicit GradAccum(const Spec& spec);
  void begin_sequence();
  // g = ∂loss/∂logits at position i (length k).
  void add(const double* x, int i, int prev, const double* g);
  void end_sequence(const double* x);
  // Adds the accumulated gradient, in the flat layout, to out.
  void flush_into(double* out) const;

 private:
  const Spec& spec_;
  Eigen::VectorXd buf_;     // flat layout, prev block transposed
  Eigen::VectorXd seq_sum_; // Σ_i g_i of the current sequence (context and bias blocks)
};

}  // namespace lpgx
