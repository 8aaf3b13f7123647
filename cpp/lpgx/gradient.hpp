// Gradient accumulation: Σ_tokens g_i ⊗ ∂logits_i/∂w, block by block, for g_i = ∂/∂logits of
// a_i·log p(y_i) = a_i (e_{y_i} − p_i) (theory §6.2), and the per-sequence routine every
// gradient in lpgx goes through.
#pragma once
#include <cstdint>
#include <vector>

#include "model.hpp"

namespace lpgx {

// Accumulates Σ g_i ⊗ ∂logits_i/∂w for one worker's sequences, block by block.
// The W2 part is kept transposed (contiguous per previous token) until flushed.
class GradAccum {
 public:
  explicit GradAccum(const Spec& spec);
  void clear() { buf_.setZero(); }
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

// A memoising policy's tokens that follow the same previous token share one distribution
// p_r, so their gradient Σ a_i (e_{y_i} − p_r) is T_r − S_r·p_r, with T_r the a-weighted
// counts of the tokens drawn after it and S_r = Σ a_i: per token two scalar additions, per
// distinct row one vector operation.
class RowWeights {
 public:
  explicit RowWeights(int k);
  void add(int prev, int y, double a) {
    const std::size_t r = std::size_t(prev + 1);
    if (!touched_[r]) {
      touched_[r] = 1;
      rows_.push_back(int(r));
    }
    T_[Index(r) * stride_ + y] += a;
    S_[r] += a;
  }
  // Adds the sequence's rows (in first-use order) to g and clears them; the distributions come
  // from pol's memo in st (rows not yet there are computed: the responses may have been drawn
  // from another policy). g_row is scratch (k). False when a logit is not finite.
  bool flush(const Policy& pol, SeqState& st, GradAccum& g, double* g_row);

 private:
  int k_;
  Index stride_;
  Eigen::ArrayXd T_;
  std::vector<double> S_;
  std::vector<std::uint8_t> touched_;
  std::vector<int> rows_;
};

// Adds ∇_w Σ_i a_i log p(y_i | x, y_<i) of one sequence to g, with st begun on its context
// (a null: all ones; tokens with a_i = 0 are skipped). token_logp (N, nullable) receives
// log p(y_i | …). `rows` is scratch for memoising policies. False when a logit is not finite.
bool accumulate_sequence(const Policy& pol, SeqState& st, const std::int32_t* y, const double* a,
                         RowWeights& rows, GradAccum& g, double* token_logp);

}  // namespace lpgx
