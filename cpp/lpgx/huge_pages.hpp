// Parameter vectors on transparent huge pages, where the kernel offers them.
//
// At large k the W2 rows a token reads lie anywhere in k² doubles: on 4 KiB pages every row
// costs TLB misses, and the hardware prefetcher stops at each page boundary. numpy advises
// its own arrays of 4 MiB and more in the same way.
#pragma once
#include <cstdint>

#include <Eigen/Core>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace lpgx {

// An uninitialised vector of n doubles whose whole 4 KiB pages are advised huge before any
// is touched (the advice only reaches pages faulted in later). Advice the kernel refuses is
// ignored: the vector is the same, only slower to read.
inline Eigen::VectorXd huge_page_vector(Eigen::Index n) {
  Eigen::VectorXd v(n);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kPage = 4096, kMin = std::uintptr_t(1) << 22;
  const auto begin = reinterpret_cast<std::uintptr_t>(v.data());
  const std::uintptr_t end = begin + std::uintptr_t(n) * sizeof(double);
  const std::uintptr_t first = (begin + kPage - 1) / kPage * kPage, last = end / kPage * kPage;
  if (last > first && last - first >= kMin) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#endif
  return v;
}

}  // namespace lpgx
