#include "prev_gradient.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "gradient.hpp"
#include "huge_pages.hpp"

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

// The tokens i ≥ 1 with a ≠ 0 (pass 1 skips a = 0), grouped by previous token, each group in
// (b, i) order: a counting sort. Tokens of previous token p: token[start[p] … start[p + 1]).
struct ByPrev {
  std::vector<Index> start, token;
  std::vector<int> visited;  // the previous tokens that occur, ascending
  ByPrev(int k, int N, Index B, const std::int32_t* y, const double* weights) : start(std::size_t(k) + 1, 0) {
    const auto counted = [&](Index t) { return !weights || weights[t] != 0.0; };
    for (Index b = 0; b < B; ++b)
      for (int i = 1; i < N; ++i)
        if (counted(b * N + i)) ++start[std::size_t(y[b * N + i - 1]) + 1];
    for (int p = 0; p < k; ++p) start[std::size_t(p) + 1] += start[std::size_t(p)];
    token.resize(std::size_t(start[std::size_t(k)]));
    std::vector<Index> next(start.begin(), start.end() - 1);
    for (Index b = 0; b < B; ++b)
      for (int i = 1; i < N; ++i)
        if (counted(b * N + i)) token[std::size_t(next[std::size_t(y[b * N + i - 1])]++)] = b * N + i;
    for (int p = 0; p < k; ++p)
      if (occurs(p)) visited.push_back(p);
  }
  bool occurs(int p) const { return start[std::size_t(p)] != start[std::size_t(p) + 1]; }
};

// total (k values) = ∂/∂W2[:, p]: the same operations as pass 1's next_computed and
// accumulate, per chunk from zero and then over the chunks in order, so the same bits.
void sum_for_prev(const Policy& pol, const double* base, const std::int32_t* y, const double* weights,
                  const Chunks& chunks, const ByPrev& by, int p, Scratch& sc, double* total_out) {
  const int k = pol.spec().k, N = pol.spec().N;
  SeqState& st = sc.st;
  Eigen::Map<Eigen::VectorXd> total(total_out, k);
  total.setZero();
  Index chunk = -1;
  for (Index r = by.start[std::size_t(p)]; r < by.start[std::size_t(p) + 1]; ++r) {
    const Index t = by.token[std::size_t(r)], b = t / N;
    const int i = int(t % N);
    if (b / chunks.size != chunk) {  // a new chunk: the last one's sum joins the total
      if (chunk >= 0) total += sc.partial;
      chunk = b / chunks.size;
      sc.partial.setZero();
    }
    pol.logits_on(base + b * k, nullptr, i, p, st.logits.data());  // no context_position block here
    LogNorm norm;
    exp_shifted(st.logits.data(), st.p.data(), k, norm, false);  // pass 1 checked finiteness
    // partial += a (e_y − p), p = e/z: pass 1's g_row (e·scale, then + a at y) added in one go.
    // Each product is also stored: a product with another use is never fused into the add, so
    // it is rounded first, as in pass 1 (checked bit for bit against pass 1's rows).
    const double a = weights ? weights[t] : 1.0, scale = -a / norm.z;
    const int yt = y[t];
    const double at_y = sc.partial[yt];
    double* e = st.p.data();
    double* s = sc.partial.data();
    for (int c = 0; c < k; ++c) {
      const double v = e[c] * scale;
      e[c] = v;
      s[c] += v;
    }
    s[yt] = at_y + (e[yt] + a);
  }
  if (chunk >= 0) total += sc.partial;
}

// Few previous tokens visited (the common case at large k, where a call's B·N tokens are far
// fewer than k): their sums go to a compact table first (visited · k doubles), then the
// visited columns of W2 are written a few rows at a time. A page of the result is then
// written right after the kernel has zeroed it (calloc), while it is still in cache.
void write_rows(const Policy& pol, const double* base, const std::int32_t* y, const double* weights,
                const Chunks& chunks, const ByPrev& by, double* w2, int n_threads) {
  const int k = pol.spec().k;
  const std::vector<int>& visited = by.visited;
  const Index V = Index(visited.size());
  Eigen::VectorXd sums = huge_page_vector(V * k);  // row j: the sums of previous token visited[j]
  parallel_for_with(V, n_threads, [&] { return Scratch(k); }, [&](Index j, Scratch& sc) {
    sum_for_prev(pol, base, y, weights, chunks, by, visited[std::size_t(j)], sc, sums.data() + j * k);
  });
  // Rows of W2 per work item: the visited sums are read kRows at a time (whole lines), the
  // next ones fetched ahead since they are a row of the table apart.
  constexpr Index kRows = 8, kAhead = 8;
  parallel_for((Index(k) + kRows - 1) / kRows, n_threads, [&](Index tile) {
    const Index c0 = tile * kRows, nc = std::min<Index>(kRows, k - c0);
    for (Index j = 0; j < V; ++j) {
      if (j + kAhead < V) __builtin_prefetch(sums.data() + (j + kAhead) * k + c0, 0, 0);
      const double* src = sums.data() + j * k + c0;
      double* dst = w2 + c0 * k + visited[std::size_t(j)];
      for (Index c = 0; c < nc; ++c) dst[c * k] = src[c];
    }
  });
}

// Many previous tokens visited: blocks of kCols columns, each summed and written at once, every
// line of W2 written whole (and only once) with streaming stores.
void write_column_blocks(const Policy& pol, const double* base, const std::int32_t* y, const double* weights,
                         const Chunks& chunks, const ByPrev& by, double* w2, int n_threads) {
  const int k = pol.spec().k;
  const Blocks blocks(k, w2);
  parallel_for_with(blocks.count(), n_threads, [&] { return Scratch(k); }, [&](Index block, Scratch& sc) {
    const int p0 = blocks.begin(block), np = blocks.size(block);
    for (int j = 0; j < np; ++j) sum_for_prev(pol, base, y, weights, chunks, by, p0 + j, sc, sc.total.col(j).data());
    // Columns p0 … p0 + np − 1 of W2, one cache line per row; unvisited ones are zero.
    bool visited[kCols];
    for (int j = 0; j < np; ++j) visited[j] = by.occurs(p0 + j);
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

}  // namespace

void prev_gradient_flat(const Policy& pol, const double* base, const std::int32_t* y, const double* weights,
                        const Chunks& chunks, double* w2, int n_threads) {
  const int k = pol.spec().k;
  const ByPrev by(k, pol.spec().N, chunks.n, y, weights);
  if (2 * by.visited.size() <= std::size_t(k))  // the compact table takes at most half the result's size
    write_rows(pol, base, y, weights, chunks, by, w2, n_threads);
  else
    write_column_blocks(pol, base, y, weights, chunks, by, w2, n_threads);
}

}  // namespace lpgx
