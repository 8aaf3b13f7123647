#include "gradient.hpp"

#include <algorithm>
#include <cstdint>
#include <numeric>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace lpgx {

bool flush_terms(const Policy& pol, SeqState& st, const SequenceTerms& terms);

namespace {

// s += g and r += g in one pass; a fresh row r is written, 0 + g (not folded to g: 0 + (−0) is
// +0, as in a zeroed row), with streaming stores past kStreamRow: such a row is one of many
// that will be read once, later, so it need not be read into the cache first.
constexpr int kStreamRow = 2048;

void add_routed(double* __restrict s, double* __restrict r, const double* __restrict g, int k, bool fresh) {
  if (!fresh) {
    for (int c = 0; c < k; ++c) {
      s[c] += g[c];
      r[c] += g[c];
    }
    return;
  }
  int c = 0;
#if defined(__SSE2__)
  if (k >= kStreamRow && reinterpret_cast<std::uintptr_t>(r) % sizeof(double) == 0) {
    if (reinterpret_cast<std::uintptr_t>(r) % 16 != 0) {
      s[0] += g[0];
      r[0] = 0.0 + g[0];
      c = 1;
    }
    const __m128d zero = _mm_setzero_pd();
    for (; c + 2 <= k; c += 2) {
      const __m128d gc = _mm_loadu_pd(g + c);
      _mm_storeu_pd(s + c, _mm_add_pd(_mm_loadu_pd(s + c), gc));
      _mm_stream_pd(r + c, _mm_add_pd(zero, gc));
    }
    _mm_sfence();
  }
#endif
  for (; c < k; ++c) {
    s[c] += g[c];
    r[c] = 0.0 + g[c];
  }
}

}  // namespace

GradAccum::GradAccum(const Spec& spec, bool prev_rows, bool context_at_flush)
    : spec_(spec), prev_rows_(prev_rows && spec.has(kPrevToken)),
      context_at_flush_(context_at_flush && spec.has(kContext) && spec.d > 0) {
  const Index kk = spec.has(kPrevToken) ? Index(spec.k) * spec.k : 0;
  lead_ = context_at_flush_ ? Index(spec.d) * spec.k : 0;  // the context block comes first
  shift_ = kk + lead_;
  buf_.setZero(spec.num_params - kk - lead_);
  seq_sum_.setZero(spec.k);
  if (!prev_rows_) return;
  slot_.assign(std::size_t(spec.k), -1);
  if (spec.k <= kDenseRows) {  // every row from the start: no lookups miss, nothing grows
    for (int p = 0; p < spec.k; ++p) slot_[std::size_t(p)] = p;
    touched_.resize(std::size_t(spec.k));
    std::iota(touched_.begin(), touched_.end(), 0);
    rows_.assign(std::size_t(spec.k) * std::size_t(spec.k), 0.0);
  } else {  // room for 64 rows: growing the pool inside a call reallocates and faults
    rows_.reserve(std::size_t(64) * std::size_t(spec.k));
  }
}

Index GradAccum::dense_size(const Spec& spec) {
  return spec.num_params - (spec.has(kPrevToken) ? Index(spec.k) * spec.k : 0);
}

void GradAccum::clear() {
  buf_.setZero();
  if (spec_.k <= kDenseRows || !prev_rows_) {
    std::fill(rows_.begin(), rows_.end(), 0.0);
    return;
  }
  for (int p : touched_) slot_[std::size_t(p)] = -1;
  touched_.clear();
  rows_.clear();
}

void GradAccum::begin_sequence() { seq_sum_.setZero(); }

void GradAccum::add(const double* x, int i, int prev, const double* g) {
  const int k = spec_.k;
  Eigen::Map<const Eigen::VectorXd> gv(g, k);
  if (prev >= 0 && routed_) {
    std::uint8_t& fresh = routed_->fresh[prev];
    add_routed(seq_sum_.data(), routed_->row[prev], g, k, fresh);
    fresh = 0;
  } else {
    seq_sum_ += gv;
  }
  if (prev >= 0 && prev_rows_) {
    int& slot = slot_[std::size_t(prev)];
    if (slot < 0) {
      slot = int(touched_.size());
      touched_.push_back(prev);
      rows_.resize(rows_.size() + std::size_t(k), 0.0);
    }
    Eigen::Map<Eigen::VectorXd>(rows_.data() + Index(slot) * k, k) += gv;
  }
  if (spec_.has(kPosition))
    Eigen::Map<Eigen::VectorXd>(buf_.data() + spec_.off_position - shift_ + Index(i) * k, k) += gv;
  if (spec_.has(kContextPosition)) {
    const Index row = Index(spec_.N) * k;
    double* base = buf_.data() + spec_.off_ctxpos - shift_ + Index(i) * k;
    for (int j = 0; j < spec_.d; ++j)
      if (x[j] != 0.0) Eigen::Map<Eigen::VectorXd>(base + j * row, k) += x[j] * gv;
  }
}

