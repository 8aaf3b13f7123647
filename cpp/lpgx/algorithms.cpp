#include "algorithms.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "batch.hpp"
#include "behavior.hpp"
#include "rng.hpp"

namespace lpgx {
namespace {

void require_finite(bool ok, const Policy& pol) {
  if (!ok) throw std::domain_error(pol.non_finite_message());
}

// Up to m tokens y_i at position i (after the accepted prefix y_<i) from (1−λ)q0(·|prefix) +
// λ·Unif(Y) until the PRM accepts one; one query each.
bool explore_token(const Policy& q0, SeqState& st, const RewardOracle& oracle, const std::int32_t* ystar,
                   std::int32_t* y, int i, int m, double mix, Philox& rng, Philox& noise) {
  NextToken next;
  require_finite(q0.next(st, i, i ? y[i - 1] : -1, next), q0);
  for (int t = 0; t < m; ++t) {
    y[i] = mixed_token(next, mix, q0.spec().k, rng);
    if (oracle.accepts_prefix(y, ystar, i, noise)) return true;
    interruption_point();  // a step off the base model's support can take billions of draws
  }
  return false;
}

// REINFORCE update on y with advantages A (length N).
void update(const Spec& spec, const AlgoConfig& cfg, double* w, const double* x, const std::int32_t* y,
            const double* A) {
  Eigen::VectorXd G = Eigen::VectorXd::Zero(spec.num_params);
  {
    const Policy cur(spec, w);
    grad_log_prob(cur, x, y, A, 1, G.data(), nullptr, 1);
  }
  cfg.optimizer.step(spec, w, G.data(), nullptr, double(spec.N));
}

// Evaluates the eval contexts after s steps (when due, or when `force`d at the end);
// returns whether the target is met.
bool evaluate(const Spec& spec, const AlgoConfig& cfg, const AlgoState& st, AlgoRecords& rec, Index s, bool force) {
  if (st.eval.n == 0 || cfg.eval_every <= 0) return false;
  if (!force && s % cfg.eval_every != 0) return false;
  if (!rec.eval_steps.empty() && rec.eval_steps.back() == s) return false;  // already recorded
  std::vector<double> ll(static_cast<std::size_t>(st.eval.n));
  log_prob(Policy(spec, st.w), st.eval.x, st.eval.y, st.eval.n, ll.data(), cfg.n_threads);
  rec.eval_steps.push_back(s);
  rec.eval_log_lik.insert(rec.eval_log_lik.end(), ll.begin(), ll.end());
  return *std::min_element(ll.begin(), ll.end()) >= cfg.target_log_lik;
}

}  // namespace

void run_algorithm(const Spec& spec, const Task& task, const AlgoConfig& cfg, const RewardOracle& oracle,
                   AlgoState& st, AlgoRecords& rec, const StepHook& hook) {
  const int N = spec.N, d = spec.d;
  std::vector<double> x(static_cast<std::size_t>(d));
  std::vector<std::int32_t> ystar(static_cast<std::size_t>(N)), y(static_cast<std::size_t>(N));
  std::vector<double> A(static_cast<std::size_t>(N));
  SeqState base_st(spec.k), cur_st(spec.k);
  std::int64_t own_wrong = 0;
  double expected_wrong = 0.0;
  // The random iterate, by reservoir sampling over the iterates 0..steps_done: uniform over
  // those the run visits, whenever it stops (its own stream: the steps' draws are unchanged).
  Philox pick(derive_key(cfg.seed, ~std::uint64_t(0)), 0);
  auto keep_iterate = [&](Index s) {
    if (!cfg.random_iterate || !st.w_iterate || pick.uniform() * double(s + 1) >= 1.0) return;
    std::copy(st.w, st.w + spec.num_params, st.w_iterate);
    rec.iterate = s;
  };

  rec.steps_done = 0;
  keep_iterate(0);
  if (evaluate(spec, cfg, st, rec, 0, false)) rec.target_step = 0;
  for (Index s = 0; s < cfg.steps && rec.target_step < 0; ++s) {
    const std::uint64_t key = derive_key(cfg.seed, std::uint64_t(s));
    draw_task(task, 1, derive_key(key, 0), x.data(), ystar.data(), nullptr, 1);
    Philox rng(derive_key(key, 1), 0), noise(derive_key(key, 2), 0);
    const Policy cur(spec, st.w);
    cur.begin(x.data(), cur_st);
    if (st.base) st.base->begin(x.data(), base_st);
    bool found = false;
    std::fill(A.begin(), A.end(), 1.0);

    switch (cfg.kind) {
      case AlgoConfig::kSGD:
        std::copy(ystar.begin(), ystar.end(), y.begin());  // a labelled sample: learn y* directly
        found = true;
        break;
      case AlgoConfig::kPGOutcome:
        require_finite(sample_base_uniform(*st.base, base_st, cfg.mix, rng, y.data()), *st.base);
        found = oracle.accepts(y.data(), ystar.data(), noise);
        break;
      case AlgoConfig::kPGOutcomeMulti:
        require_finite(draw_sequence(cur, cur_st, rng, y.data()), cur);
        found = oracle.accepts(y.data(), ystar.data(), noise);
        for (int t = 0; t < cfg.m && !found; ++t) {
          require_finite(sample_base_uniform(*st.base, base_st, cfg.mix, rng, y.data()), *st.base);
          found = oracle.accepts(y.data(), ystar.data(), noise);
          interruption_point();
        }
        break;
      case AlgoConfig::kPGProcess: {
        require_finite(draw_sequence(cur, cur_st, rng, y.data()), cur);
        int accepted = oracle.first_rejected(y.data(), ystar.data(), noise);
        while (accepted < N && explore_token(*st.base, base_st, oracle, ystar.data(), y.data(), accepted, cfg.m,
                                             cfg.mix, rng, noise)) {
          ++accepted;
          if (cfg.resample && accepted < N) {  // the rest on-policy; one query reveals the next rejection
            require_finite(draw_sequence(cur, cur_st, rng, y.data(), accepted), cur);
            accepted = oracle.first_rejected(y.data(), ystar.data(), noise);
          }
        }
        found = accepted == N;
        for (int i = 0; i < N; ++i) A[std::size_t(i)] = i < accepted ? 1.0 : 0.0;
        break;
      }
      case AlgoConfig::kOnline: {
        double ll;
        log_prob(cur, x.data(), ystar.data(), 1, &ll, 1);
        expected_wrong += 1.0 - std::exp(ll);
        require_finite(draw_sequence(cur, cur_st, rng, y.data()), cur);  // the learner's own answer (not queried)
        own_wrong += oracle.first_error_of(y.data(), ystar.data()) != N;
        require_finite(sample_base_uniform(cur, cur_st, cfg.mix, rng, y.data()), cur);
        found = oracle.accepts(y.data(), ystar.data(), noise);
        break;
      }
    }
    // The update is on the accepted response (or its accepted prefix).
    if (cfg.kind == AlgoConfig::kPGProcess ? A[0] > 0.0 : found) update(spec, cfg, st.w, x.data(), y.data(), A.data());

    rec.queries.push_back(oracle.queries());
    rec.success.push_back(found);
    if (cfg.kind == AlgoConfig::kOnline) {
      rec.expected_mistakes.push_back(expected_wrong);
      rec.sample_mistakes.push_back(own_wrong);
    }
    {  // w holds step s + 1 now: its records are part of it
      const InterruptScope::Suspend finish_step;
      keep_iterate(s + 1);
      if (evaluate(spec, cfg, st, rec, s + 1, s + 1 == cfg.steps)) rec.target_step = s + 1;
    }
    rec.steps_done = s + 1;
    if (hook && !hook(s + 1)) break;
  }
  evaluate(spec, cfg, st, rec, rec.steps_done, true);  // the final state, whatever stopped the run
}

}  // namespace lpgx
