#include "model.hpp"

#include <limits>
#include <stdexcept>

namespace lpgx {

Spec::Spec(int vocab, int seq_len, int dim, unsigned block_mask)
    : k(vocab), N(seq_len), d(dim), blocks(block_mask) {
  if (k < 1 || N < 1 || d < 0) throw std::invalid_argument("model sizes must be positive");
  if (blocks == 0 || (blocks & ~31u) != 0) throw std::invalid_argument("invalid block mask");
  Index off = 0;
  const Index K = k;
  if (has(kContext)) { off_context = off; off += Index(d) * K; }
  if (has(kPrevToken)) { off_prev = off; off += K * K; }
  if (has(kPosition)) { off_position = off; off += Index(N) * K; }
  if (has(kContextPosition)) { off_ctxpos = off; off += Index(d) * N * K; }
  if (has(kBias)) { off_bias = off; off += K; }
  num_params = off;
}

Index Spec::offset(Block b) const {
  switch (b) {
    case kContext: return off_context;
    case kPrevToken: return off_prev;
    case kPosition: return off_position;
    case kContextPosition: return off_ctxpos;
    case kBias: return off_bias;
  }
  return -1;
}

std::vector<Index> Spec::shape(Block b) const {
  switch (b) {
    case kContext: return {d, k};
    case kPrevToken: return {k, k};
    case kPosition: return {N, k};
    case kContextPosition: return {d, N, k};
    case kBias: return {k};
  }
  return {};
}

double Spec::feature_norm2(double x2, int i) const {
  double s = 0.0;
  if (has(kContext)) s += x2;
  if (has(kPrevToken) && i > 0) s += 1.0;
  if (has(kPosition)) s += 1.0;
  if (has(kContextPosition)) s += x2;
  if (has(kBias)) s += 1.0;
  return s;
}

Policy::Policy(const Spec& spec, const double* w)
    : spec_(spec),
      memoise_(memoisable(spec)),
      w_(Eigen::Map<const Eigen::VectorXd>(w, spec.num_params)) {
  if (spec_.has(kPrevToken)) {
    Eigen::Map<const RowMatrix> w2(w_.data() + spec_.off_prev, spec_.k, spec_.k);
    prev_t_ = w2.transpose();
  }
  auto max_abs = [&](Index off, Index n) {
    const auto seg = w_.segment(off, n);
    return seg.allFinite() ? seg.cwiseAbs().maxCoeff() : std::numeric_limits<double>::quiet_NaN();
  };
  const Index k = spec_.k, d = spec_.d, N = spec_.N;
  if (spec_.has(kContext) && d > 0) ctx_max_ += max_abs(spec_.off_context, d * k);
  if (spec_.has(kContextPosition) && d > 0) ctx_max_ += max_abs(spec_.off_ctxpos, d * N * k);
  if (spec_.has(kPrevToken)) rest_max_ += max_abs(spec_.off_prev, k * k);
  if (spec_.has(kPosition)) rest_max_ += max_abs(spec_.off_position, N * k);
  if (spec_.has(kBias)) rest_max_ += max_abs(spec_.off_bias, k);
}

void Policy::begin(const double* x, SeqState& st) const {
  const int k = spec_.k, d = spec_.d;
  const double* w = w_.data();
  st.x = Eigen::Map<const Eigen::VectorXd>(x, d);
  // Logits below 1e300 in magnitude differ by less than the float64 range: no overflow.
  const double bound = st.x.cwiseAbs().sum() * ctx_max_ + rest_max_;
  st.safe = bound < 1e300;  // false for NaN
  st.base.setZero(k);
  if (spec_.has(kContext) && d > 0) {
    Eigen::Map<const RowMatrix> w1(w + spec_.off_context, d, k);
    st.base.noalias() += w1.transpose() * st.x;
  }
  if (spec_.has(kBias)) st.base += Eigen::Map<const Eigen::VectorXd>(w + spec_.off_bias, k);
  if (memoise_) {
    const Index rows = Index(k) + 1;
    st.stride = memo_stride(k);
    if (st.memo_e.size() != rows * st.stride) {
      st.memo_logits.resize(rows * st.stride);
      st.memo_e.resize(rows * st.stride);
      st.memo_cdf.resize(rows * st.stride);
      st.memo_norm.resize(std::size_t(rows));
    }
    st.known.assign(std::size_t(rows), 0);
  }
  if (spec_.has(kContextPosition)) {
    const Index nk = Index(spec_.N) * k;
    st.ctxpos.setZero(nk);
    if (d > 0) {
      Eigen::Map<const RowMatrix> c(w + spec_.off_ctxpos, d, nk);
      st.ctxpos.noalias() += c.transpose() * st.x;
    }
  }
}

void Policy::logits(const SeqState& st, int i, int prev, double* out) const {
  const int k = spec_.k;
  Eigen::Map<Eigen::ArrayXd> o(out, k);
  o = st.base.array();
  if (prev >= 0 && spec_.has(kPrevToken)) o += prev_t_.row(prev).transpose().array();
  if (spec_.has(kPosition))
    o += Eigen::Map<const Eigen::ArrayXd>(w_.data() + spec_.off_position + Index(i) * k, k);
  if (spec_.has(kContextPosition))
    o += Eigen::Map<const Eigen::ArrayXd>(st.ctxpos.data() + Index(i) * k, k);
}

const char* Policy::non_finite_message() const {
  return std::isnan(ctx_max_) || std::isnan(rest_max_) ? kNonFiniteWeights : kNonFinite;
}

bool Policy::next_computed(SeqState& st, int i, int prev, NextToken& out) const {
  logits(st, i, prev, st.logits.data());
  out.logits = st.logits.data();
  out.e = st.p.data();
  out.cdf = nullptr;
  return exp_shifted(st.logits.data(), st.p.data(), spec_.k, out.norm, !st.safe);
}

bool Policy::fill_row(SeqState& st, int prev) const {
  const std::size_t r = std::size_t(prev + 1);
  const Index at = Index(r) * st.stride;
  double* l = st.memo_logits.data() + at;
  double* e = st.memo_e.data() + at;
  logits(st, 0, prev, l);  // no position block: i does not matter
  if (!exp_shifted(l, e, spec_.k, st.memo_norm[r], !st.safe)) return false;
  prefix_sums(e, spec_.k, st.memo_cdf.data() + at);
  st.known[r] = 1;
  return true;
}

}  // namespace lpgx
