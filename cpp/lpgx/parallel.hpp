// OpenMP as an implementation detail: a parallel loop over independent items whose result
// never depends on the thread count, plus error capture (no exception may leave a region).
#pragma once
#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#ifdef LPGX_HAVE_OPENMP
#include <omp.h>
#endif

namespace lpgx {

using Index = std::int64_t;

inline bool openmp_enabled() {
#ifdef LPGX_HAVE_OPENMP
  return true;
#else
  return false;
#endif
}

inline int max_threads() {
#ifdef LPGX_HAVE_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// First error raised inside a parallel region, rethrown after it.
class ErrorFlag {
 public:
  void set(const char* what) {
    bool expected = false;
    if (raised_.compare_exchange_strong(expected, true)) what_ = what;
  }
  bool raised() const { return raised_.load(std::memory_order_relaxed); }
  void rethrow() const {
    if (raised_) throw std::domain_error(what_);
  }

 private:
  std::atomic<bool> raised_{false};
  const char* what_ = "";
};

// fn(i) for i in [0, n), dynamically scheduled; fn must write only to item i's outputs.
template <class Fn>
void parallel_for(Index n, int n_threads, Fn&& fn) {
#ifdef LPGX_HAVE_OPENMP
  if (n_threads > 1 && n > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
    for (Index i = 0; i < n; ++i) fn(i);
    return;
  }
#else
  (void)n_threads;
#endif
  for (Index i = 0; i < n; ++i) fn(i);
}

// fn(i, state) as parallel_for, with one State per worker made by make(): scratch buffers
// are reused across items instead of allocated for each.
template <class Make, class Fn>
void parallel_for_with(Index n, int n_threads, Make&& make, Fn&& fn) {
#ifdef LPGX_HAVE_OPENMP
  if (n_threads > 1 && n > 1) {
#pragma omp parallel num_threads(n_threads)
    {
      auto state = make();
#pragma omp for schedule(dynamic, 1)
      for (Index i = 0; i < n; ++i) fn(i, state);
    }
    return;
  }
#else
  (void)n_threads;
#endif
  auto state = make();
  for (Index i = 0; i < n; ++i) fn(i, state);
}

// Fixed partition of [0, n) into chunks that depends on n and the per-chunk buffer size
// only (not on threads), so chunked reductions add in the same order on any machine.
struct Chunks {
  Index n, count, size;
  Chunks(Index n_items, Index buffer_len, Index max_chunks = 64, Index max_total = Index(1) << 24)
      : n(n_items) {
    Index c = n_items < max_chunks ? n_items : max_chunks;
    const Index cap = buffer_len > 0 ? max_total / buffer_len : c;
    if (c > cap) c = cap;
    if (c < 1) c = 1;
    size = (n_items + c - 1) / c;
    count = size > 0 ? (n_items + size - 1) / size : 1;
    if (count < 1) count = 1;
  }
  Index begin(Index c) const { return c * size; }
  Index end(Index c) const { return (c + 1) * size < n ? (c + 1) * size : n; }
};

}  // namespace lpgx
