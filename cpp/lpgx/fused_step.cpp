#include "fused_step.hpp"

#include <vector>

#include "batch.hpp"
#include "rng.hpp"

namespace lpgx {

bool fusable(const Spec& spec, const TrainConfig& cfg) {
  const RewardSpec& r = cfg.reward;
  return memoisable(spec) && cfg.behavior.kind == Behavior::kOnPolicy && !r.external &&
         (r.kind == RewardSpec::kOutcome || (r.kind == RewardSpec::kProcess && !cfg.baseline));
}

FusedPGStep::FusedPGStep(const Spec& spec, const TrainConfig& cfg)
    : spec_(spec),
      cfg_(cfg),
      process_(cfg.reward.kind == RewardSpec::kProcess),
      width_(process_ ? spec.N : 1),
      // Gradient sums per class of sequences sharing a coefficient: outcome rewards pos /
      // neg (advantage r − baseline), or one class for process rewards (weights r_i, applied
      // per token).
      classes_(process_ ? 1 : 2),
      chunks_(cfg.batch, spec.num_params * classes_),
      acc_(static_cast<std::size_t>(chunks_.count * classes_), GradAccum(spec)),
      r_(static_cast<std::size_t>(cfg.batch * width_)),
      mean_(static_cast<std::size_t>(width_)),
      G_(spec.num_params),
      part_(spec.num_params) {}

double FusedPGStep::run(double* w, double* opt_state, const double* x, const std::int32_t* ystar,
                        std::uint64_t sample_key, std::uint64_t noise_key, std::int32_t* y,
                        std::int64_t* queries) {
  const Spec& spec = spec_;
  const int N = spec.N;
  const Index B = cfg_.batch, width = width_, classes = classes_;
  const Policy pol(spec, w);
  for (GradAccum& g : acc_) g.clear();
  ErrorFlag err;
  struct Scratch {
    SeqState st;
    RowWeights rows;  // left clear by every flush
  };
  parallel_for_with(chunks_.count, cfg_.n_threads, [&] { return Scratch{SeqState(spec.k), RowWeights(spec.k)}; },
                    [&](Index ci, Scratch& scratch) {
    SeqState& st = scratch.st;
    RowWeights& rows = scratch.rows;
    for (Index b = chunks_.begin(ci); b < chunks_.end(ci) && !err.raised(); ++b) {
      std::int32_t* yb = y + b * N;
      Philox rng(sample_key, std::uint64_t(b));
      pol.begin(x + b * spec.d, st);
      if (!draw_sequence(pol, st, rng, yb)) { err.set(kNonFinite); return; }
      double* rb = r_.data() + b * width;
      reward_of(cfg_.reward, yb, ystar + b * N, N, noise_key, b, rb);
      for (int i = 0; i < N; ++i) {
        const double a = process_ ? rb[i] : 1.0;
        if (a != 0.0) rows.add(i ? yb[i - 1] : -1, yb[i], a);
      }
      GradAccum& g = acc_[std::size_t(ci * classes + (process_ || rb[0] == cfg_.reward.pos ? 0 : 1))];
      g.begin_sequence();
      rows.flush(st, st.x.data(), g, st.p.data());
      g.end_sequence(st.x.data());
    }
  });
  err.rethrow();
  *queries += B;
  const double mean_r = batch_means(r_.data(), B, width, mean_.data());
  const double baseline = cfg_.baseline ? mean_[0] : 0.0;  // outcome only (fusable)
  G_.setZero();
  for (Index c = 0; c < classes; ++c) {
    part_.setZero();
    for (Index ci = 0; ci < chunks_.count; ++ci) acc_[std::size_t(ci * classes + c)].flush_into(part_.data());
    G_ += (process_ ? 1.0 : (c == 0 ? cfg_.reward.pos : cfg_.reward.neg) - baseline) * part_;
  }
  cfg_.optimizer.step(w, G_.data(), opt_state, spec.num_params, double(B) * N);
  return mean_r;
}

}  // namespace lpgx