void GradAccum::end_sequence(const double* x) {
  const int k = spec_.k, d = spec_.d;
  if (context_at_flush_) {
    x_ = Eigen::Map<const Eigen::VectorXd>(x, d);
  } else if (spec_.has(kContext) && d > 0) {
    Eigen::Map<RowMatrix> g1(buf_.data() + spec_.off_context, d, k);
    g1.noalias() += Eigen::Map<const Eigen::VectorXd>(x, d) * seq_sum_.transpose();
  }
  if (spec_.has(kBias))
    Eigen::Map<Eigen::VectorXd>(buf_.data() + spec_.off_bias - shift_, k) += seq_sum_;
}

void GradAccum::flush(const GradAccum* accs, Index n, Index stride, double* out) {
  flush_dense(accs, n, stride, out);
  if (n == 0 || !accs[0].spec_.has(kPrevToken)) return;
  const int k = accs[0].spec_.k;
  double* w2t = out + accs[0].spec_.off_prev;
  for (Index c = 0; c < n; ++c) {  // the prev-token rows: W2ᵀ rows of the internal layout
    const GradAccum& g = accs[c * stride];
    for (std::size_t s = 0; s < g.touched_.size(); ++s)
      Eigen::Map<Eigen::VectorXd>(w2t + Index(g.touched_[s]) * k, k) +=
          Eigen::Map<const Eigen::VectorXd>(g.rows_.data() + Index(s) * k, k);
  }
}

void GradAccum::flush_dense(const GradAccum* accs, Index n, Index stride, double* out) {
  if (n == 0) return;
  const Spec& spec = accs[0].spec_;
  const Index kk = spec.has(kPrevToken) ? Index(spec.k) * spec.k : 0;
  const Index a = spec.has(kPrevToken) ? spec.off_prev : spec.num_params, tail = spec.num_params - a - kk;
  Eigen::Map<Eigen::VectorXd> o(out, spec.num_params);
  for (Index c = 0; c < n; ++c) {
    const GradAccum& g = accs[c * stride];
    if (g.context_at_flush_) {  // out += (0 + x_j·s_c): the sum a zeroed block would have held
      const int k = spec.k;
      const double* s = g.seq_sum_.data();
      for (int j = 0; j < spec.d; ++j) {
        const double xj = g.x_[j];
        double* row = out + spec.off_context + Index(j) * k;
        for (int c = 0; c < k; ++c) row[c] += xj * s[c] + 0.0;
      }
    }
    o.segment(g.lead_, a - g.lead_) += g.buf_.head(a - g.lead_);
    if (tail > 0) o.tail(tail) += g.buf_.tail(tail);
  }
}

void GradAccum::flush_flat(const GradAccum* accs, Index n, Index stride, double* out, int n_threads) {
  if (n == 0) return;  // (Chunks has at least one)
  const Spec& spec = accs[0].spec_;
  if (!spec.has(kPrevToken)) {
    flush(accs, n, stride, out);  // the two layouts agree
    return;
  }
  const int k = spec.k;
  const Index a = spec.off_prev;
  flush_dense(accs, n, stride, out);
  // The visited W2ᵀ rows grouped by previous token, each group in chunk order (a counting sort):
  // no k × k scratch, so memory and traffic stay O(visited · k) besides the output itself.
  std::vector<Index> start(std::size_t(k) + 1, 0);
  for (Index c = 0; c < n; ++c)
    for (int p : accs[c * stride].touched_) ++start[std::size_t(p) + 1];
  for (int p = 0; p < k; ++p) start[std::size_t(p) + 1] += start[std::size_t(p)];
  std::vector<const double*> row(std::size_t(start[std::size_t(k)]));
  std::vector<Index> next(start.begin(), start.end() - 1);
  for (Index c = 0; c < n; ++c) {
    const GradAccum& g = accs[c * stride];
    for (std::size_t s = 0; s < g.touched_.size(); ++s)
      row[std::size_t(next[std::size_t(g.touched_[s])]++)] = g.rows_.data() + Index(s) * k;
  }
  // W2[c, p] = Σ_chunks row_p[c], summed from 0 in chunk order, as a blocked transpose: a tile
  // of 64 rows c of W2 × 8 columns p at a time, read along the rows (contiguous), written a cache
  // line at a time. Tiles run in parallel; each element has one writer and a fixed order of
  // additions, whatever the threads.
  constexpr Index kTile = 64;
  constexpr int kCols = 8;
  double* w2 = out + a;
  const auto visited = [&](int p) { return start[std::size_t(p)] != start[std::size_t(p) + 1]; };
  parallel_for((Index(k) + kTile - 1) / kTile, n_threads, [&](Index tile) {
    const Index c0 = tile * kTile, nc = std::min<Index>(kTile, k - c0);
    double sum[kCols][kTile];
    for (int p0 = 0; p0 < k; p0 += kCols) {
      const int np = std::min(kCols, k - p0);
      if (start[std::size_t(p0)] == start[std::size_t(p0 + np)]) {
        for (Index c = 0; c < nc; ++c) std::fill_n(w2 + (c0 + c) * k + p0, np, 0.0);
        continue;
      }
      for (int j = 0; j < np; ++j) {
        double* s = sum[j];
        std::fill(s, s + nc, 0.0);
        for (Index r = start[std::size_t(p0 + j)]; r < start[std::size_t(p0 + j) + 1]; ++r) {
          const double* src = row[std::size_t(r)] + c0;
          for (Index c = 0; c < nc; ++c) s[c] += src[c];
        }
      }
      for (Index c = 0; c < nc; ++c) {
        double* wc = w2 + (c0 + c) * k + p0;
        for (int j = 0; j < np; ++j) wc[j] = visited(p0 + j) ? sum[j][c] : 0.0;
      }
    }
  });
}

