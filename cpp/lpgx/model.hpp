// The linear autoregressive softmax policy of theory §1, computed block by block.
//
// logit(c | x, y_<i) = (xᵀW1)[c] + W2[c, y_{i-1}] + P[i, c] + Σ_j x_j C[j, i, c] + b[c]
//
// The context part is computed once per sequence; every other block is a lookup, so a
// token costs O(k) plus the softmax. φ is never materialised.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <Eigen/Core>

#include "draw.hpp"
#include "kinds.hpp"
#include "parallel.hpp"
#include "vexp.hpp"

namespace lpgx {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum Block : unsigned {
  kContext = 1u,
  kPrevToken = 2u,
  kPosition = 4u,
  kContextPosition = 8u,
  kBias = 16u,
};
// Block names in flat-layout order: bit i of a block mask is kBlockNames[i].
constexpr KindNames<5> kBlockNames = {"context", "prev_token", "position", "context_position", "bias"};

// Sizes and the offsets of the enabled blocks in the flat parameter vector
// (blocks concatenated in the order above, each row-major).
//
// The engine keeps weights (and gradients, optimizer states) in its internal layout: the flat
// layout of theory §1 with the prev_token block transposed, W2ᵀ, so that the column W2[:, prev]
// a token's logits need is one contiguous row at off_prev + prev·k. Everything the Python
// layer hands over or receives is converted at the border (to_internal / to_flat).
struct Spec {
  int k = 0, N = 0, d = 0;
  unsigned blocks = 0;
  Index off_context = -1, off_prev = -1, off_position = -1, off_ctxpos = -1, off_bias = -1;
  Index num_params = 0;

