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

PrevTokenRows::PrevTokenRows(const double* w2, int k)
    : w2_(w2), k_(k), t_(new double[std::size_t(k) * std::size_t(k)]),  // uninitialised: paged in on use
      ready_(new std::atomic<std::uint8_t>[std::size_t(k) / 8 + 1]) {
  for (std::size_t b = 0; b <= std::size_t(k) / 8; ++b) ready_[b].store(0, std::memory_order_relaxed);
}

void PrevTokenRows::gather(std::size_t b) const {
  std::uint8_t expected = 0;
  if (ready_[b].compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
    const int p0 = int(b) * 8, p1 = std::min(p0 + 8, k_);
    for (int c = 0; c < k_; ++c) {  // one cache line of W2 per c
      const double* src = w2_ + Index(c) * k_;
      for (int p = p0; p < p1; ++p) t_[std::size_t(p) * std::size_t(k_) + std::size_t(c)] = src[p];
    }
    ready_[b].store(2, std::memory_order_release);
    return;
  }
  while (ready_[b].load(std::memory_order_acquire) != 2) {  // another thread is gathering it
  }
}

namespace {
bool aligned(const double* p) { return reinterpret_cast<std::uintptr_t>(p) % EIGEN_MAX_ALIGN_BYTES == 0; }
}  // namespace

Policy::Policy(const Spec& spec, const double* w) : Policy(spec, w, !aligned(w)) {}

Policy Policy::copied(const Spec& spec, const double* w) { return Policy(spec, w, true); }

Policy::Policy(const Spec& spec, const double* w, bool copy)
    : spec_(spec), memoise_(memoisable(spec)) {
  if (copy) own_ = Eigen::Map<const Eigen::VectorXd>(w, spec.num_params);
  w_ = copy ? own_.data() : w;
  if (spec_.has(kPrevToken)) prev_t_ = PrevTokenRows(w_ + spec_.off_prev, spec_.k);
  if (spec_.num_params > kBoundScanMax) {
    ctx_max_ = rest_max_ = std::numeric_limits<double>::infinity();
    return;
  }
  auto max_abs = [&](Index off, Index n) {
    const Eigen::Map<const Eigen::VectorXd> seg(w_ + off, n);
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
  const double* w = w_;
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
  if (prev >= 0 && spec_.has(kPrevToken)) o += Eigen::Map<const Eigen::ArrayXd>(prev_t_.row(prev), k);
  if (spec_.has(kPosition))
    o += Eigen::Map<const Eigen::ArrayXd>(w_ + spec_.off_position + Index(i) * k, k);
  if (spec_.has(kContextPosition))
    o += Eigen::Map<const Eigen::ArrayXd>(st.ctxpos.data() + Index(i) * k, k);
}

const char* Policy::non_finite_message() const {
  if (std::isinf(ctx_max_))  // not scanned in advance: scan now, on the error path
    return Eigen::Map<const Eigen::VectorXd>(w_, spec_.num_params).allFinite() ? kNonFinite : kNonFiniteWeights;
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
