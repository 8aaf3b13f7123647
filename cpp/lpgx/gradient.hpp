// Gradient accumulation: Σ_tokens g_i ⊗ ∂logits_i/∂w, block by block, for g_i = ∂/∂logits of
// a_i·log p(y_i) = a_i (e_{y_i} − p_i) (theory §6.2), and the per-sequence routine every
// gradient in lpgx goes through.
#pragma once
#include <cstdint>
#include <vector>

#include "model.hpp"
#include "regulariser.hpp"

namespace lpgx {

// Accumulates Σ g_i ⊗ ∂logits_i/∂w for one worker's sequences, block by block, in the internal
// layout (model.hpp). The prev-token block is kept sparse: one row ∂/∂W2[:, prev] per previous
// token that occurred, so memory and flushing cost O(visited · k), not O(k²).
class GradAccum {
 public:
  // prev_rows = false keeps no prev-token rows: they are left out, or go to the rows that
  // route_prev_rows names (prev_gradient.hpp). context_at_flush, for chunks of one sequence:
  // the context block's x ⊗ Σ_i g_i is not kept here (d·k doubles allocated, cleared, written
  // and read again per sequence) but added straight into the output by flush_dense, with the
  // same roundings.
  explicit GradAccum(const Spec& spec, bool prev_rows = true, bool context_at_flush = false);
  // Where the prev-token rows go when this accumulator keeps none: per previous token a row of
  // k values, and whether nothing has been written to it yet (its first gradient is then
  // written, 0 + g, as a zeroed row would have summed it: the row need not be zeroed first).
  struct RoutedRows {
    double* const* row;
    std::uint8_t* fresh;
  };
  // With prev_rows = false: g at a position after `prev` goes to rows->row[prev] (null: nothing
  // routed). rows must name a row for every previous token added.
  void route_prev_rows(const RoutedRows* rows) { routed_ = rows; }
  // The length of the dense part (every block but prev_token): what sizes the chunks.
  static Index dense_size(const Spec& spec);
  void clear();
  void begin_sequence();
  // g = ∂loss/∂logits at position i (length k).
  void add(const double* x, int i, int prev, const double* g);
  void end_sequence(const double* x);
  // Adds the gradient of accs[0], accs[stride], …, accs[(n − 1)·stride] (the chunks of a
  // reduction), in the internal layout, to out, chunk after chunk: the result never depends
  // on the thread count.
  static void flush(const GradAccum* accs, Index n, Index stride, double* out);
  // Every block but prev_token, added to out (the two layouts agree there).
  static void flush_dense(const GradAccum* accs, Index n, Index stride, double* out);
  // The same in the flat layout of theory §1 (a gradient handed to the caller): the visited
  // prev-token rows, summed in chunk order, become columns of W2 (tiles of W2 on n_threads).
  // The prev-token block of out is written, not added to: it need not be initialised, and the
  // page faults of a fresh k² output are taken by the threads that write it.
  static void flush_flat(const GradAccum* accs, Index n, Index stride, double* out, int n_threads);
  // Vocabularies up to this size keep every prev-token row from the start (as the memo does).
  static constexpr int kDenseRows = 64;

