// OpenMP as an implementation detail: a parallel loop over independent items whose result
// never depends on the thread count, plus error capture (no exception may leave a region).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

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

// Interrupting long parallel loops. While an InterruptScope lives on a thread, every loop
// below started from that thread calls its check() between items, from that same thread
// (the master of the OpenMP team), at most every kCheckSeconds. When check() throws (Ctrl-C),
// the loop hands out no more items and rethrows once every worker is out of the region.
class InterruptScope {
 public:
  static constexpr double kCheckSeconds = 0.05;
  explicit InterruptScope(std::function<void()> check)
      : check_(std::move(check)), outer_(current_), last_(std::chrono::steady_clock::now()) {
    current_ = this;
  }
  ~InterruptScope() { current_ = outer_; }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
  static InterruptScope* current() { return current_; }
  // Runs check() if kCheckSeconds have passed; reads the clock every 8th call only.
  void maybe_check() {
    if (++calls_ % 8 != 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_).count() < kCheckSeconds) return;
    last_ = now;
    check_();
  }

 private:
  std::function<void()> check_;
  InterruptScope* outer_;
  std::chrono::steady_clock::time_point last_;
  unsigned calls_ = 0;
  static inline thread_local InterruptScope* current_ = nullptr;
};

// fn(i, state) for i in [0, n), dynamically scheduled, with one State per worker made by
// make() (scratch reused across items instead of allocated for each); fn must write only
// to item i's outputs.
template <class Make, class Fn>
void parallel_for_with(Index n, int n_threads, Make&& make, Fn&& fn) {
  InterruptScope* const scope = InterruptScope::current();
  std::atomic<bool> stop{false};
  std::exception_ptr interrupted;
  auto check = [&] {  // on the calling thread only
    if (!scope || stop.load(std::memory_order_relaxed)) return;
    try {
      scope->maybe_check();
    } catch (...) {
      interrupted = std::current_exception();
      stop.store(true, std::memory_order_relaxed);
    }
  };
#ifdef LPGX_HAVE_OPENMP
  if (n_threads > 1 && n > 1) {
#pragma omp parallel num_threads(n_threads)
    {
      auto state = make();
      const bool master = omp_get_thread_num() == 0;
#pragma omp for schedule(dynamic, 1)
      for (Index i = 0; i < n; ++i) {
        if (master) check();
        if (!stop.load(std::memory_order_relaxed)) fn(i, state);
      }
    }
  } else
#else
  (void)n_threads;
#endif
  {
    auto state = make();
    for (Index i = 0; i < n; ++i) {
      check();
      if (stop.load(std::memory_order_relaxed)) break;
      fn(i, state);
    }
  }
  if (interrupted) std::rethrow_exception(interrupted);
}

// fn(i) for i in [0, n), as parallel_for_with without per-worker state.
template <class Fn>
void parallel_for(Index n, int n_threads, Fn&& fn) {
  parallel_for_with(n, n_threads, [] { return 0; }, [&](Index i, int&) { fn(i); });
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
