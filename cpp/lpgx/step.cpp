#include "step.hpp"

#include <algorithm>

#include "batch.hpp"

namespace lpgx {

PGStep::PGStep(const Spec& spec, const TrainConfig& cfg)
    : spec_(spec),
      cfg_(cfg),
      plan_(channel_plan(cfg.estimator, cfg.reward)),
      one_pass_(cfg.one_pass && plan_.local && memoisable(spec) && samples_current(cfg.behavior.kind)),
      G_(cfg.estimator.group_size),
      n_(cfg.batch * cfg.estimator.group_size),
      width_(cfg.reward.width(spec.N)),
      channels_(one_pass_ ? plan_.channels : 1),
      chunks_(cfg.batch, spec.num_params * channels_),
      acc_(static_cast<std::size_t>(chunks_.count * channels_), GradAccum(spec)),
      r_(static_cast<std::size_t>(n_ * width_)),
      grad_(spec.num_params),
      part_(spec.num_params) {
  if (!one_pass_) adv_.resize(static_cast<std::size_t>(n_ * spec.N));
}

double PGStep::run(double* w, double* opt_state, const Policy* base, const RewardOracle& oracle,
                   const StepInputs& in, std::int32_t* y) {
  const Spec& s = spec_;
  const int N = s.N;
  const Policy pol(s, w);
  const BehaviorSampler sampler(cfg_.behavior, pol, base, oracle, in.given);
  const RewardSpec& reward = cfg_.reward;
  const bool judged_here = reward.kind != RewardSpec::kNone && !reward.external;
  for (GradAccum& g : acc_) g.clear();
  struct Scratch {
    SeqState cur, beh;
    RowWeights rows;
    std::vector<double> a;
  };
  auto scratch = [&] { return Scratch{SeqState(s.k), SeqState(s.k), RowWeights(pol.memoises() ? s.k : 0),
                                      std::vector<double>(std::size_t(N))}; };
  ErrorFlag err;
  // Pass 1: per context, its G responses, their rewards and (one-pass) their gradients.
  parallel_for_with(chunks_.count, cfg_.n_threads, scratch, [&](Index ci, Scratch& sc) {
    for (Index b = chunks_.begin(ci); b < chunks_.end(ci) && !err.raised(); ++b) {
      const double* xb = in.x + b * s.d;
      const std::int32_t* ys = in.ystar + b * N;
      if (one_pass_ && !samples_current(cfg_.behavior.kind)) pol.begin(xb, sc.cur);
      sampler.begin(xb, sc.cur, sc.beh);
      for (int g = 0; g < G_; ++g) {
        const Index j = b * G_ + g;
        Philox rng(in.sample_key, std::uint64_t(j)), noise(derive_key(in.noise_key, 1), std::uint64_t(j));
        if (!sampler.sample(j, ys, rng, noise, sc.cur, sc.beh, y + j * N)) {
          err.set(sampler.sampling_policy().non_finite_message());
          return;
        }
        if (judged_here) oracle.judge(y + j * N, ys, in.noise_key, j, r_.data() + j * width_,
                                      sampler.reveals_first_error());
      }
      if (!one_pass_) continue;
      for (int g = 0; g < G_; ++g) {
        const std::int32_t* yj = y + (b * G_ + g) * N;
        const int channel = group_weights(cfg_.estimator, reward, r_.data() + b * G_ * width_, g, N, sc.a.data());
        for (int i = 0; i < N; ++i)
          if (sc.a[std::size_t(i)] != 0.0) sc.rows.add(i ? yj[i - 1] : -1, yj[i], sc.a[std::size_t(i)]);
        GradAccum& acc = acc_[std::size_t(ci * channels_ + channel)];
        acc.begin_sequence();
        if (!sc.rows.flush(pol, sc.cur, acc, sc.cur.p.data())) {
          err.set(pol.non_finite_message());
          return;
        }
        acc.end_sequence(sc.cur.x.data());
      }
    }
  });
  err.rethrow();
  if (reward.kind != RewardSpec::kNone && reward.external) judge_external(oracle, in.x, y);
  const RewardStats stats = reward_stats(reward, r_.data(), n_, width_);

  std::vector<double> coef(std::size_t(channels_), 1.0);
  if (one_pass_) {
    channel_coefficients(cfg_.estimator, reward, stats, coef.data());
  } else {  // pass 2: every advantage is known now
    advantages(cfg_.estimator, reward, r_.data(), n_, N, stats, adv_.data());
    parallel_for_with(chunks_.count, cfg_.n_threads, scratch, [&](Index ci, Scratch& sc) {
      GradAccum& acc = acc_[std::size_t(ci)];
      for (Index b = chunks_.begin(ci); b < chunks_.end(ci) && !err.raised(); ++b) {
        pol.begin(in.x + b * s.d, sc.cur);
        for (int g = 0; g < G_; ++g) {
          const Index j = b * G_ + g;
          if (!accumulate_sequence(pol, sc.cur, y + j * N, adv_.data() + j * N, sc.rows, acc, nullptr)) {
            err.set(pol.non_finite_message());
            return;
          }
        }
      }
    });
    err.rethrow();
  }
  grad_.setZero();
  for (Index c = 0; c < channels_; ++c) {
    part_.setZero();
    for (Index ci = 0; ci < chunks_.count; ++ci) acc_[std::size_t(ci * channels_ + c)].flush_into(part_.data());
    grad_ += coef[std::size_t(c)] * part_;
  }
  cfg_.optimizer.step(w, grad_.data(), opt_state, s.num_params, double(n_) * N);
  return stats.average;
}

void PGStep::judge_external(const RewardOracle& oracle, const double* x, const std::int32_t* y) {
  const Index d = spec_.d;
  if (G_ > 1) {  // the verifier sees one context row per response
    x_rep_.resize(std::size_t(n_ * d));
    for (Index j = 0; j < n_; ++j) std::copy(x + (j / G_) * d, x + (j / G_ + 1) * d, x_rep_.data() + j * d);
    x = x_rep_.data();
  }
  oracle.judge_external(x, y, n_, r_.data());
}

}  // namespace lpgx