  Spec(int vocab, int seq_len, int dim, unsigned block_mask);
  bool has(Block b) const { return (blocks & b) != 0; }
  // The flat layout of block b (one source of truth, also for Python): its offset (−1 when
  // disabled) and shape.
  Index offset(Block b) const;
  std::vector<Index> shape(Block b) const;
  // Whole parameter vectors between the flat layout and the internal one (in ≠ out).
  void to_internal(const double* flat, double* internal) const;
  void to_flat(const double* internal, double* flat) const;
  // ‖φ(x, y_<i, c)‖² at position i for a context with squared norm x2.
  double feature_norm2(double x2, int i) const;
};

// The normaliser of one position's logits: log p(c) = (l_c − max) − log z. Kept relative
// to the max so that a large common offset of the logits costs no precision.
struct LogNorm {
  double max = 0.0, z = 1.0;
  double log_prob(double logit) const { return (logit - max) - std::log(z); }
};

// Memo rows (k values each) are this many doubles apart: k rounded up to 8, so every row
// is aligned as the per-token buffers are (Eigen's sums then add in the same order).
inline Index memo_stride(int k) { return (Index(k) + 7) / 8 * 8; }

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
  // Memo of next-token distributions by previous token (Policy::next): row r = prev + 1,
  // rows memo_stride(k) apart.
  Index stride = 0;
  std::vector<std::uint8_t> known;
  Eigen::ArrayXd memo_logits, memo_e, memo_cdf;
  std::vector<LogNorm> memo_norm;
  Eigen::VectorXd base;
  Eigen::VectorXd ctxpos;  // N*k, row i at i*k
  Eigen::VectorXd logits, p;
  Eigen::VectorXd term_row;  // scratch for the regulariser's per-token gradient
  // Per position: l_y − max and z, turned into log-probs with one vectorised log at the end
  // of the sequence (a scalar log per token costs as much as the token's exps).
  Eigen::ArrayXd shifted, z, logp;
  explicit SeqState(int k) : logits(k), p(k), term_row(k) {}
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

// The next-token distribution at one position: the logits, e = exp(logits − max) and its
// normaliser (so p = e / norm.z); for a memoised one also e's prefix sums, so that each
// further draw only counts.
struct NextToken {
  int k = 0;
  const double* logits = nullptr;
  const double* e = nullptr;
  const double* cdf = nullptr;
  LogNorm norm;
  // The token for u uniform on [0, 1); e is unnormalised, so u is scaled by z instead.
  int draw(double u) const {
    return cdf ? draw_prefix(cdf, e, k, u * norm.z) : draw_token(e, k, u * norm.z);
  }
};

// Vocabularies up to this size memoise next-token distributions (3·(k+1)·k doubles per
// sequence state: 100 KiB at k = 64, small enough to stay in cache and off the mmap path).
constexpr int kMemoMaxVocab = 64;

// Whether policies of this spec memoise (Policy::next): no position-dependent block and
// k ≤ kMemoMaxVocab.
inline bool memoisable(const Spec& s) {
  return !s.has(kPosition) && !s.has(kContextPosition) && s.k <= kMemoMaxVocab;
}

// The weights (internal layout) prepared for fast per-token logits. The weights are read in
// place (they must stay valid and unchanged while the policy is in use); an unaligned pointer
// is copied into aligned memory first, so results never depend on where an array lies.
class Policy {
 public:
  Policy(const Spec& spec, const double* w);
  // A policy on its own copy of w (a snapshot: later changes to w do not reach it).
  static Policy copied(const Spec& spec, const double* w);
  const Spec& spec() const { return spec_; }
  // Fills st for context x (length d).
  void begin(const double* x, SeqState& st) const;
  // logits of every token at position i (0-based) after token `prev` (-1 at i = 0).
  void logits(const SeqState& st, int i, int prev, double* out) const;
  // The same from a sequence's context logits (base, k values) and, with the context_position
  // block, its N × k table (ctxpos), read in place: elementwise sums, the same bits.
  void logits_on(const double* base, const double* ctxpos, int i, int prev, double* out) const;
  // The distribution at position i after `prev`; false when a logit is not finite (as
  // exp_shifted). Without the position blocks the logits depend on (x, prev) only, so a
  // sequence has at most k + 1 distinct ones: each is computed once per begin() and
  // recalled after that (at N = 128, k = 32 that is ≥ 4x fewer exponentials). Recalled and
  // recomputed values are the same bits. out's pointers are valid until the next call.
  // `upcoming` (≥ 0 when known): the previous token of the next call on this thread. Its W2
  // row is fetched towards the cache while this position's exponentials run: at large k the
  // rows come from memory, and a row read on demand is a wait. The values are the same bits.
  bool next(SeqState& st, int i, int prev, NextToken& out, int upcoming = -1) const {
    out.k = spec_.k;
    if (!memoise_) return next_computed(st, i, prev, out, upcoming);
    const std::size_t r = std::size_t(prev + 1);
    if (!st.known[r] && !fill_row(st, prev)) return false;
    const Index at = Index(r) * st.stride;
    out.logits = st.memo_logits.data() + at;
    out.e = st.memo_e.data() + at;
    out.cdf = st.memo_cdf.data() + at;
    out.norm = st.memo_norm[r];
    return true;
  }
  bool memoises() const { return memoise_; }
  // Whether next() prefetches the upcoming W2 row: without the memo, and only when W2 is too
  // large for the caches (below that the prefetches are pure overhead).
  bool prefetches() const { return prefetch_; }
  // Why a sequence's logits were not finite: NaN/inf in the weights, or values too large.
  const char* non_finite_message() const;

