#include "prev_gradient.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "gradient.hpp"

namespace lpgx {

bool prev_gradient_by_token(const Policy& pol) {
  const Spec& s = pol.spec();
  return !pol.memoises() && s.has(kPrevToken) && !s.has(kContextPosition) && s.k > GradAccum::kDenseRows;
}

namespace {

constexpr int kCols = 8;  // previous tokens per work item: one cache line of each row of W2

// The work items' columns. When every row of W2 starts at the same offset in a cache line (k a
// multiple of kCols), the items are shifted so that each one's segment of a row is a whole
// line, and it is written with streaming stores: writing k² doubles is the step's largest
// memory traffic, and a line written whole need not be read first.
struct Blocks {
  int k, lead = 0;  // columns of a short first block, so the others start on a line
  bool whole_lines = false;
  Blocks(int k_, const double* w2) : k(k_) {
    const auto doubles = reinterpret_cast<std::uintptr_t>(w2) / sizeof(double);
#if defined(__SSE2__)
    whole_lines = k % kCols == 0 && reinterpret_cast<std::uintptr_t>(w2) % sizeof(double) == 0;
#endif
    if (whole_lines) lead = int((kCols - doubles % kCols) % kCols);
  }
  Index count() const { return (lead ? 1 : 0) + (Index(k - lead) + kCols - 1) / kCols; }
  int begin(Index b) const { return lead && b == 0 ? 0 : lead + int(b - (lead ? 1 : 0)) * kCols; }
  int size(Index b) const { return lead && b == 0 ? lead : std::min(kCols, k - begin(b)); }
};

struct Scratch {
  SeqState st;
  Eigen::VectorXd partial;  // the current chunk's sum for one previous token
  Eigen::MatrixXd total;    // k × kCols: the sums over chunks, one column per previous token
  explicit Scratch(int k) : st(k), partial(k), total(k, kCols) {}
};

}  // namespace

void prev_gradient_flat(const Policy& pol, const double* base, const std::int32_t* y, const double* weights,
                        const Chunks& chunks, double* w2, int n_threads) {
  const Spec& s = pol.spec();
  const int k = s.k, N = s.N;
  const Index B = chunks.n;
  const auto weight = [&](Index t) { return weights ? weights[t] : 1.0; };
  // The tokens i ≥ 1 with a ≠ 0 (pass 1 skips a = 0), grouped by previous token, each group
  // in (b, i) order: a counting sort.
  std::vector<Index> start(std::size_t(k) + 1, 0);
  for (Index b = 0; b < B; ++b)
    for (int i = 1; i < N; ++i)
      if (weight(b * N + i) != 0.0) ++start[std::size_t(y[b * N + i - 1]) + 1];
  for (int p = 0; p < k; ++p) start[std::size_t(p) + 1] += start[std::size_t(p)];
  std::vector<Index> token(std::size_t(start[std::size_t(k)]));
  {
    std::vector<Index> next(start.begin(), start.end() - 1);
    for (Index b = 0; b < B; ++b)
      for (int i = 1; i < N; ++i)
        if (weight(b * N + i) != 0.0) token[std::size_t(next[std::size_t(y[b * N + i - 1])]++)] = b * N + i;
  }
  const Blocks blocks(k, w2);
  parallel_for_with(blocks.count(), n_threads, [&] { return Scratch(k); }, [&](Index block, Scratch& sc) {
    const int p0 = blocks.begin(block), np = blocks.size(block);
    SeqState& st = sc.st;
    for (int j = 0; j < np; ++j) {
      const int p = p0 + j;
      auto total = sc.total.col(j);
      total.setZero();
      Index chunk = -1, b_loaded = -1;
      for (Index r = start[std::size_t(p)]; r < start[std::size_t(p) + 1]; ++r) {
        const Index t = token[std::size_t(r)], b = t / N;
        const int i = int(t % N);
        if (b / chunks.size != chunk) {  // a new chunk: the last one's sum joins the total
          if (chunk >= 0) total += sc.partial;
          chunk = b / chunks.size;
          sc.partial.setZero();
        }
        if (b != b_loaded) {
          st.base = Eigen::Map<const Eigen::VectorXd>(base + b * k, k);
          b_loaded = b;
        }
        // The same operations as pass 1's next_computed and accumulate: the same bits.
        pol.logits(st, i, p, st.logits.data());
        LogNorm norm;
        exp_shifted(st.logits.data(), st.p.data(), k, norm, false);  // pass 1 checked finiteness
        const double a = weight(t), scale = -a / norm.z;
        for (int c = 0; c < k; ++c) st.p[c] = st.p[c] * scale;
        st.p[y[t]] += a;
        sc.partial += st.p;
      }
      if (chunk >= 0) total += sc.partial;
    }
    // Columns p0 … p0 + np − 1 of W2, one cache line per row; unvisited ones are zero.
    bool visited[kCols];
    for (int j = 0; j < np; ++j) visited[j] = start[std::size_t(p0 + j)] != start[std::size_t(p0 + j) + 1];
#if defined(__SSE2__)
    if (blocks.whole_lines && np == kCols) {
      alignas(64) double line[kCols];
      for (Index c = 0; c < k; ++c) {
        for (int j = 0; j < kCols; ++j) line[j] = visited[j] ? sc.total(c, j) : 0.0;
        double* wc = w2 + c * k + p0;
        for (int j = 0; j < kCols; j += 2) _mm_stream_pd(wc + j, _mm_load_pd(line + j));
      }
      _mm_sfence();
      return;
    }
#endif
    for (Index c = 0; c < k; ++c) {
      double* wc = w2 + c * k + p0;
      for (int j = 0; j < np; ++j) wc[j] = visited[j] ? sc.total(c, j) : 0.0;
    }
  });
}

}  // namespace lpgx
