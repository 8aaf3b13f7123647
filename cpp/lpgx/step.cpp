#include "step.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "batch.hpp"

namespace lpgx {

struct PGStep::Scratch {
  SeqState cur, beh, ref;
  RowWeights rows, term_rows;
  std::vector<double> a;
  std::vector<int> channel;
};

PGStep::Scratch PGStep::scratch() const {
  const int k = spec_.k, memo = memoisable(spec_) ? k : 0;
  return Scratch{SeqState(k), SeqState(k), SeqState(k), RowWeights(memo), RowWeights(memo),
                 std::vector<double>(std::size_t(G_) * spec_.N), std::vector<int>(std::size_t(G_))};
}

PGStep::PGStep(const Spec& spec, const TrainConfig& cfg)
    : spec_(spec),
      cfg_(cfg),
      plan_(channel_plan(cfg.estimator, cfg.reward)),
      one_pass_(cfg.one_pass && plan_.local && memoisable(spec) && samples_current(cfg.behavior.kind)),
      G_(cfg.estimator.group_size),
      n_(cfg.batch * cfg.estimator.group_size),
      width_(cfg.reward.width(spec.N)),
      adv_channels_(one_pass_ ? plan_.channels : 1),
      channels_(adv_channels_ + (cfg.estimator.has_terms() ? 1 : 0)),
      chunks_(cfg.batch, GradAccum::dense_size(spec) * channels_),
      r_(static_cast<std::size_t>(n_ * width_)),
      equal_(static_cast<std::size_t>(cfg.batch)),
      grad_(spec.num_params),
      part_(spec.num_params) {
  acc_.reserve(static_cast<std::size_t>(chunks_.count * channels_));
  for (Index c = 0; c < chunks_.count * channels_; ++c) acc_.emplace_back(spec);
  if (!one_pass_ || cfg.estimator.epochs > 1) adv_.resize(static_cast<std::size_t>(n_ * spec.N));
  if (cfg.estimator.epochs > 1) {
    logp_old_.resize(static_cast<std::size_t>(n_ * spec.N));
    reuse_w_.resize(static_cast<std::size_t>(n_ * spec.N));
  }
}

StepStats PGStep::run(double* w, double* opt_state, const Policy* base, const Policy* ref, const RewardOracle& oracle,
                      const StepInputs& in, std::int32_t* y) {
  const Estimator& est = cfg_.estimator;
  const RewardSpec& reward = cfg_.reward;
  const Policy pol(spec_, w);
  const BehaviorSampler sampler(cfg_.behavior, pol, base, oracle, in.given);
  const Regulariser reg(est, ref);
  for (GradAccum& g : acc_) g.clear();

  sample_and_judge(pol, sampler, reg, oracle, in, y);  // and, one-pass, accumulate
  if (reward.kind != RewardSpec::kNone && reward.external) {
    judge_external(oracle, in.x, y);
    for (Index b = 0; b < cfg_.batch; ++b) equal_[std::size_t(b)] = group_all_equal(&r_[std::size_t(b * G_ * width_)], G_, width_);
  }
  const RewardStats stats = reward_stats(reward, r_.data(), n_, width_, est.batch_stats());
  std::vector<double> coef(std::size_t(channels_), 1.0);
  if (one_pass_) channel_coefficients(est, reward, stats, coef.data());
  if (!adv_.empty()) advantages(est, reward, r_.data(), n_, spec_.N, stats, adv_.data());
  if (!one_pass_) accumulate(pol, reg, in.x, y, adv_.data(), est.epochs > 1);

  StepStats out;
  out.mean_reward = stats.average;
  out.all_equal = G_ > 1 && reward.kind != RewardSpec::kNone
                      ? double(std::count(equal_.begin(), equal_.end(), 1)) / double(cfg_.batch)
                      : std::numeric_limits<double>::quiet_NaN();
  out.clipped = std::numeric_limits<double>::quiet_NaN();
  if (est.epochs <= 1) {
    update(w, opt_state, coef);
    return out;
  }
  // All μ updates, or none: an interrupted reuse epoch restores the step's starting point.
  const Eigen::VectorXd w0 = Eigen::Map<const Eigen::VectorXd>(w, spec_.num_params);
  Eigen::VectorXd opt0;
  if (opt_state) opt0 = Eigen::Map<const Eigen::VectorXd>(opt_state, spec_.num_params);
  try {
    update(w, opt_state, coef);
    double clipped = 0.0;
    std::fill(coef.begin(), coef.end(), 1.0);
    for (int e = 1; e < est.epochs; ++e) {
      const Policy now(spec_, w);
      clipped += reuse(now, Regulariser(est, ref), in.x, y);
      update(w, opt_state, coef);
    }
    out.clipped = clipped / double(est.epochs - 1);
  } catch (...) {
    Eigen::Map<Eigen::VectorXd>(w, spec_.num_params) = w0;
    if (opt_state) Eigen::Map<Eigen::VectorXd>(opt_state, spec_.num_params) = opt0;
    throw;
  }
  return out;
}

void PGStep::sample_and_judge(const Policy& pol, const BehaviorSampler& sampler, const Regulariser& reg,
                              const RewardOracle& oracle, const StepInputs& in, std::int32_t* y) {
  const Spec& s = spec_;
  const int N = s.N;
  const Estimator& est = cfg_.estimator;
  const RewardSpec& reward = cfg_.reward;
  const bool judged_here = reward.kind != RewardSpec::kNone && !reward.external;
  const bool clip_logs = est.epochs > 1;
  ErrorFlag err;
  parallel_for_with(chunks_.count, cfg_.n_threads, [&] { return scratch(); }, [&](Index ci, Scratch& sc) {
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
        if (judged_here)
          oracle.judge(y + j * N, ys, in.noise_key, j, r_.data() + j * width_, sampler.reveals_first_error());
      }
      const double* rb = r_.data() + b * G_ * width_;
      if (judged_here) equal_[std::size_t(b)] = group_all_equal(rb, G_, width_);
      if (!one_pass_) continue;
      group_weights(est, reward, rb, N, sc.channel.data(), sc.a.data());
      if (reg.active()) reg.begin(xb, sc.ref);
      SequenceTerms terms{&reg, &sc.ref, &sc.term_rows, &acc_[std::size_t(ci * channels_ + adv_channels_)]};
      for (int g = 0; g < G_; ++g) {
        const Index j = b * G_ + g;
        const std::int32_t* yj = y + j * N;
        const double* a = sc.a.data() + Index(g) * N;
        for (int i = 0; i < N; ++i)
          if (a[i] != 0.0) sc.rows.add(i ? yj[i - 1] : -1, yj[i], a[i]);
        GradAccum& acc = acc_[std::size_t(ci * channels_ + sc.channel[std::size_t(g)])];
        acc.begin_sequence();
        bool ok = sc.rows.flush(pol, sc.cur, acc, sc.cur.p.data());
        acc.end_sequence(sc.cur.x.data());
        ok = ok && (!reg.active() || accumulate_terms(pol, sc.cur, yj, terms));
        for (int i = 0; ok && clip_logs && i < N; ++i) {  // the sampling policy's log-probs, for the ratios
          NextToken t;
          ok = pol.next(sc.cur, i, i ? yj[i - 1] : -1, t);
          if (ok) logp_old_[std::size_t(j * N + i)] = t.norm.log_prob(t.logits[yj[i]]);
        }
        if (!ok) {
          err.set(pol.non_finite_message());
          return;
        }
      }
    }
  });
  err.rethrow();
}

