#include "gradient.hpp"

namespace lpgx {

bool flush_terms(const Policy& pol, SeqState& st, const SequenceTerms& terms);

GradAccum::GradAccum(const Spec& spec) : spec_(spec) {
  buf_.setZero(spec_.num_params);
  seq_sum_.setZero(spec_.k);
}

void GradAccum::begin_sequence() { seq_sum_.setZero(); }

void GradAccum::add(const double* x, int i, int prev, const double* g) {
  const int k = spec_.k;
  Eigen::Map<const Eigen::VectorXd> gv(g, k);
  seq_sum_ += gv;
  if (prev >= 0 && spec_.has(kPrevToken))
    Eigen::Map<Eigen::VectorXd>(buf_.data() + spec_.off_prev + Index(prev) * k, k) += gv;
  if (spec_.has(kPosition))
    Eigen::Map<Eigen::VectorXd>(buf_.data() + spec_.off_position + Index(i) * k, k) += gv;
  if (spec_.has(kContextPosition)) {
    const Index row = Index(spec_.N) * k;
    double* base = buf_.data() + spec_.off_ctxpos + Index(i) * k;
    for (int j = 0; j < spec_.d; ++j)
      if (x[j] != 0.0) Eigen::Map<Eigen::VectorXd>(base + j * row, k) += x[j] * gv;
  }
}

void GradAccum::end_sequence(const double* x) {
  const int k = spec_.k, d = spec_.d;
  if (spec_.has(kContext) && d > 0) {
    Eigen::Map<RowMatrix> g1(buf_.data() + spec_.off_context, d, k);
    g1.noalias() += Eigen::Map<const Eigen::VectorXd>(x, d) * seq_sum_.transpose();
  }
  if (spec_.has(kBias)) Eigen::Map<Eigen::VectorXd>(buf_.data() + spec_.off_bias, k) += seq_sum_;
}

void GradAccum::flush_into(double* out) const {
  const Index n = spec_.num_params;
  Eigen::Map<Eigen::VectorXd> o(out, n);
  if (!spec_.has(kPrevToken)) {
    o += buf_;
    return;
  }
  const int k = spec_.k;
  const Index a = spec_.off_prev, kk = Index(k) * k;
  o.head(a) += buf_.head(a);
  o.tail(n - a - kk) += buf_.tail(n - a - kk);
  // buffer row `prev` holds ∂/∂W2[:, prev]; the flat layout is W2[c, prev] at c*k + prev.
  Eigen::Map<const RowMatrix> gt(buf_.data() + a, k, k);
  Eigen::Map<RowMatrix>(out + a, k, k) += gt.transpose();
}

RowWeights::RowWeights(int k)
    : k_(k), stride_(memo_stride(k)), T_(Eigen::ArrayXd::Zero((k + 1) * stride_)),
      S_(std::size_t(k) + 1, 0.0), V_(std::size_t(k) + 1, 0.0), touched_(std::size_t(k) + 1, 0) {}

bool accumulate_sequence(const Policy& pol, SeqState& st, const std::int32_t* y, const double* a,
                         RowWeights& rows, GradAccum& g, double* token_logp, const SequenceTerms* terms) {
  const Spec& s = pol.spec();
  const Regulariser* reg = terms ? terms->reg : nullptr;
  if (token_logp) st.begin_log_probs(s.N);
  g.begin_sequence();
  if (reg) terms->acc->begin_sequence();
  for (int i = 0; i < s.N; ++i) {
    const int prev = i ? y[i - 1] : -1;
    NextToken t;
    if (!pol.next(st, i, prev, t)) return false;
    if (token_logp) st.record(i, t.logits[y[i]], t.norm);
    double b = 0.0;  // the sampled KL's weight on ∇log p(y_i)
    if (reg && !reg->token_weight(t, y[i], i, prev, *terms->ref_st, b)) return false;
    if (pol.memoises()) {
      if (reg) {
        if (b != 0.0) terms->rows->add(prev, y[i], b);
        if (reg->dense()) terms->rows->visit(prev);
      }
      const double ai = a ? a[i] : 1.0;
      if (ai != 0.0) rows.add(prev, y[i], ai);
      continue;
    }
    if (reg) {  // before g_row below overwrites t.e (st.p)
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
    if (reg && !flush_terms(pol, st, *terms)) return false;
  }
  g.end_sequence(st.x.data());
  if (reg) terms->acc->end_sequence(st.x.data());
  if (token_logp) st.write_log_probs(token_logp);
  return true;
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
