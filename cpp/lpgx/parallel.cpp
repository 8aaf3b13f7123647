#include "parallel.hpp"

#include <mutex>

#include <pthread.h>

namespace lpgx {

namespace {
void after_fork_in_child() {
  if (detail::threads_used.load(std::memory_order_relaxed))
    detail::forked_after_threads.store(true, std::memory_order_relaxed);
}
}  // namespace

void install_fork_guard() {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(nullptr, nullptr, after_fork_in_child); });
}

bool threads_lost_in_fork() { return detail::forked_after_threads.load(std::memory_order_relaxed); }

}  // namespace lpgx
