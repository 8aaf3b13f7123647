#include "algorithms.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "batch.hpp"
#include "rng.hpp"
#include "rewards.hpp"

namespace lpgx {
namespace {

// Draws y_i for i ≥ from (prefix y_<from fixed) from pol, token by token.
void sample_suffix(const Policy& pol, SeqState& st, int from, std::int32_t* y, Philox& rng) {
  if (!draw_sequence(pol, st, rng, y, from)) throw std::domain_error(kNonFinite);
}

// One draw from (1−λ)·q0 + λ·Unif(Y^N), mixed per sequence.
void sample_mixture(const Policy& q0, SeqState& st, double mix, std::int32_t* y, Philox& rng) {
  const Spec& s = q0.spec();
  if (rng.uniform() < mix) {
    for (int i = 0; i < s.N; ++i) y[i] = static_cast<std::int32_t>(rng.below(std::uint32_t(s.k)));
  } else {
    sample_suffix(q0, st, 0, y, rng);
  }
}

// Up to m tokens at position i (prefix y*_<i) from (1−λ)q0(·|prefix) + λ·Unif(Y) until one
// equals y*_i; returns whether one did, adding one query per draw.
bool explore_token(const Policy& q0, SeqState& st, const std::int32_t* ystar, int i, int m, double mix,
                   Philox& rng, std::int64_t* queries, const std::function<void()>& poll) {
  const Spec& s = q0.spec();
  NextToken next;
  if (!q0.next(st, i, i ? ystar[i - 1] : -1, next)) throw std::domain_error(kNonFinite);
  for (int t = 0; t < m; ++t) {
    const int c = rng.uniform() < mix ? static_cast<int>(rng.below(std::uint32_t(s.k)))
                                      : next.draw(rng.uniform());
    ++*queries;
    if (c == ystar[i]) return true;
    if (poll && *queries % kPollQueries == 0) poll();
  }
  return false;
}

double seq_log_lik(const Policy& pol, const double* x, const std::int32_t* y) {
  const Spec& s = pol.spec();
  std::vector<double> tok(static_cast<std::size_t>(s.N));
  token_log_prob(pol, x, y, 1, tok.data(), 1);
  double sum = 0.0;
  for (double v : tok) sum += v;
  return sum;
}

// REINFORCE update on y with advantages A (length N).
void update(const Spec& spec, const AlgoConfig& cfg, double* w, const double* x, const std::int32_t* y,
            const double* A) {
  Eigen::VectorXd G = Eigen::VectorXd::Zero(spec.num_params);
  {
    const Policy cur(spec, w);
    grad_log_prob(cur, x, y, A, 1, G.data(), nullptr, 1);
  }
  cfg.optimizer.step(w, G.data(), nullptr, spec.num_params, double(spec.N));
}

// Evaluates the eval contexts after s steps (when due, or when `force`d at the end);
// returns whether the target is met.
bool evaluate(const Spec& spec, const AlgoConfig& cfg, AlgoState& st, Index s, bool force) {
  if (st.n_eval == 0 || cfg.eval_every <= 0) return false;
  if (!force && s % cfg.eval_every != 0) return false;
  if (!st.eval_steps.empty() && st.eval_steps.back() == s) return false;  // already recorded
  std::vector<double> tok(std::size_t(st.n_eval) * spec.N);
  const Policy cur(spec, st.w);
  token_log_prob(cur, st.eval_x, st.eval_y, st.n_eval, tok.data(), cfg.n_threads);
  st.eval_steps.push_back(s);
  double worst = 0.0;
  for (Index b = 0; b < st.n_eval; ++b) {
    double sum = 0.0;
    for (int i = 0; i < spec.N; ++i) sum += tok[std::size_t(b) * spec.N + i];
    st.eval_log_lik.push_back(sum);
    worst = std::min(worst, sum);
  }
  return worst >= cfg.target_log_lik;
}

}  // namespace

void run_algorithm(const Spec& spec, const Task& task, const AlgoConfig& cfg, AlgoState& st,
                   const AlgoHook& hook) {
  const int N = spec.N, d = spec.d;
  std::vector<double> x(static_cast<std::size_t>(d));
  std::vector<std::int32_t> ystar(static_cast<std::size_t>(N)), y(static_cast<std::size_t>(N));
  std::vector<double> A(static_cast<std::size_t>(N));
  SeqState base_st(spec.k), cur_st(spec.k);
  std::int64_t queries = 0, own_wrong = 0;
  double expected_wrong = 0.0;

  st.steps_done = 0;
  if (st.w_snapshot && cfg.random_iterate == 0) std::copy(st.w, st.w + spec.num_params, st.w_snapshot);
  if (evaluate(spec, cfg, st, 0, false)) st.target_step = 0;
  for (Index s = 0; s < cfg.steps && st.target_step < 0; ++s) {
    const std::uint64_t key = derive_key(cfg.seed, std::uint64_t(s));
    draw_task(task, 1, derive_key(key, 0), x.data(), ystar.data(), nullptr, 1);
    Philox rng(derive_key(key, 1), 0);
    const Policy cur(spec, st.w);
    cur.begin(x.data(), cur_st);
    if (st.base) st.base->begin(x.data(), base_st);
    bool found = false;
    std::fill(A.begin(), A.end(), 1.0);

    switch (cfg.kind) {
      case AlgoConfig::kSGD:
        found = true;  // labelled sample: learn y* directly
        break;
      case AlgoConfig::kPGOutcome:
        sample_mixture(*st.base, base_st, cfg.mix, y.data(), rng);
        ++queries;
        found = first_error(y.data(), ystar.data(), N) == N;
        break;
      case AlgoConfig::kPGOutcomeMulti:
        sample_suffix(cur, cur_st, 0, y.data(), rng);
        ++queries;
        found = first_error(y.data(), ystar.data(), N) == N;
        for (int t = 0; t < cfg.m && !found; ++t) {
          sample_mixture(*st.base, base_st, cfg.mix, y.data(), rng);
          ++queries;
          found = first_error(y.data(), ystar.data(), N) == N;
          if (st.poll && queries % kPollQueries == 0) st.poll();
        }
        break;
      case AlgoConfig::kPGProcess: {
        sample_suffix(cur, cur_st, 0, y.data(), rng);
        ++queries;
        int verified = first_error(y.data(), ystar.data(), N);
        while (verified < N &&
               explore_token(*st.base, base_st, ystar.data(), verified, cfg.m, cfg.mix, rng, &queries, st.poll)) {
          ++verified;
          if (cfg.resample && verified < N) {  // the rest on-policy, one query reveals the next error
            std::copy(ystar.begin(), ystar.begin() + verified, y.begin());
            sample_suffix(cur, cur_st, verified, y.data(), rng);
            ++queries;
            verified = first_error(y.data(), ystar.data(), N);
          }
        }
        found = verified == N;
        for (int i = 0; i < N; ++i) A[i] = i < verified ? 1.0 : 0.0;
        if (verified == 0) std::fill(A.begin(), A.end(), 0.0);
        break;
      }
      case AlgoConfig::kOnline: {
        expected_wrong += 1.0 - std::exp(seq_log_lik(cur, x.data(), ystar.data()));
        sample_suffix(cur, cur_st, 0, y.data(), rng);  // the learner's own answer (not queried)
        own_wrong += first_error(y.data(), ystar.data(), N) != N;
        if (rng.uniform() < cfg.mix) {
          for (int i = 0; i < N; ++i) y[i] = static_cast<std::int32_t>(rng.below(std::uint32_t(spec.k)));
        } else {
          sample_suffix(cur, cur_st, 0, y.data(), rng);
        }
        ++queries;
        found = first_error(y.data(), ystar.data(), N) == N;
        break;
      }
    }
    // Every update is on (a prefix of) y*: a success means the response equals it.
    const bool any = cfg.kind == AlgoConfig::kPGProcess ? A[0] > 0.0 : found;
    if (any) update(spec, cfg, st.w, x.data(), ystar.data(), A.data());

    st.queries.push_back(queries);
    st.success.push_back(found);
    if (cfg.kind == AlgoConfig::kOnline) {
      st.expected_mistakes.push_back(expected_wrong);
      st.sample_mistakes.push_back(own_wrong);
    }
    st.steps_done = s + 1;
    if (st.w_snapshot && cfg.random_iterate == s + 1) std::copy(st.w, st.w + spec.num_params, st.w_snapshot);
    if (evaluate(spec, cfg, st, s + 1, s + 1 == cfg.steps)) st.target_step = s + 1;
    if (hook && !hook(s + 1)) break;
  }
  evaluate(spec, cfg, st, st.steps_done, true);  // the final state, whatever stopped the run
}

}  // namespace lpgx