 private:
  const Spec& spec_;
  bool prev_rows_;          // the prev-token rows are accumulated here
  const RoutedRows* routed_ = nullptr;  // or there, by previous token
  bool context_at_flush_;
  Eigen::VectorXd x_;       // with context_at_flush: the sequence's context
  Index lead_;              // d·k with context_at_flush (the context block is not in buf_), else 0
  Index shift_;             // the blocks after prev_token lie at their flat offset − shift_ in buf_
  Eigen::VectorXd buf_;     // the dense part: the flat layout without the prev-token block (and lead_)
  Eigen::VectorXd seq_sum_; // Σ_i g_i of the current sequence (context and bias blocks)
  std::vector<int> slot_;   // per previous token: its row in rows_, or −1
  std::vector<int> touched_;
  std::vector<double> rows_;
};

// A memoising policy's tokens that follow the same previous token share one distribution
// p_r, so their gradient Σ a_i (e_{y_i} − p_r) is T_r − S_r·p_r, with T_r the a-weighted
// counts of the tokens drawn after it and S_r = Σ a_i: per token two scalar additions, per
// distinct row one vector operation.
class RowWeights {
 public:
  explicit RowWeights(int k);
  void add(int prev, int y, double a) {
    const std::size_t r = touch(prev);
    T_[Index(r) * stride_ + y] += a;
    S_[r] += a;
  }
  // A visit of the prefix after `prev`, for a dense per-prefix term (flush's `dense`).
  void visit(int prev) { V_[touch(prev)] += 1.0; }
  // Adds the sequence's rows (in first-use order) to g and clears them; the distributions come
  // from pol's memo in st (rows not yet there are computed: the responses may have been drawn
  // from another policy). dense(t, prev, visits, g_row) adds a row's dense term. g_row is
  // scratch (k). False when a logit is not finite.
  template <class Dense>
  bool flush(const Policy& pol, SeqState& st, GradAccum& g, double* g_row, Dense&& dense);
  bool flush(const Policy& pol, SeqState& st, GradAccum& g, double* g_row) {
    return flush(pol, st, g, g_row, [](const NextToken&, int, double, double*) { return true; });
  }

 private:
  std::size_t touch(int prev) {
    const std::size_t r = std::size_t(prev + 1);
    if (!touched_[r]) {
      touched_[r] = 1;
      rows_.push_back(int(r));
    }
    return r;
  }
  int k_;
  Index stride_;
  Eigen::ArrayXd T_;
  std::vector<double> S_, V_;
  std::vector<std::uint8_t> touched_;
  std::vector<int> rows_;
};

template <class Dense>
bool RowWeights::flush(const Policy& pol, SeqState& st, GradAccum& g, double* g_row, Dense&& dense) {
  bool ok = true;
  for (int r : rows_) {
    NextToken t;
    ok = ok && pol.next(st, 0, r - 1, t);  // a memo lookup, or the row computed now
    double* tr = T_.data() + Index(r) * stride_;
    if (ok) {
      const double scale = S_[std::size_t(r)] / t.norm.z;
      for (int c = 0; c < k_; ++c) g_row[c] = tr[c] - scale * t.e[c];
      if (V_[std::size_t(r)] != 0.0) ok = dense(t, r - 1, V_[std::size_t(r)], g_row);
      if (ok) g.add(st.x.data(), 0, r - 1, g_row);
    }
    for (int c = 0; c < k_; ++c) tr[c] = 0.0;
    S_[std::size_t(r)] = 0.0;
    V_[std::size_t(r)] = 0.0;
    touched_[std::size_t(r)] = 0;
  }
  rows_.clear();
  return ok;
}

// The regulariser's share of one sequence's gradient: where its terms go (their own channel,
// coefficient 1) and the scratch they need.
struct SequenceTerms {
  const Regulariser* reg = nullptr;
  SeqState* ref_st = nullptr;  // begun on the context when the regulariser has a reference
  RowWeights* rows = nullptr;
  GradAccum* acc = nullptr;
};

// Adds ∇_w Σ_i a_i log p(y_i | x, y_<i) of one sequence to g, with st begun on its context
// (a null: all ones; tokens with a_i = 0 are skipped). token_logp (N, nullable) receives
// log p(y_i | …). `rows` is scratch for memoising policies. With `terms`, the regulariser's
// gradient along y goes to terms->acc. False when a logit is not finite.
bool accumulate_sequence(const Policy& pol, SeqState& st, const std::int32_t* y, const double* a,
                         RowWeights& rows, GradAccum& g, double* token_logp, const SequenceTerms* terms = nullptr);

// The regulariser's gradient along y (already sampled, st begun) into terms, for memoising
// policies (the one-pass step): sampled weights and visits per row, then one flush.
bool accumulate_terms(const Policy& pol, SeqState& st, const std::int32_t* y, const SequenceTerms& terms);

}  // namespace lpgx
