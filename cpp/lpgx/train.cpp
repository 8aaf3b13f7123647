#include "train.hpp"

#include <cmath>

#include "batch.hpp"
#include "rng.hpp"

namespace lpgx {
namespace {

void record(const Spec& spec, const TrainConfig& cfg, const TrainState& st, TrainRecords& rec, Index s) {
  const Policy pol(spec, st.w);
  if (st.track.n > 0 && record_due(s, cfg.track_every, cfg.steps))
    log_prob(pol, st.track.x, st.track.y, st.track.n,
             rec.track_log_lik.data() + record_row(s, cfg.track_every) * st.track.n, cfg.n_threads);
  if (st.test.n > 0 && record_due(s, cfg.test_every, cfg.steps)) {
    const std::size_t row = std::size_t(record_row(s, cfg.test_every));
    std::vector<double> ll(static_cast<std::size_t>(st.test.n));
    log_prob(pol, st.test.x, st.test.y, st.test.n, ll.data(), cfg.n_threads);
    double mean_q = 0.0;
    for (double v : ll) mean_q += std::exp(v);
    rec.test_error[row] = 1.0 - mean_q / double(st.test.n);
    if (st.ref)
      entropy_and_kl_along_samples(pol, *st.ref, st.test.x, st.test.n, derive_key(cfg.seed, ~std::uint64_t(1), std::uint64_t(s)),
                                   rec.test_entropy[row], rec.test_kl[row], cfg.n_threads);
    rec.test_token_lq[row] = token_log_lq(pol, st.test.x, st.test.y, st.test.n, cfg.lq_eps, cfg.n_threads);
  }
}

}  // namespace

void train(const Spec& spec, const Task& task, const TrainConfig& cfg, const RewardOracle& oracle, TrainState& st,
           TrainRecords& rec, const StepHook& hook) {
  const Index B = cfg.batch;
  const int N = spec.N, G = cfg.estimator.group_size;
  std::vector<double> x(std::size_t(B) * spec.d);
  std::vector<std::int32_t> ystar(std::size_t(B) * N), y(std::size_t(B) * G * N);
  PGStep step(spec, cfg);
  rec.steps_done = 0;
  record(spec, cfg, st, rec, 0);
  for (Index s = 0; s < cfg.steps; ++s) {
    const std::uint64_t key = derive_key(cfg.seed, std::uint64_t(s));
    draw_task(task, B, derive_key(key, 0), x.data(), ystar.data(), nullptr, cfg.n_threads);
    StepInputs in;
    in.x = x.data();
    in.ystar = ystar.data();
    in.sample_key = derive_key(key, 1);
    in.noise_key = derive_key(key, 2);
    const StepStats stats = step.run(st.w, st.opt_state, st.base, st.ref, oracle, in, y.data());
    rec.mean_reward[std::size_t(s)] = stats.mean_reward;
    rec.all_equal[std::size_t(s)] = stats.all_equal;
    rec.clipped[std::size_t(s)] = stats.clipped;
    double success = 0.0;
    for (Index j = 0; j < B * G; ++j)
      success += oracle.first_error_of(&y[std::size_t(j * N)], &ystar[std::size_t(j / G * N)]) == N;
    rec.success[std::size_t(s)] = success / double(B * G);
    rec.queries[std::size_t(s)] = oracle.queries();
    {  // w holds step s + 1 now: its records are part of it
      const InterruptScope::Suspend finish_step;
      record(spec, cfg, st, rec, s + 1);
    }
    rec.steps_done = s + 1;
    if (hook && !hook(s + 1)) return;
  }
}

}  // namespace lpgx
