#include "batch.hpp"

#include "regulariser.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace lpgx {

namespace {

// sample() at large k (Policy::prefetches): a token's W2 row comes from memory, and which row
// is known only once the previous token is drawn. So a work item takes two sequences in turn,
// position by position, and each prefetches the row that the other has just drawn while its
// own exponentials run. Each sequence keeps its own state and stream: the same tokens as one
// at a time.
void sample_in_pairs(const Policy& pol, const double* x, Index B, std::uint64_t key, std::uint64_t stream0,
                     std::int32_t* y, double* logp, int n_threads) {
  const Spec& s = pol.spec();
  struct Seq {
    SeqState w;
    Philox rng;
    int prev = -1;
  };
  ErrorFlag err;
  parallel_for_with((B + 1) / 2, n_threads, [&] { return std::vector<Seq>(2, Seq{SeqState(s.k), Philox(0, 0)}); },
                    [&](Index item, std::vector<Seq>& pair) {
    const Index b0 = item * 2;
    const int n = B - b0 > 1 ? 2 : 1;
    for (int g = 0; g < n; ++g) {
      Seq& q = pair[std::size_t(g)];
      q.rng = Philox(key, stream0 + std::uint64_t(b0 + g));
      q.prev = -1;
      pol.begin(x + (b0 + g) * s.d, q.w);
      if (logp) q.w.begin_log_probs(s.N);
    }
    for (int i = 0; i < s.N; ++i)
      for (int g = 0; g < n; ++g) {
        Seq& q = pair[std::size_t(g)];
        NextToken t;
        if (!pol.next(q.w, i, q.prev, t, pair[std::size_t(n - 1 - g)].prev)) { err.set(pol.non_finite_message()); return; }
        const int c = t.draw(q.rng.uniform());
        y[(b0 + g) * s.N + i] = c;
        if (logp) q.w.record(i, t.logits[c], t.norm);
        q.prev = c;
      }
    if (logp)
      for (int g = 0; g < n; ++g) pair[std::size_t(g)].w.write_log_probs(logp + (b0 + g) * s.N);
  });
  err.rethrow();
}

}  // namespace

void sample(const Policy& pol, const double* x, Index B, std::uint64_t key, std::uint64_t stream0,
            std::int32_t* y, double* logp, int n_threads) {
  // In pairs while there are enough sequences to keep every thread busy.
  if (pol.prefetches() && B >= 2 * Index(n_threads)) return sample_in_pairs(pol, x, B, key, stream0, y, logp, n_threads);
  const Spec& s = pol.spec();
  ErrorFlag err;
  parallel_for_with(B, n_threads, [&] { return SeqState(s.k); }, [&](Index b, SeqState& w) {
    Philox rng(key, stream0 + std::uint64_t(b));
    pol.begin(x + b * s.d, w);
    if (logp) w.begin_log_probs(s.N);
    int prev = -1;
    for (int i = 0; i < s.N; ++i) {
      NextToken t;
      if (!pol.next(w, i, prev, t)) { err.set(pol.non_finite_message()); return; }
      const int c = t.draw(rng.uniform());
      y[b * s.N + i] = c;
      if (logp) w.record(i, t.logits[c], t.norm);
      prev = c;
    }
    if (logp) w.write_log_probs(logp + b * s.N);
  });
  err.rethrow();
}

namespace {

// log p(y_i | x, y_<i) of one sequence (st begun on its context) into out (N values).
bool sequence_log_probs(const Policy& pol, SeqState& st, const std::int32_t* y, double* out) {
  const int N = pol.spec().N;
  st.begin_log_probs(N);
  for (int i = 0; i < N; ++i) {
    NextToken t;
    if (!pol.next(st, i, i ? y[i - 1] : -1, t, i + 1 < N ? y[i] : -1)) return false;
    st.record(i, t.logits[y[i]], t.norm);
  }
  st.write_log_probs(out);
  return true;
}

}  // namespace

void token_log_prob(const Policy& pol, const double* x, const std::int32_t* y, Index B,
                    double* out, int n_threads) {
  const Spec& s = pol.spec();
  ErrorFlag err;
  parallel_for_with(B, n_threads, [&] { return SeqState(s.k); }, [&](Index b, SeqState& w) {
    pol.begin(x + b * s.d, w);
    if (!sequence_log_probs(pol, w, y + b * s.N, out + b * s.N)) err.set(pol.non_finite_message());
  });
  err.rethrow();
}

