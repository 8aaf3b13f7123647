#include "buffer_pool.hpp"

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace lpgx {

namespace {

constexpr std::size_t kAlign = std::size_t(1) << 21;  // a huge page: the advice covers all of it

struct Free {
  double* data;
  Index capacity;
};

std::mutex& pool_mutex() {
  static std::mutex m;
  return m;
}

std::vector<Free>& pool() {
  static std::vector<Free>* kept = new std::vector<Free>();  // never destroyed: buffers may be freed at exit
  return *kept;
}

double* allocate(Index capacity) {
  const std::size_t bytes = (std::size_t(capacity) * sizeof(double) + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, bytes);
  if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(p, bytes, MADV_HUGEPAGE);  // refused advice only costs speed
#endif
  return static_cast<double*>(p);
}

}  // namespace

PooledDoubles::PooledDoubles(Index n) : size_(n) {
  if (n < kPooledMin) {
    capacity_ = n;
    data_ = n ? static_cast<double*>(std::malloc(std::size_t(n) * sizeof(double))) : nullptr;
    if (n && !data_) throw std::bad_alloc();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(pool_mutex());
    std::vector<Free>& kept = pool();
    // the smallest kept buffer that fits, if it is not more than twice the size asked for
    std::size_t best = kept.size();
    for (std::size_t i = 0; i < kept.size(); ++i)
      if (kept[i].capacity >= n && kept[i].capacity <= 2 * n && (best == kept.size() || kept[i].capacity < kept[best].capacity))
        best = i;
    if (best < kept.size()) {
      data_ = kept[best].data;
      capacity_ = kept[best].capacity;
      kept.erase(kept.begin() + std::ptrdiff_t(best));
      return;
    }
  }
  capacity_ = n;
  data_ = allocate(n);
}

PooledDoubles::~PooledDoubles() {
  if (!data_) return;
  if (capacity_ < kPooledMin || capacity_ > kKeptMax) {
    std::free(data_);
    return;
  }
  Free spill{nullptr, 0};
  {
    std::lock_guard<std::mutex> lock(pool_mutex());
    std::vector<Free>& kept = pool();
    kept.push_back({data_, capacity_});
    if (kept.size() > std::size_t(kKept)) {  // let the oldest go
      spill = kept.front();
      kept.erase(kept.begin());
    }
  }
  std::free(spill.data);
}

}  // namespace lpgx
