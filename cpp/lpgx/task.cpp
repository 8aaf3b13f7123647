#include "task.hpp"

#include <algorithm>
#include <cstring>

#include "batch.hpp"
#include "rng.hpp"

namespace lpgx {

void draw_task(const Task& task, Index B, std::uint64_t key, double* x, std::int32_t* ystar,
               std::int32_t* index, int n_threads) {
  if (task.n_finite == 0) {
    draw_inputs(task.inputs, B, key, 0, x, index, n_threads);
    greedy(*task.teacher, x, B, ystar, n_threads);
    return;
  }
  const double total = task.finite_cdf.back();
  parallel_for(B, n_threads, [&](Index b) {
    Philox rng(key, std::uint64_t(b));
    const double u = rng.uniform() * total;
    auto it = std::upper_bound(task.finite_cdf.begin(), task.finite_cdf.end(), u);
    Index j = std::min<Index>(it - task.finite_cdf.begin(), task.n_finite - 1);
    std::memcpy(x + b * task.d, task.finite_x + j * task.d, sizeof(double) * std::size_t(task.d));
    std::memcpy(ystar + b * task.N, task.finite_ystar + j * task.N, sizeof(std::int32_t) * std::size_t(task.N));
    if (index) index[b] = static_cast<std::int32_t>(j);
  });
}

}  // namespace lpgx