void log_prob(const Policy& pol, const double* x, const std::int32_t* y, Index B, double* out, int n_threads) {
  const Spec& s = pol.spec();
  struct State {
    SeqState w;
    std::vector<double> tok;
  };
  ErrorFlag err;
  parallel_for_with(B, n_threads, [&] { return State{SeqState(s.k), std::vector<double>(std::size_t(s.N))}; },
                    [&](Index b, State& state) {
    pol.begin(x + b * s.d, state.w);
    if (!sequence_log_probs(pol, state.w, y + b * s.N, state.tok.data())) {
      err.set(pol.non_finite_message());
      return;
    }
    double sum = 0.0;  // in position order: the one sum of a sequence's log-likelihood
    for (double v : state.tok) sum += v;
    out[b] = sum;
  });
  err.rethrow();
}

void greedy(const Policy& pol, const double* x, Index B, std::int32_t* y, int n_threads) {
  const Spec& s = pol.spec();
  ErrorFlag err;
  // Without position blocks the decoding is a walk on ≤ k + 1 states: each argmax once.
  struct State {
    SeqState w;
    std::vector<int> memo;  // argmax after prev at prev + 1; −1: not computed yet
  };
  parallel_for_with(B, n_threads, [&] { return State{SeqState(s.k), {}}; }, [&](Index b, State& state) {
    SeqState& w = state.w;
    std::vector<int>& memo = state.memo;
    pol.begin(x + b * s.d, w);
    memo.assign(pol.memoises() ? std::size_t(s.k) + 1 : 0, -1);
    int prev = -1;
    for (int i = 0; i < s.N; ++i) {
      int best = memo.empty() ? -1 : memo[std::size_t(prev + 1)];
      if (best < 0) {
        pol.logits(w, i, prev, w.logits.data());
        if (!w.safe && !all_finite(w.logits.data(), s.k)) { err.set(pol.non_finite_message()); return; }
        best = 0;  // ties go to the smallest token
        for (int c = 1; c < s.k; ++c)
          if (w.logits[c] > w.logits[best]) best = c;
        if (!memo.empty()) memo[std::size_t(prev + 1)] = best;
      }
      y[b * s.N + i] = best;
      prev = best;
    }
  });
  err.rethrow();
}

void grad_log_prob(const Policy& pol, const double* x, const std::int32_t* y, const double* weights,
                   Index B, double* grad, double* token_logp, int n_threads, bool flat, PrevColumns* columns) {
  const Spec& s = pol.spec();
  if (flat && grad_by_prev_columns(pol)) {  // large vocabularies: W2's block as columns (prev_gradient.hpp)
    PrevColumns own;
    PrevColumns& cols = columns ? *columns : own;
    grad_log_prob_columns(pol, x, y, weights, B, grad, token_logp, n_threads, cols);
    if (!columns) write_columns(cols, s.k, grad + s.off_prev, n_threads);
    return;
  }
  const Chunks chunks(B, GradAccum::dense_size(s));
  std::vector<GradAccum> acc;  // one per chunk, flushed after the loop
  acc.reserve(static_cast<std::size_t>(chunks.count));
  for (Index c = 0; c < chunks.count; ++c) acc.emplace_back(s, true);
  ErrorFlag err;
  parallel_for(chunks.count, n_threads, [&](Index ci) {
    SeqState w(s.k);
    RowWeights rows(pol.memoises() ? s.k : 0);
    GradAccum& g = acc[static_cast<std::size_t>(ci)];
    for (Index b = chunks.begin(ci); b < chunks.end(ci) && !err.raised(); ++b) {
      pol.begin(x + b * s.d, w);
      if (!accumulate_sequence(pol, w, y + b * s.N, weights ? weights + b * s.N : nullptr, rows, g,
                               token_logp ? token_logp + b * s.N : nullptr)) {
        err.set(pol.non_finite_message());
        return;
      }
    }
  });
  err.rethrow();
  // in chunk order: deterministic sums
  if (!flat) {
    GradAccum::flush(acc.data(), Index(acc.size()), 1, grad);
    return;
  }
  GradAccum::flush_flat(acc.data(), Index(acc.size()), 1, grad, n_threads);
  if (columns && s.has(kPrevToken)) {
    columns->tokens = prev_tokens_of(s.k, s.N, B, y, weights);
    take_columns(grad + s.off_prev, s.k, *columns);
  }
}

