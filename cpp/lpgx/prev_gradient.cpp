#include "prev_gradient.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "gradient.hpp"
#include "parallel.hpp"

namespace lpgx {

bool grad_by_prev_columns(const Policy& pol) {
  const Spec& s = pol.spec();
  return !pol.memoises() && s.has(kPrevToken) && !s.has(kContextPosition) && s.k > GradAccum::kDenseRows;
}

namespace {

// Whether token t (= b·N + i, i ≥ 1) adds to the gradient: accumulate_sequence skips a = 0.
inline bool counted(const double* weights, Index t) { return !weights || weights[t] != 0.0; }

// Where each column is summed. Per chunk c, `own` lists the previous tokens whose first counted
// token lies in c (c sums them in the table), `later` the ones an earlier chunk has already
// begun (c sums them in rows of its own): own[own_start[c] … own_start[c + 1]), likewise later.
struct Plan {
  std::vector<int> row;  // per previous token: its row of the table, or −1
  std::vector<std::int32_t> tokens;
  std::vector<Index> own_start, later_start;
  std::vector<int> own, later;
  Plan(int k, int N, const Chunks& chunks, const std::int32_t* y, const double* weights) : row(std::size_t(k), -1) {
    std::vector<Index> last(std::size_t(k), -1);  // the last chunk seen with p
    for (Index c = 0; c < chunks.count; ++c) {
      own_start.push_back(Index(own.size()));
      later_start.push_back(Index(later.size()));
      for (Index b = chunks.begin(c); b < chunks.end(c); ++b)
        for (int i = 1; i < N; ++i) {
          if (!counted(weights, b * N + i)) continue;
          const int p = y[b * N + i - 1];
          if (last[std::size_t(p)] == c) continue;
          (last[std::size_t(p)] < 0 ? own : later).push_back(p);
          last[std::size_t(p)] = c;
        }
    }
    own_start.push_back(Index(own.size()));
    later_start.push_back(Index(later.size()));
    for (int p = 0; p < k; ++p)
      if (last[std::size_t(p)] >= 0) {
        row[std::size_t(p)] = int(tokens.size());
        tokens.push_back(p);
      }
  }
};

// One chunk's sums: the dense blocks, and the rows of the previous tokens in its `later` list.
struct ChunkSums {
  GradAccum dense;
  std::vector<double> later;
  ChunkSums(const Spec& s, bool context_at_flush) : dense(s, false, context_at_flush) {}
};

// Chunks' sums, handed out from a small pool and added into the results in chunk order as soon
// as every earlier chunk is in: the dense blocks as GradAccum::flush_dense adds them, the later
// rows into the table. About 2·n_threads chunks' sums are alive at once, not one per chunk: each
// holds the dense blocks (d·k doubles at large k, unless its context block is added at flush),
// and 64 fresh ones would cost a page fault per 4 KiB per call.
class OrderedSums {
 public:
  OrderedSums(const Spec& s, const Plan& plan, const Chunks& chunks, double* grad, double* table)
      : spec_(s), plan_(plan), one_sequence_(chunks.size == 1), done_(std::size_t(chunks.count)), grad_(grad),
        table_(table) {}
  std::unique_ptr<ChunkSums> take() {
    std::unique_ptr<ChunkSums> g;
    {
      std::lock_guard<std::mutex> lock(m_);
      if (!free_.empty()) {
        g = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!g) return std::make_unique<ChunkSums>(spec_, one_sequence_);
    g->dense.clear();
    return g;
  }
  void finish(Index chunk, std::unique_ptr<ChunkSums> g) {
    std::lock_guard<std::mutex> lock(m_);
    done_[std::size_t(chunk)] = std::move(g);
    for (; next_ < done_.size() && done_[next_]; ++next_) {
      ChunkSums& c = *done_[next_];
      GradAccum::flush_dense(&c.dense, 1, 1, grad_);
      const int k = spec_.k;
      const Index first = plan_.later_start[next_];
      for (Index j = first; j < plan_.later_start[next_ + 1]; ++j)
        Eigen::Map<Eigen::VectorXd>(table_ + Index(plan_.row[std::size_t(plan_.later[std::size_t(j)])]) * k, k) +=
            Eigen::Map<const Eigen::VectorXd>(c.later.data() + (j - first) * k, k);
      free_.push_back(std::move(done_[next_]));
    }
  }

 private:
  const Spec& spec_;
  const Plan& plan_;
  bool one_sequence_;  // chunks of one sequence: their context block is added at flush
  std::mutex m_;
  std::vector<std::unique_ptr<ChunkSums>> done_, free_;
  std::size_t next_ = 0;
  double* grad_;
  double* table_;
};

struct Worker {
  SeqState st;
  RowWeights rows{0};  // unused: these policies do not memoise
  // per previous token: the row its tokens' gradients go to, and whether it is unwritten
  std::vector<double*> row;
  std::vector<std::uint8_t> fresh;
  GradAccum::RoutedRows routed;
  explicit Worker(int k)
      : st(k), row(std::size_t(k), nullptr), fresh(std::size_t(k), 0), routed{row.data(), fresh.data()} {}
  Worker(const Worker&) = delete;
  Worker(Worker&& o) noexcept
      : st(std::move(o.st)), row(std::move(o.row)), fresh(std::move(o.fresh)), routed{row.data(), fresh.data()} {}
  void route(int p, double* r) {
    row[std::size_t(p)] = r;
    fresh[std::size_t(p)] = 1;
  }
};

}  // namespace

std::vector<std::int32_t> prev_tokens_of(int k, int N, Index B, const std::int32_t* y, const double* weights) {
  std::vector<std::uint8_t> seen(std::size_t(k), 0);
  for (Index b = 0; b < B; ++b)
    for (int i = 1; i < N; ++i)
      if (counted(weights, b * N + i)) seen[std::size_t(y[b * N + i - 1])] = 1;
  std::vector<std::int32_t> tokens;
  for (int p = 0; p < k; ++p)
    if (seen[std::size_t(p)]) tokens.push_back(p);
  return tokens;
}

void grad_log_prob_columns(const Policy& pol, const double* x, const std::int32_t* y, const double* weights,
                           Index B, double* grad, double* token_logp, int n_threads, PrevColumns& cols) {
  const Spec& s = pol.spec();
  const int k = s.k;
  const Chunks chunks(B, GradAccum::dense_size(s));
  const Plan plan(k, s.N, chunks, y, weights);
  cols.tokens = plan.tokens;
  cols.table = std::make_unique<PooledDoubles>(Index(plan.tokens.size()) * k);  // rows written first by the chunk that begins them
  double* table = cols.table->data();
  // The dense blocks of grad are written (zeros) before the chunks add into them: a fresh
  // calloc'd page read first maps the zero page, and the write after it faults again and
  // flushes the other threads' TLBs.
  std::fill(grad, grad + s.off_prev, 0.0);
  std::fill(grad + s.off_prev + Index(k) * k, grad + s.num_params, 0.0);
  OrderedSums ordered(s, plan, chunks, grad, table);
  ErrorFlag err;
  parallel_for_with(chunks.count, n_threads, [&] { return Worker(k); }, [&](Index c, Worker& w) {
    std::unique_ptr<ChunkSums> sums = ordered.take();
    for (Index j = plan.own_start[std::size_t(c)]; j < plan.own_start[std::size_t(c) + 1]; ++j) {
      const int p = plan.own[std::size_t(j)];
      w.route(p, table + Index(plan.row[std::size_t(p)]) * k);
    }
    const Index first = plan.later_start[std::size_t(c)];
    sums->later.resize(std::size_t((plan.later_start[std::size_t(c) + 1] - first) * k));
    for (Index j = first; j < plan.later_start[std::size_t(c) + 1]; ++j)
      w.route(plan.later[std::size_t(j)], sums->later.data() + (j - first) * k);
    GradAccum& g = sums->dense;
    g.route_prev_rows(&w.routed);
    for (Index b = chunks.begin(c); b < chunks.end(c) && !err.raised(); ++b) {
      pol.begin(x + b * s.d, w.st);
      if (!accumulate_sequence(pol, w.st, y + b * s.N, weights ? weights + b * s.N : nullptr, w.rows, g,
                               token_logp ? token_logp + b * s.N : nullptr)) {
        err.set(pol.non_finite_message());
        return;
      }
    }
    g.route_prev_rows(nullptr);
    ordered.finish(c, std::move(sums));
  });
  err.rethrow();
}

void write_columns(const PrevColumns& cols, int k, double* w2, int n_threads) {
  // Rows of W2 per work item, so each page of a fresh (calloc) result is written right after the
  // kernel zeroed it, while it is still in cache; the table is read kRows values (a line) at a
  // time, the next ones fetched ahead since they are a row of the table apart.
  constexpr Index kRows = 8, kAhead = 8;
  const Index V = Index(cols.tokens.size());
  const double* table = cols.table->data();
  parallel_for((Index(k) + kRows - 1) / kRows, n_threads, [&](Index tile) {
    const Index c0 = tile * kRows, nc = std::min<Index>(kRows, k - c0);
    for (Index j = 0; j < V; ++j) {
      if (j + kAhead < V) __builtin_prefetch(table + (j + kAhead) * k + c0, 0, 0);
      const double* src = table + j * k + c0;
      double* dst = w2 + c0 * k + cols.tokens[std::size_t(j)];
      for (Index c = 0; c < nc; ++c) dst[c * k] = src[c];
    }
  });
}

void take_columns(double* w2, int k, PrevColumns& cols) {
  const Index V = Index(cols.tokens.size());
  cols.table = std::make_unique<PooledDoubles>(V * k);
  double* table = cols.table->data();
  for (Index j = 0; j < V; ++j)
    for (Index c = 0; c < k; ++c) {
      double& v = w2[c * k + cols.tokens[std::size_t(j)]];
      table[j * k + c] = v;
      v = 0.0;
    }
}

}  // namespace lpgx
