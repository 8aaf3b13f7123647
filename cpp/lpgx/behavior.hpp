// Behaviour policies (theory §6.3): who draws the responses a policy-gradient step learns from.
#pragma once
#include <cstdint>

#include "batch.hpp"
#include "kinds.hpp"
#include "model.hpp"
#include "oracle.hpp"

namespace lpgx {

struct Behavior {
  enum Kind : int {
    kOnPolicy = 0,         // the current policy
    kFrozen = 1,           // a fixed model q0
    kUniform = 2,          // uniform tokens
    kEpsMixture = 3,       // per token: uniform with prob eps, else the current policy
    kBaseUniformSeq = 4,   // per sequence: uniform with prob eps, else q0   (eps = ½: ½q0 + ½U)
    kBaseUniformToken = 5, // per token: uniform with prob eps, else q0(·|prefix)
    kBestOfM = 6,          // per token, while the prefix is accepted: up to m draws from the
                           // current policy, keep the first the PRM accepts (1 query each)
    kTeacherForcing = 7,   // y = y*
    kGiven = 8,            // responses given by the caller (one step from given data)
  };
  static constexpr KindNames<9> kNames = {"on_policy", "frozen", "uniform", "eps_mixture", "base_uniform_seq",
                                          "base_uniform_token", "best_of_m", "teacher_forcing", "given"};
  Kind kind = kOnPolicy;
  double eps = 0.5;
  int m = 1;
};

constexpr auto fields_of(const Behavior*) {
  return std::make_tuple(field("kind", &Behavior::kind), field("eps", &Behavior::eps),
                         field("m", &Behavior::m));
}

// Whether a behaviour draws from a fixed base model q0 (which the caller must supply).
constexpr bool needs_base(Behavior::Kind kind) {
  return kind == Behavior::kFrozen || kind == Behavior::kBaseUniformSeq || kind == Behavior::kBaseUniformToken;
}

// Whether a behaviour draws from the current policy's distributions.
constexpr bool samples_current(Behavior::Kind kind) {
  return kind == Behavior::kOnPolicy || kind == Behavior::kEpsMixture || kind == Behavior::kBestOfM;
}

// A uniform token (Lemire's unbiased draw).
inline int uniform_token(int k, Philox& rng) { return static_cast<int>(rng.below(std::uint32_t(k))); }

// One token from (1 − λ)·next + λ·Unif(Y): a coin, then the uniform or the policy's draw.
inline int mixed_token(const NextToken& next, double mix, int k, Philox& rng) {
  return rng.uniform() < mix ? uniform_token(k, rng) : next.draw(rng.uniform());
}

// One response from (1 − λ)·q0 + λ·Unif(Y^N), mixed per sequence (st begun on q0's context);
// false when a logit is not finite.
inline bool sample_base_uniform(const Policy& q0, SeqState& st, double mix, Philox& rng, std::int32_t* y) {
  const Spec& s = q0.spec();
  if (rng.uniform() < mix) {
    for (int i = 0; i < s.N; ++i) y[i] = uniform_token(s.k, rng);
    return true;
  }
  return draw_sequence(q0, st, rng, y);
}

// Draws responses for one behaviour. Per context, begin() prepares the states; sample() then
// draws one response with its own stream. `cur` is the state of the current policy (shared
// with the gradient, so an on-policy step computes each distribution once), `beh` that of q0.
class BehaviorSampler {
 public:
  // `given` (n×N) holds the responses of kGiven; `oracle` judges best-of-m's candidates.
  BehaviorSampler(const Behavior& beh, const Policy& current, const Policy* base, const RewardOracle& oracle,
                  const std::int32_t* given = nullptr);
  // The policy the responses are drawn from (whose logits may turn out non-finite).
  const Policy& sampling_policy() const { return needs_base(beh_.kind) ? *base_ : current_; }
  // Whether judging a response costs no more queries: best-of-m's prefix queries revealed its
  // first error.
  bool reveals_first_error() const { return beh_.kind == Behavior::kBestOfM; }
  void begin(const double* x, SeqState& cur, SeqState& beh) const;
  // Response j (stream rng; y* of its context; noise for the oracle's verdicts) into y; false
  // when a logit is not finite.
  bool sample(Index j, const std::int32_t* ystar, Philox& rng, Philox& noise, SeqState& cur, SeqState& beh,
              std::int32_t* y) const;

 private:
  bool best_of_m(const std::int32_t* ystar, Philox& rng, Philox& noise, SeqState& cur, std::int32_t* y) const;
  Behavior beh_;
  const Policy& current_;
  const Policy* base_;
  const RewardOracle& oracle_;
  const std::int32_t* given_;
};

}  // namespace lpgx
