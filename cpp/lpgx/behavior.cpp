#include "behavior.hpp"

#include <algorithm>

namespace lpgx {

BehaviorSampler::BehaviorSampler(const Behavior& beh, const Policy& current, const Policy* base,
                                 const RewardOracle& oracle, const std::int32_t* given)
    : beh_(beh), current_(current), base_(base), oracle_(oracle), given_(given) {}

void BehaviorSampler::begin(const double* x, SeqState& cur, SeqState& beh) const {
  if (samples_current(beh_.kind)) current_.begin(x, cur);
  if (needs_base(beh_.kind)) base_->begin(x, beh);
}

bool BehaviorSampler::sample(Index j, const std::int32_t* ystar, Philox& rng, Philox& noise, SeqState& cur,
                             SeqState& beh, std::int32_t* y) const {
  const Spec& s = current_.spec();
  switch (beh_.kind) {
    case Behavior::kOnPolicy: return draw_sequence(current_, cur, rng, y);
    case Behavior::kFrozen: return draw_sequence(*base_, beh, rng, y);
    case Behavior::kBaseUniformSeq: return sample_base_uniform(*base_, beh, beh_.eps, rng, y);
    case Behavior::kUniform:
      for (int i = 0; i < s.N; ++i) y[i] = uniform_token(s.k, rng);
      return true;
    case Behavior::kTeacherForcing: std::copy(ystar, ystar + s.N, y); return true;
    case Behavior::kGiven: std::copy(given_ + j * s.N, given_ + (j + 1) * s.N, y); return true;
    case Behavior::kBestOfM: return best_of_m(ystar, rng, noise, cur, y);
    case Behavior::kEpsMixture:
    case Behavior::kBaseUniformToken: {
      const bool on_base = beh_.kind == Behavior::kBaseUniformToken;
      const Policy& pol = on_base ? *base_ : current_;
      SeqState& st = on_base ? beh : cur;
      for (int i = 0; i < s.N; ++i) {
        NextToken next;
        if (!pol.next(st, i, i ? y[i - 1] : -1, next)) return false;
        y[i] = mixed_token(next, beh_.eps, s.k, rng);
      }
      return true;
    }
  }
  return false;
}

bool BehaviorSampler::best_of_m(const std::int32_t* ystar, Philox& rng, Philox& noise, SeqState& cur,
                                std::int32_t* y) const {
  const Spec& s = current_.spec();
  bool on_track = true;  // every token so far was accepted
  for (int i = 0; i < s.N; ++i) {
    NextToken next;
    if (!current_.next(cur, i, i ? y[i - 1] : -1, next)) return false;
    y[i] = next.draw(rng.uniform());
    if (on_track) {  // each candidate costs one PRM query
      bool accepted = oracle_.accepts_prefix(y, ystar, i, noise);
      for (int t = 1; t < beh_.m && !accepted; ++t) {
        y[i] = next.draw(rng.uniform());
        accepted = oracle_.accepts_prefix(y, ystar, i, noise);
      }
      on_track = accepted;
    }
  }
  return true;
}

}  // namespace lpgx