RowWeights::RowWeights(int k)
    : k_(k), stride_(memo_stride(k)), T_(Eigen::ArrayXd::Zero((k + 1) * stride_)),
      S_(std::size_t(k) + 1, 0.0), V_(std::size_t(k) + 1, 0.0), touched_(std::size_t(k) + 1, 0) {}

namespace {

// accumulate_sequence, compiled twice: without terms (the common case, the leanest loop) and with.
template <bool kTerms>
bool accumulate(const Policy& pol, SeqState& st, const std::int32_t* y, const double* a, RowWeights& rows,
                GradAccum& g, double* token_logp, const SequenceTerms* terms) {
  const Spec& s = pol.spec();
  const Regulariser* reg = kTerms ? terms->reg : nullptr;
  if (token_logp) st.begin_log_probs(s.N);
  g.begin_sequence();
  if (kTerms) terms->acc->begin_sequence();
  const bool fetch = pol.prefetches();  // the next position's W2 row, while this one's exps run
  for (int i = 0; i < s.N; ++i) {
    const int prev = i ? y[i - 1] : -1;
    NextToken t;
    if (!pol.next(st, i, prev, t, fetch && i + 1 < s.N ? y[i] : -1)) return false;
    if (token_logp) st.record(i, t.logits[y[i]], t.norm);
    double b = 0.0;  // the sampled KL's weight on ∇log p(y_i)
    if (kTerms && !reg->token_weight(t, y[i], i, prev, *terms->ref_st, b)) return false;
    if (pol.memoises()) {
      if (kTerms) {
        if (b != 0.0) terms->rows->add(prev, y[i], b);
        if (reg->dense()) terms->rows->visit(prev);
      }
      const double ai = a ? a[i] : 1.0;
      if (ai != 0.0) rows.add(prev, y[i], ai);
      continue;
    }
    if (kTerms) {  // before g_row below overwrites t.e (st.p)
      double* h = st.term_row.data();
      const double scale = -b / t.norm.z;
      for (int c = 0; c < s.k; ++c) h[c] = t.e[c] * scale;
      h[y[i]] += b;
      if (!reg->add_dense(t, i, prev, 1.0, *terms->ref_st, h)) return false;
      terms->acc->add(st.x.data(), i, prev, h);
    }
    const double ai = a ? a[i] : 1.0;
    if (ai == 0.0) continue;
    // ∂/∂logits of a·log p(y_i) = a (e_{y_i} − p), with p = e/z: one division per token
    const double scale = -ai / t.norm.z;
    for (int c = 0; c < s.k; ++c) st.p[c] = t.e[c] * scale;
    st.p[y[i]] += ai;
    g.add(st.x.data(), i, prev, st.p.data());
  }
  if (pol.memoises()) {
    if (!rows.flush(pol, st, g, st.p.data())) return false;
    if (kTerms && !flush_terms(pol, st, *terms)) return false;
  }
  g.end_sequence(st.x.data());
  if (kTerms) terms->acc->end_sequence(st.x.data());
  if (token_logp) st.write_log_probs(token_logp);
  return true;
}

}  // namespace

bool accumulate_sequence(const Policy& pol, SeqState& st, const std::int32_t* y, const double* a,
                         RowWeights& rows, GradAccum& g, double* token_logp, const SequenceTerms* terms) {
  return terms && terms->reg ? accumulate<true>(pol, st, y, a, rows, g, token_logp, terms)
                             : accumulate<false>(pol, st, y, a, rows, g, token_logp, nullptr);
}

bool flush_terms(const Policy& pol, SeqState& st, const SequenceTerms& terms) {
  return terms.rows->flush(pol, st, *terms.acc, st.term_row.data(),
                           [&](const NextToken& t, int prev, double visits, double* g_row) {
                             return terms.reg->add_dense(t, 0, prev, visits, *terms.ref_st, g_row);
                           });
}

bool accumulate_terms(const Policy& pol, SeqState& st, const std::int32_t* y, const SequenceTerms& terms) {
  const Regulariser& reg = *terms.reg;
  terms.acc->begin_sequence();
  for (int i = 0; i < pol.spec().N; ++i) {
    const int prev = i ? y[i - 1] : -1;
    NextToken t;
    double b = 0.0;
    if (!pol.next(st, i, prev, t) || !reg.token_weight(t, y[i], i, prev, *terms.ref_st, b)) return false;
    if (b != 0.0) terms.rows->add(prev, y[i], b);
    if (reg.dense()) terms.rows->visit(prev);
  }
  if (!flush_terms(pol, st, terms)) return false;
  terms.acc->end_sequence(st.x.data());
  return true;
}

}  // namespace lpgx
