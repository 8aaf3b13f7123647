// Large result buffers that outlive a call, recycled: a buffer the caller has let go is kept
// for the next call that needs about as much, with its pages still mapped.
//
// A fresh buffer of many megabytes costs a page fault per page on first touch, and the
// kernel zeroes each page then: at k = 16384 that is a third of a sparse gradient's time.
// A loop that asks for a gradient and drops it (training, benchmarks) gets the same memory
// back instead. At most kKept buffers of up to kKeptMax doubles are held: at most 1 GiB.
#pragma once
#include <cstddef>
#include <memory>

#include "model.hpp"

namespace lpgx {

// n doubles, uninitialised (a recycled buffer holds old values), on transparent huge pages
// where the kernel offers them (huge_pages.hpp). Returned to the pool when destroyed.
class PooledDoubles {
 public:
  explicit PooledDoubles(Index n);
  ~PooledDoubles();
  PooledDoubles(const PooledDoubles&) = delete;
  PooledDoubles& operator=(const PooledDoubles&) = delete;
  double* data() const { return data_; }
  Index size() const { return size_; }

 private:
  double* data_ = nullptr;
  Index size_ = 0, capacity_ = 0;
};

constexpr int kKept = 2;                      // buffers held for reuse
constexpr Index kPooledMin = Index(1) << 17;  // smaller ones (< 1 MiB) come from malloc each time
constexpr Index kKeptMax = Index(1) << 26;    // larger ones (> 512 MiB) go back to the system at once

}  // namespace lpgx
