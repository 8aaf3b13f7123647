#include "train.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "batch.hpp"
#include "fused_step.hpp"
#include "rng.hpp"

namespace lpgx {
namespace {

// Sequence log-likelihoods of fixed (x, y) pairs under w.
void log_liks(const Spec& spec, const double* w, const double* x, const std::int32_t* y, Index n,
              double* out, int n_threads) {
  std::vector<double> tok(std::size_t(n) * spec.N);
  Policy pol(spec, w);
  token_log_prob(pol, x, y, n, tok.data(), n_threads);
  for (Index b = 0; b < n; ++b) {
    double s = 0.0;
    for (int i = 0; i < spec.N; ++i) s += tok[std::size_t(b) * spec.N + i];
    out[b] = s;
  }
}

void record(const Spec& spec, const TrainConfig& cfg, TrainState& st, Index s) {
  if (st.n_track > 0 && record_due(s, cfg.track_every, cfg.steps))
    log_liks(spec, st.w, st.track_x, st.track_y, st.n_track,
             st.track_log_lik + record_row(s, cfg.track_every) * st.n_track, cfg.n_threads);
  if (st.n_test > 0 && record_due(s, cfg.test_every, cfg.steps)) {
    std::vector<double> ll(static_cast<std::size_t>(st.n_test));
    log_liks(spec, st.w, st.test_x, st.test_y, st.n_test, ll.data(), cfg.n_threads);
    double mean_q = 0.0;
    for (double v : ll) mean_q += std::exp(v);
    st.test_error[record_row(s, cfg.test_every)] = 1.0 - mean_q / double(st.n_test);
  }
}

}  // namespace

double learn_from(const Spec& spec, const TrainConfig& cfg, double* w, double* opt_state, const double* x,
                  const std::int32_t* ystar, const std::int32_t* y, Index B, std::uint64_t noise_key,
                  const RewardCallback& user_reward, std::int64_t* queries) {
  const int N = spec.N;
  const bool process = cfg.reward.kind == RewardSpec::kProcess;
  const Index width = process ? N : 1;
  std::vector<double> r(std::size_t(B) * width), adv(std::size_t(B) * N, 1.0);
  double mean_r = 1.0;
  if (cfg.reward.kind != RewardSpec::kNone) {  // else supervised: A = 1
    if (cfg.reward.external) {
      user_reward(x, y, B, r.data());
    } else {
      std::vector<std::uint8_t> correct(static_cast<std::size_t>(B));
      evaluate_reward(cfg.reward, y, ystar, B, N, noise_key, r.data(), correct.data(), cfg.n_threads);
    }
    // With best-of-m exploration the PRM already saw every verified token: no extra query.
    if (!(process && cfg.behavior.kind == Behavior::kBestOfM)) *queries += B;
    std::vector<double> mean(static_cast<std::size_t>(width));  // per position for the PRM
    mean_r = batch_means(r.data(), B, width, mean.data());
    for (Index b = 0; b < B; ++b)
      for (int i = 0; i < N; ++i) {
        const Index j = process ? i : 0;
        adv[b * N + i] = r[b * width + j] - (cfg.baseline ? mean[j] : 0.0);
      }
  }
  Eigen::VectorXd G = Eigen::VectorXd::Zero(spec.num_params);
  {
    const Policy current(spec, w);
    grad_log_prob(current, x, y, adv.data(), B, G.data(), nullptr, cfg.n_threads);
  }
  cfg.optimizer.step(w, G.data(), opt_state, spec.num_params, double(B) * N);
  return mean_r;
}

void train(const Spec& spec, const Task& task, const Policy* base, const TrainConfig& cfg, TrainState& st,
           Index s0, const RewardCallback& user_reward, const StepHook& hook) {
  const Index B = cfg.batch;
  const int N = spec.N, nt = cfg.n_threads;
  std::vector<double> x(std::size_t(B) * spec.d);
  std::vector<std::int32_t> ystar(std::size_t(B) * N), y(std::size_t(B) * N);
  std::vector<std::int64_t> explore_queries(static_cast<std::size_t>(B));
  std::int64_t queries = s0 > 0 ? st.queries[s0 - 1] : 0;

  std::optional<FusedPGStep> fused;
  if (cfg.fuse && fusable(spec, cfg)) fused.emplace(spec, cfg);

  st.steps_done = s0;
  if (s0 == 0) record(spec, cfg, st, 0);
  for (Index s = s0; s < cfg.steps; ++s) {
    const std::uint64_t key = derive_key(cfg.seed, std::uint64_t(s));
    draw_task(task, B, derive_key(key, 0), x.data(), ystar.data(), nullptr, nt);
    if (fused) {
      st.mean_reward[s] = fused->run(st.w, st.opt_state, x.data(), ystar.data(), derive_key(key, 1),
                                     derive_key(key, 2), y.data(), &queries);
    } else {
      {
        const Policy current(spec, st.w);
        sample_behavior(cfg.behavior, current, base, x.data(), ystar.data(), B, derive_key(key, 1), y.data(),
                        explore_queries.data(), nt);
      }
      for (std::int64_t q : explore_queries) queries += q;
      st.mean_reward[s] = learn_from(spec, cfg, st.w, st.opt_state, x.data(), ystar.data(), y.data(), B,
                                     derive_key(key, 2), user_reward, &queries);
    }
    double success = 0.0;
    for (Index b = 0; b < B; ++b) success += first_error(&y[b * N], &ystar[b * N], N) == N;
    st.success[s] = success / double(B);
    st.queries[s] = queries;
    st.steps_done = s + 1;
    record(spec, cfg, st, s + 1);
    if (hook && !hook(s + 1)) return;
  }
}

}  // namespace lpgx
