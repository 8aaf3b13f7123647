// OpenMP as an implementation detail: parallel loops over independent items whose results never
// depend on the thread count, with every exception (an allocation failure, a Ctrl-C) captured
// inside the region and rethrown after it, and one interruption mechanism for every long loop.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
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

// Fork safety. GNU libgomp's thread pool does not survive fork(): a child that enters a
// parallel region after its parent ran one waits forever for workers that do not exist.
// install_fork_guard() registers a pthread_atfork handler; in such a child every loop below
// runs on the calling thread (same results: they never depend on the thread count).
void install_fork_guard();
bool threads_lost_in_fork();  // this process is such a child
namespace detail {
inline std::atomic<bool> threads_used{false};
inline std::atomic<bool> forked_after_threads{false};
}  // namespace detail

// The first error raised by a worker inside a parallel region, rethrown after it.
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

// Interrupting long loops. While an InterruptScope lives on a thread, the loops started from
// that thread call its check() at their interruption points (between the items of a parallel
// loop, and inside long items such as the algorithms' exploration loops), from the calling
// thread only (the master of the OpenMP team), at most every kCheckSeconds. check() throws
// to abandon the work; the other workers of the team then stop at their next interruption
// point too (the scope is cancelled).
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
  // Work that must finish once started (a completed step's records) runs under a Suspend:
  // no interruption point of this thread fires meanwhile.
  class Suspend {
   public:
    Suspend() : saved_(current_) { current_ = nullptr; }
    ~Suspend() { current_ = saved_; }
    Suspend(const Suspend&) = delete;
    Suspend& operator=(const Suspend&) = delete;

   private:
    InterruptScope* saved_;
  };
  // The scope of the team a worker thread serves (set by parallel_for_with).
  static InterruptScope* worker() { return worker_; }
  static void set_worker(InterruptScope* scope) { worker_ = scope; }
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  void reset() { cancelled_.store(false, std::memory_order_relaxed); }
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
  std::atomic<bool> cancelled_{false};
  static inline thread_local InterruptScope* current_ = nullptr;
  static inline thread_local InterruptScope* worker_ = nullptr;
};

// Thrown at a worker's interruption point once its team's scope is cancelled.
struct Cancelled : std::exception {
  const char* what() const noexcept override { return "cancelled"; }
};

// A point where a long loop may be interrupted (cheap: a counter, or a flag on workers).
inline void interruption_point() {
  if (InterruptScope* scope = InterruptScope::current()) {
    scope->maybe_check();
  } else if (InterruptScope* scope = InterruptScope::worker()) {
    if (scope->cancelled()) throw Cancelled();
  }
}

// The first exception thrown inside a region (by any thread), kept to be rethrown after it.
class FirstException {
 public:
  void capture() {
    bool expected = false;
    if (set_.compare_exchange_strong(expected, true)) error_ = std::current_exception();
  }
  bool set() const { return set_.load(std::memory_order_relaxed); }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::atomic<bool> set_{false};
  std::exception_ptr error_;
};

// fn(i, state) for i in [0, n), dynamically scheduled, with one State per worker made by
// make() (scratch reused across items instead of allocated for each); fn must write only to
// item i's outputs. The first exception (from make, fn or an interruption check) stops the
// handing out of items and is rethrown once every worker is out of the region.
template <class Make, class Fn>
void parallel_for_with(Index n, int n_threads, Make&& make, Fn&& fn) {
  InterruptScope* const scope = InterruptScope::current();
  FirstException failure;
  auto run = [&](std::optional<decltype(make())>& state, Index i, bool master) {
    try {
      if (master && scope) scope->maybe_check();
      if (failure.set()) return;
      if (!state) state.emplace(make());
      fn(i, *state);
    } catch (...) {
      failure.capture();
      if (scope) scope->cancel();  // the other workers stop at their next interruption point
    }
  };
#ifdef LPGX_HAVE_OPENMP
  if (n_threads > 1 && n > 1 && !detail::forked_after_threads.load(std::memory_order_relaxed)) {
    detail::threads_used.store(true, std::memory_order_relaxed);
#pragma omp parallel num_threads(n_threads)
    {
      std::optional<decltype(make())> state;
      const bool master = omp_get_thread_num() == 0;
      if (!master) InterruptScope::set_worker(scope);
#pragma omp for schedule(dynamic, 1)
      for (Index i = 0; i < n; ++i) run(state, i, master);
      if (!master) InterruptScope::set_worker(nullptr);
    }
  } else
#else
  (void)n_threads;
#endif
  {
    std::optional<decltype(make())> state;
    for (Index i = 0; i < n && !failure.set(); ++i) run(state, i, true);
  }
  if (scope) scope->reset();
  failure.rethrow();
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