void margin_gaps(const Policy& pol, const double* x, const std::int32_t* y, Index B, double* gap,
                 double* phi_norm2, int n_threads) {
  const Spec& s = pol.spec();
  ErrorFlag err;
  parallel_for_with(B, n_threads, [&] { return SeqState(s.k); }, [&](Index b, SeqState& w) {
    const std::int32_t* yb = y + b * s.N;
    pol.begin(x + b * s.d, w);
    const double x2 = w.x.squaredNorm();
    double g = std::numeric_limits<double>::infinity(), r2 = 0.0;
    for (int i = 0; i < s.N; ++i) {
      pol.logits(w, i, i ? yb[i - 1] : -1, w.logits.data());
      if (!w.safe && !all_finite(w.logits.data(), s.k)) { err.set(pol.non_finite_message()); return; }
      for (int c = 0; c < s.k; ++c)
        if (c != yb[i]) g = std::min(g, w.logits[yb[i]] - w.logits[c]);
      r2 = std::max(r2, s.feature_norm2(x2, i));
    }
    // +inf is legitimate when k = 1 (no competitor); otherwise a gap beyond float64
    if (std::isnan(g) || (s.k > 1 && !std::isfinite(g))) { err.set(pol.non_finite_message()); return; }
    gap[b] = g;
    phi_norm2[b] = r2;
  });
  err.rethrow();
}

void entropy_and_kl_along_samples(const Policy& pol, const Policy& ref, const double* x, Index B, std::uint64_t key,
                                  double& entropy, double& kl, int n_threads) {
  const Spec& s = pol.spec();
  std::vector<double> h(static_cast<std::size_t>(B)), d(static_cast<std::size_t>(B));
  struct State {
    SeqState cur, ref;
  };
  ErrorFlag err;
  parallel_for_with(B, n_threads, [&] { return State{SeqState(s.k), SeqState(s.k)}; }, [&](Index b, State& w) {
    Philox rng(key, std::uint64_t(b));
    pol.begin(x + b * s.d, w.cur);
    ref.begin(x + b * s.d, w.ref);
    double hb = 0.0, db = 0.0;
    int prev = -1;
    for (int i = 0; i < s.N; ++i) {
      NextToken t, u;
      if (!pol.next(w.cur, i, prev, t)) { err.set(pol.non_finite_message()); return; }
      if (!ref.next(w.ref, i, prev, u)) { err.set(ref.non_finite_message()); return; }
      double hi, di;
      entropy_and_kl(t, u, hi, di);
      hb += hi;
      db += di;
      prev = t.draw(rng.uniform());
    }
    h[std::size_t(b)] = hb / s.N;
    d[std::size_t(b)] = db / s.N;
  });
  err.rethrow();
  entropy = kl = 0.0;
  for (Index b = 0; b < B; ++b) {
    entropy += h[std::size_t(b)] / double(B);
    kl += d[std::size_t(b)] / double(B);
  }
}

void kl_along(const Policy& pol, const Policy& ref, const double* x, const std::int32_t* y, Index B, double* kl,
              double* log_rho, int n_threads) {
  const Spec& s = pol.spec();
  struct State {
    SeqState cur, ref;
  };
  ErrorFlag err;
  parallel_for_with(B, n_threads, [&] { return State{SeqState(s.k), SeqState(s.k)}; }, [&](Index b, State& w) {
    const std::int32_t* yb = y + b * s.N;
    pol.begin(x + b * s.d, w.cur);
    ref.begin(x + b * s.d, w.ref);
    for (int i = 0; i < s.N; ++i) {
      NextToken t, u;
      const int prev = i ? yb[i - 1] : -1;
      if (!pol.next(w.cur, i, prev, t)) { err.set(pol.non_finite_message()); return; }
      if (!ref.next(w.ref, i, prev, u)) { err.set(ref.non_finite_message()); return; }
      double h;
      entropy_and_kl(t, u, h, kl[b * s.N + i]);
      log_rho[b * s.N + i] = u.norm.log_prob(u.logits[yb[i]]) - t.norm.log_prob(t.logits[yb[i]]);
    }
  });
  err.rethrow();
}