void PGStep::accumulate(const Policy& pol, const Regulariser& reg, const double* x, const std::int32_t* y,
                        const double* weights, bool record_log_probs) {
  const int N = spec_.N;
  ErrorFlag err;
  parallel_for_with(chunks_.count, cfg_.n_threads, [&] { return scratch(); }, [&](Index ci, Scratch& sc) {
    GradAccum& acc = acc_[std::size_t(ci * channels_)];
    SequenceTerms terms{&reg, &sc.ref, &sc.term_rows, &acc_[std::size_t(ci * channels_ + adv_channels_)]};
    for (Index b = chunks_.begin(ci); b < chunks_.end(ci) && !err.raised(); ++b) {
      pol.begin(x + b * spec_.d, sc.cur);
      if (reg.active()) reg.begin(x + b * spec_.d, sc.ref);
      for (int g = 0; g < G_; ++g) {
        const Index j = b * G_ + g;
        if (!accumulate_sequence(pol, sc.cur, y + j * N, weights + j * N, sc.rows, acc,
                                 record_log_probs ? logp_old_.data() + j * N : nullptr,
                                 reg.active() ? &terms : nullptr)) {
          err.set(pol.non_finite_message());
          return;
        }
      }
    }
  });
  err.rethrow();
}

double PGStep::reuse(const Policy& pol, const Regulariser& reg, const double* x, const std::int32_t* y) {
  const int N = spec_.N;
  const double eps = cfg_.estimator.clip;
  std::atomic<std::int64_t> weighted{0}, clipped{0};
  ErrorFlag err;
  // The PPO weights A·ρ (0 where clipped) under the current policy, then the usual accumulation.
  parallel_for_with(chunks_.count, cfg_.n_threads, [&] { return SeqState(spec_.k); }, [&](Index ci, SeqState& st) {
    std::int64_t n_weighted = 0, n_clipped = 0;
    for (Index b = chunks_.begin(ci); b < chunks_.end(ci) && !err.raised(); ++b) {
      pol.begin(x + b * spec_.d, st);
      for (Index j = b * G_; j < (b + 1) * G_; ++j)
        for (int i = 0; i < N; ++i) {
          const std::size_t at = std::size_t(j * N + i);
          const double A = adv_[at];
          reuse_w_[at] = 0.0;
          if (A == 0.0) continue;
          NextToken t;
          if (!pol.next(st, i, i ? y[j * N + i - 1] : -1, t)) {
            err.set(pol.non_finite_message());
            return;
          }
          const double rho = std::exp(t.norm.log_prob(t.logits[y[j * N + i]]) - logp_old_[at]);
          const bool clip = eps > 0.0 && ((A > 0.0 && rho > 1.0 + eps) || (A < 0.0 && rho < 1.0 - eps));
          reuse_w_[at] = clip ? 0.0 : A * rho;
          ++n_weighted;
          n_clipped += clip;
        }
    }
    weighted += n_weighted;
    clipped += n_clipped;
  });
  err.rethrow();
  for (GradAccum& g : acc_) g.clear();
  accumulate(pol, reg, x, y, reuse_w_.data(), false);
  return weighted > 0 ? double(clipped) / double(weighted) : 0.0;
}

void PGStep::update(double* w, double* opt_state, const std::vector<double>& coef) {
  grad_.setZero();
  for (Index c = 0; c < channels_; ++c) {
    part_.setZero();
    GradAccum::flush(acc_.data() + c, chunks_.count, channels_, part_.data());
    grad_ += coef[std::size_t(c)] * part_;
  }
  cfg_.optimizer.step(spec_, w, grad_.data(), opt_state, double(n_) * spec_.N);
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
