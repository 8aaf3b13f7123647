#include "fused_step.hpp"

#include <vector>

#include "rng.hpp"

namespace lpgx {

bool fusable(const Spec& spec, const TrainConfig& cfg) {
  const RewardSpec& r = cfg.reward;
  return memoisable(spec) && cfg.behavior.kind == Behavior::kOnPolicy && !r.external &&
         (r.kind == RewardSpec::kOutcome || (r.kind == RewardSpec::kProcess && !cfg.baseline));
}

double fused_pg_step(const Spec& spec, const TrainConfig& cfg, double* w, double* opt_state, const double* x,
                     const std::int32_t* ystar, Index B, std::uint64_t sample_key, std::uint64_t noise_key,
                     std::int32_t* y, std::int64_t* queries) {
  const int N = spec.N;
  const bool process = cfg.reward.kind == RewardSpec::kProcess;
  const Index width = process ? N : 1;
  // Gradient sums per class of sequences sharing a coefficient: outcome rewards pos / neg
  // (advantage r − baseline), or one class for process rewards (weights r_i, applied per token).
  const Index classes = process ? 1 : 2;
  const Policy pol(spec, w);
  const Chunks chunks(B, spec.num_params * classes);
  std::vector<GradAccum> acc(static_cast<std::size_t>(chunks.count * classes), GradAccum(spec));
  std::vector<double> r(static_cast<std::size_t>(B * width));
  ErrorFlag err;
  parallel_for(chunks.count, cfg.n_threads, [&](Index ci) {
    SeqState st(spec.k);
    RowWeights rows(spec.k);
    for (Index b = chunks.begin(ci); b < chunks.end(ci) && !err.raised(); ++b) {
      std::int32_t* yb = y + b * N;
      Philox rng(sample_key, std::uint64_t(b));
      pol.begin(x + b * spec.d, st);
      int prev = -1;
      for (int i = 0; i < N; ++i) {
        NextToken t;
        if (!pol.next(st, i, prev, t)) { err.set(kNonFinite); return; }
        prev = yb[i] = t.draw(rng.uniform());
      }
      double* rb = r.data() + b * width;
      reward_of(cfg.reward, yb, ystar + b * N, N, noise_key, b, rb);
      for (int i = 0; i < N; ++i) {
        const double a = process ? rb[i] : 1.0;
        if (a != 0.0) rows.add(i ? yb[i - 1] : -1, yb[i], a);
      }
      GradAccum& g = acc[std::size_t(ci * classes + (process || rb[0] == cfg.reward.pos ? 0 : 1))];
      g.begin_sequence();
      rows.flush(st, st.x.data(), g, st.p.data());
      g.end_sequence(st.x.data());
    }
  });
  err.rethrow();
  *queries += B;
  std::vector<double> mean(static_cast<std::size_t>(width));
  const double mean_r = batch_means(r.data(), B, width, mean.data());
  const double baseline = cfg.baseline ? mean[0] : 0.0;  // outcome only (fusable)
  Eigen::VectorXd G = Eigen::VectorXd::Zero(spec.num_params), part(spec.num_params);
  for (Index c = 0; c < classes; ++c) {
    part.setZero();
    for (Index ci = 0; ci < chunks.count; ++ci) acc[std::size_t(ci * classes + c)].flush_into(part.data());
    G += (process ? 1.0 : (c == 0 ? cfg.reward.pos : cfg.reward.neg) - baseline) * part;
  }
  cfg.optimizer.step(w, G.data(), opt_state, spec.num_params, double(B) * N);
  return mean_r;
}

}  // namespace lpgx
