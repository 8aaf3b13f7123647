#include "model.hpp"

#include "huge_pages.hpp"

#include <algorithm>
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

namespace {
// out = inᵀ for k×k row-major blocks, in 64×64 tiles (both sides stay in cache).
void transpose_block(const double* in, double* out, int k) {
  constexpr int kTile = 64;
  for (int i0 = 0; i0 < k; i0 += kTile)
    for (int j0 = 0; j0 < k; j0 += kTile)
      for (int i = i0; i < std::min(i0 + kTile, k); ++i)
        for (int j = j0; j < std::min(j0 + kTile, k); ++j) out[Index(j) * k + i] = in[Index(i) * k + j];
}
void convert(const Spec& s, const double* in, double* out) {
  const Index n = s.num_params;
  if (!s.has(kPrevToken)) {
    std::copy(in, in + n, out);
    return;
  }
  const Index a = s.off_prev, kk = Index(s.k) * s.k;
  std::copy(in, in + a, out);
  transpose_block(in + a, out + a, s.k);
  std::copy(in + a + kk, in + n, out + a + kk);
}
}  // namespace

void Spec::to_internal(const double* flat, double* internal) const { convert(*this, flat, internal); }
void Spec::to_flat(const double* internal, double* flat) const { convert(*this, internal, flat); }

double Spec::feature_norm2(double x2, int i) const {
  double s = 0.0;
  if (has(kContext)) s += x2;
  if (has(kPrevToken) && i > 0) s += 1.0;
  if (has(kPosition)) s += 1.0;
  if (has(kContextPosition)) s += x2;
  if (has(kBias)) s += 1.0;
  return s;
}

namespace {
bool aligned(const double* p) { return reinterpret_cast<std::uintptr_t>(p) % EIGEN_MAX_ALIGN_BYTES == 0; }
}  // namespace

Policy::Policy(const Spec& spec, const double* w) : Policy(spec, w, !aligned(w)) {}

Policy Policy::copied(const Spec& spec, const double* w) { return Policy(spec, w, true); }

Policy::Policy(const Spec& spec, const double* w, bool copy)
    : spec_(spec), memoise_(memoisable(spec)),
      prefetch_(!memoise_ && spec.has(kPrevToken) && Index(spec.k) * spec.k >= kPrefetchMinW2) {
  if (copy) {
    own_ = huge_page_vector(spec.num_params);
    own_ = Eigen::Map<const Eigen::VectorXd>(w, spec.num_params);  // same size: no reallocation
  }
  w_ = copy ? own_.data() : w;
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

namespace {
// out = base + W2[:, prev] + P[i] + ctxpos[i] (the blocks the spec has): elementwise sums, so
// the same bits whether base is a sequence's aligned buffer or a pointer into a table.
template <class Base>
void sum_blocks(const Spec& s, const double* w, const Base& base, const double* ctxpos, int i, int prev, double* out) {
  const int k = s.k;
  Eigen::Map<Eigen::ArrayXd> o(out, k);
  if (prev >= 0 && s.has(kPrevToken))  // W2[:, prev]: a row of the internal W2ᵀ; one pass
    o = base + Eigen::Map<const Eigen::ArrayXd>(w + s.off_prev + Index(prev) * k, k);
  else
    o = base;
  if (s.has(kPosition)) o += Eigen::Map<const Eigen::ArrayXd>(w + s.off_position + Index(i) * k, k);
  if (s.has(kContextPosition)) o += Eigen::Map<const Eigen::ArrayXd>(ctxpos + Index(i) * k, k);
}
}  // namespace

void Policy::logits(const SeqState& st, int i, int prev, double* out) const {
  sum_blocks(spec_, w_, st.base.array(), st.ctxpos.data(), i, prev, out);
}

void Policy::logits_on(const double* base, const double* ctxpos, int i, int prev, double* out) const {
  sum_blocks(spec_, w_, Eigen::Map<const Eigen::ArrayXd>(base, spec_.k), ctxpos, i, prev, out);
}

const char* Policy::non_finite_message() const {
  if (std::isinf(ctx_max_))  // not scanned in advance: scan now, on the error path
    return Eigen::Map<const Eigen::VectorXd>(w_, spec_.num_params).allFinite() ? kNonFinite : kNonFiniteWeights;
  return std::isnan(ctx_max_) || std::isnan(rest_max_) ? kNonFiniteWeights : kNonFinite;
}

bool Policy::next_computed(SeqState& st, int i, int prev, NextToken& out, int upcoming) const {
  logits(st, i, prev, st.logits.data());
  out.logits = st.logits.data();
  out.e = st.p.data();
  out.cdf = nullptr;
  const double* ahead = prefetch_ && upcoming >= 0 ? w_ + spec_.off_prev + Index(upcoming) * spec_.k : nullptr;
  return ahead ? exp_shifted_fetching(st.logits.data(), st.p.data(), spec_.k, out.norm, !st.safe, ahead)
               : exp_shifted(st.logits.data(), st.p.data(), spec_.k, out.norm, !st.safe);
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