void set_log_prob(const Policy& pol, const double* x, const std::int32_t* ystar, Index B,
                  const std::uint8_t* checked, int tolerance, double* out, int n_threads) {
  const Spec& s = pol.spec();
  const int k = s.k, M = tolerance + 1;
  const Index states = Index(k + 1) * M;  // (previous token + 1, mismatches)
  struct State {
    SeqState st;
    Eigen::ArrayXd alpha, next;
  };
  ErrorFlag err;
  parallel_for_with(B, n_threads, [&] { return State{SeqState(k), Eigen::ArrayXd(states), Eigen::ArrayXd(states)}; },
                    [&](Index b, State& w) {
    const std::int32_t* ys = ystar + b * s.N;
    pol.begin(x + b * s.d, w.st);
    w.alpha.setZero();
    w.alpha[0] = 1.0;  // no previous token, no mismatch
    double log_scale = 0.0;
    for (int i = 0; i < s.N; ++i) {
      w.next.setZero();
      for (int r = 0; r <= k; ++r)
        for (int m = 0; m < M; ++m) {
          const double a = w.alpha[Index(r) * M + m];
          if (a == 0.0) continue;
          NextToken t;
          if (!pol.next(w.st, i, r - 1, t)) { err.set(pol.non_finite_message()); return; }
          const double scale = a / t.norm.z;
          for (int c = 0; c < k; ++c) {
            const int m2 = m + (checked[i] && c != ys[i]);
            if (m2 < M) w.next[Index(c + 1) * M + m2] += scale * t.e[c];
          }
        }
      const double total = w.next.sum();
      if (!(total > 0.0)) {  // the set is out of reach (a probability below the float range)
        log_scale = -std::numeric_limits<double>::infinity();
        break;
      }
      w.alpha = w.next / total;
      log_scale += std::log(total);
    }
    out[b] = log_scale;
  });
  err.rethrow();
}

double token_log_lq(const Policy& pol, const double* x, const std::int32_t* y, Index B, double eps, int n_threads) {
  const int N = pol.spec().N;
  std::vector<double> tok(static_cast<std::size_t>(B * N)), worst(static_cast<std::size_t>(B));
  token_log_prob(pol, x, y, B, tok.data(), n_threads);
  for (Index b = 0; b < B; ++b)
    worst[std::size_t(b)] = *std::min_element(tok.begin() + b * N, tok.begin() + (b + 1) * N);
  const Index m = static_cast<Index>(std::floor(eps * double(B) + 1e-9));  // as lpgx.quantile_of_log_values
  if (m >= B) return 0.0;
  std::nth_element(worst.begin(), worst.begin() + m, worst.end());
  return worst[std::size_t(m)];
}

void count_matches(const Policy& pol, const double* x, const std::int32_t* y, Index B,
                   Index n_samples, std::uint64_t key, std::int64_t* counts, int n_threads) {
  const Spec& s = pol.spec();
  ErrorFlag err;
  parallel_for_with(B, n_threads, [&] { return SeqState(s.k); }, [&](Index b, SeqState& w) {
    const std::int32_t* yb = y + b * s.N;
    pol.begin(x + b * s.d, w);
    // A draw only matters while it follows y, so the next-token distributions along y
    // are computed once and each draw stops at its first mismatch.
    Eigen::VectorXd p(Index(s.N) * s.k);
    for (int i = 0; i < s.N; ++i) {
      pol.logits(w, i, i ? yb[i - 1] : -1, w.logits.data());
      LogNorm norm;
      if (!softmax(w.logits.data(), p.data() + std::size_t(i) * s.k, s.k, norm, !w.safe)) { err.set(pol.non_finite_message()); return; }
    }
    std::int64_t hits = 0;
    for (Index r = 0; r < n_samples; ++r) {
      if ((r & 4095) == 0) interruption_point();
      Philox rng(key, std::uint64_t(b) * std::uint64_t(n_samples) + std::uint64_t(r));
      int i = 0;
      while (i < s.N && draw_token(p.data() + std::size_t(i) * s.k, s.k, rng.uniform()) == yb[i]) ++i;
      hits += (i == s.N);
    }
    counts[b] = hits;
  });
  err.rethrow();
}

}  // namespace lpgx