 private:
  Policy(const Spec& spec, const double* w, bool copy);
  bool next_computed(SeqState& st, int i, int prev, NextToken& out, int upcoming) const;  // no memo
  bool fill_row(SeqState& st, int prev) const;  // memo row prev + 1
  Spec spec_;
  bool memoise_ = false, prefetch_ = false;
  Eigen::VectorXd own_;  // the weights, when copied
  const double* w_;      // the parameters, internal layout (aligned)
  // max |w| of the context-dependent blocks (context, context_position) and the sum of
  // max |w| over the others: |logit| ≤ ‖x‖₁·ctx_max_ + rest_max_ (NaN when w is not finite).
  // Scanned for models up to kBoundScanMax parameters; larger ones (where a scan per call
  // would cost more than a small call's work) check each token's logits instead (+inf).
  double ctx_max_ = 0.0, rest_max_ = 0.0;
};

constexpr Index kBoundScanMax = Index(1) << 20;

// W2 blocks of at least this many doubles (8 MiB: k ≥ 1024) have their rows prefetched.
constexpr Index kPrefetchMinW2 = Index(1) << 20;


constexpr const char* kNonFinite = "non-finite logits: the weights or contexts are too large for float64";
constexpr const char* kNonFiniteWeights =
    "non-finite logits: the model's weights hold NaN or infinity (written through model.w or model.block(...))";

// max of l[0..k) as one vector reduction (Eigen's maxCoeff runs a scalar loop here). A max
// is exact, so the order of the reduction changes no value.
inline double row_max(const double* l, int k) {
  double m = -std::numeric_limits<double>::infinity();
#pragma omp simd reduction(max : m)
  for (int c = 0; c < k; ++c) m = m < l[c] ? l[c] : m;
  return m;
}

// Whether every gap l − m is finite (false for NaN or infinite logits, or an infinite or NaN
// m), as one vectorised pass with no early exit (Eigen's allFinite is a scalar loop).
inline bool gaps_finite(const double* l, int k, double m) {
  int bad = 0;
#pragma omp simd reduction(| : bad)
  for (int c = 0; c < k; ++c) bad |= !(l[c] - m >= -std::numeric_limits<double>::max());
  return bad == 0 && m < std::numeric_limits<double>::infinity();
}

// e = exp(l − max) (stable: no overflow) and its normaliser. With `check`, returns false
// when a logit, or a gap l − max, is not finite (the weights are too large for float64);
// sequences whose logits are provably finite (SeqState::safe) skip that pass.
inline bool exp_shifted(const double* logits, double* e, int k, LogNorm& norm, bool check) {
  const double m = norm.max = row_max(logits, k);
  if (check && !gaps_finite(logits, k, m)) return false;  // also catches NaN logits (and so a NaN max)
  // Clamping at −700 keeps exp out of the subnormal range (slow on x86) and on
  // exp_nonpositive's domain; it changes nothing that matters: those terms are < 1e-304
  // next to the max's 1.
  for (int c = 0; c < k; ++c) e[c] = exp_nonpositive(std::max(logits[c] - m, -700.0));
  norm.z = Eigen::Map<const Eigen::ArrayXd>(e, k).sum();
  return true;
}

// exp_shifted that also prefetches the k doubles at `ahead` (into L2) along the way, a line per
// 8 values, so the fetches overlap the arithmetic instead of queueing behind a burst. The
// same values, bit for bit (each e[c] is the same expression of logits[c] and m). Kept apart
// from exp_shifted: one function with both loops inlines worse into the memo path (k = 32).
inline bool exp_shifted_fetching(const double* logits, double* e, int k, LogNorm& norm, bool check,
                                 const double* ahead) {
  const double m = norm.max = row_max(logits, k);
  if (check && !gaps_finite(logits, k, m)) return false;
  constexpr int kSpan = 32;  // values per step: 4 cache lines of the row ahead
  for (int c0 = 0; c0 < k; c0 += kSpan) {
    for (int c = c0; c < std::min(c0 + kSpan, k); c += 8) __builtin_prefetch(ahead + c, 0, 2);
    for (int c = c0; c < std::min(c0 + kSpan, k); ++c) e[c] = exp_nonpositive(std::max(logits[c] - m, -700.0));
  }
  norm.z = Eigen::Map<const Eigen::ArrayXd>(e, k).sum();
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

}  // namespace lpgx
