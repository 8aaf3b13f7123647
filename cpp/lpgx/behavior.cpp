#include "behavior.hpp"

#include <algorithm>

#include "batch.hpp"
#include "rng.hpp"

namespace lpgx {

void sample_behavior(const Behavior& beh, const Policy& current, const Policy* base, const double* x,
                     const std::int32_t* ystar, Index B, std::uint64_t key, std::int32_t* y,
                     std::int64_t* queries, int n_threads) {
  const Spec& s = current.spec();
  const int k = s.k, N = s.N;
  const bool uses_base = beh.kind == Behavior::kFrozen || beh.kind == Behavior::kBaseUniformSeq ||
                         beh.kind == Behavior::kBaseUniformToken;
  const Policy& pol = uses_base ? *base : current;
  ErrorFlag err;
  parallel_for_with(B, n_threads, [&] { return SeqState(k); }, [&](Index b, SeqState& st) {
    std::int32_t* yb = y + b * N;
    const std::int32_t* ys = ystar + b * N;
    queries[b] = 0;
    Philox rng(key, std::uint64_t(b));
    if (beh.kind == Behavior::kTeacherForcing) {
      std::copy(ys, ys + N, yb);
      return;
    }
    if (beh.kind == Behavior::kUniform || (beh.kind == Behavior::kBaseUniformSeq && rng.uniform() < beh.eps)) {
      for (int i = 0; i < N; ++i) yb[i] = static_cast<std::int32_t>(rng.below(std::uint32_t(k)));
      return;
    }
    const bool token_mix = beh.kind == Behavior::kEpsMixture || beh.kind == Behavior::kBaseUniformToken;
    pol.begin(x + b * s.d, st);
    bool on_track = beh.kind == Behavior::kBestOfM;  // prefix still verified correct
    int prev = -1;
    for (int i = 0; i < N; ++i) {
      NextToken next;
      if (!pol.next(st, i, prev, next)) { err.set(kNonFinite); return; }
      int c;
      if (token_mix && rng.uniform() < beh.eps) {
        c = static_cast<int>(rng.below(std::uint32_t(k)));
      } else if (on_track) {
        for (int t = 0; t < beh.m; ++t) {  // each candidate costs one PRM query
          c = next.draw(rng.uniform());
          ++queries[b];
          if (c == ys[i]) break;
        }
        on_track = (c == ys[i]);
      } else {
        c = next.draw(rng.uniform());
      }
      yb[i] = c;
      prev = c;
    }
  });
  err.rethrow();
}

}  // namespace lpgx
