// The reward oracle of theory §4: the only place that judges responses and counts queries.
//
// Outcome (ORM): r = pos if y = y* else neg; one query per candidate sequence.
// Process (PRM): r_i = pos if y_1..i = y*_1..i else neg, for every i. Judging a whole
// sequence reveals its first error: one query. The PRM can also judge one prefix extension at
// a time (token-level exploration: best-of-m, Algorithm 2), one query each.
// flip_prob flips each revealed indicator independently: a noisy verifier.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>

#include "kinds.hpp"
#include "parallel.hpp"
#include "rng.hpp"

namespace lpgx {

struct RewardSpec {
  enum Kind : int { kNone = 0, kOutcome = 1, kProcess = 2 };
  static constexpr KindNames<3> kNames = {"none", "outcome", "process"};
  Kind kind = kOutcome;
  double pos = 1.0, neg = -1.0;
  double flip_prob = 0.0;
  bool external = false;  // judged by a user callable instead of against y*
  // Rewards per response: N for the PRM, 1 for the ORM.
  Index width(int N) const { return kind == kProcess ? N : 1; }
};

constexpr auto fields_of(const RewardSpec*) {
  return std::make_tuple(field("kind", &RewardSpec::kind), field("pos", &RewardSpec::pos),
                         field("neg", &RewardSpec::neg), field("flip_prob", &RewardSpec::flip_prob),
                         field("external", &RewardSpec::external));
}

// A user's batched verifier: fills r (n for outcome, n×N for process) from x and y.
using RewardCallback = std::function<void(const double* x, const std::int32_t* y, Index n, double* r)>;

// Position of the first token where y differs from y* (N when they agree).
inline int first_error(const std::int32_t* y, const std::int32_t* ystar, int N) {
  int i = 0;
  while (i < N && y[i] == ystar[i]) ++i;
  return i;
}

class RewardOracle {
 public:
  RewardOracle(const RewardSpec& spec, int N, RewardCallback external = {})
      : spec_(spec), N_(N), external_(std::move(external)) {}
  RewardOracle(const RewardOracle&) = delete;
  RewardOracle& operator=(const RewardOracle&) = delete;
  const RewardSpec& spec() const { return spec_; }
  int seq_len() const { return N_; }

  // The rewards of candidate j (width(N) values into r) against y*, noise from stream j of
  // key. One query, unless `revealed`: earlier prefix queries (best-of-m under the PRM)
  // already revealed the first error. Returns whether y = y*.
  bool judge(const std::int32_t* y, const std::int32_t* ystar, std::uint64_t key, Index j, double* r,
             bool revealed = false) const;
  // The PRM's verdict on extending an accepted prefix of y* by token c at position i.
  bool accepts_token(int c, const std::int32_t* ystar, int i, Philox& noise) const {
    count(1);
    return noisy(c == ystar[i], noise);
  }
  // The ORM's verdict on a whole candidate.
  bool accepts(const std::int32_t* y, const std::int32_t* ystar, Philox& noise) const {
    count(1);
    return noisy(first_error(y, ystar, N_) == N_, noise);
  }
  // The PRM's verdict on a whole candidate: the first position whose prefix it rejects (N when
  // it accepts every prefix).
  int first_rejected(const std::int32_t* y, const std::int32_t* ystar, Philox& noise) const {
    count(1);
    const int e = first_error(y, ystar, N_);
    for (int i = 0; i < N_; ++i)
      if (!noisy(i < e, noise)) return i;
    return N_;
  }
  // A user's verifier on n candidates (x: n×d): n queries.
  void judge_external(const double* x, const std::int32_t* y, Index n, double* r) const {
    external_(x, y, n, r);
    count(n);
  }
  std::int64_t queries() const { return queries_.load(std::memory_order_relaxed); }

 private:
  void count(std::int64_t n) const { queries_.fetch_add(n, std::memory_order_relaxed); }
  bool noisy(bool ok, Philox& rng) const {
    return (spec_.flip_prob > 0.0 && rng.uniform() < spec_.flip_prob) ? !ok : ok;
  }
  RewardSpec spec_;
  int N_;
  RewardCallback external_;
  mutable std::atomic<std::int64_t> queries_{0};
};

// The oracle's rewards for n candidates (y: n×N against y*: n×N; candidate j uses stream j
// of key) into r (n×width), in parallel.
void judge_batch(const RewardOracle& oracle, const std::int32_t* y, const std::int32_t* ystar, Index n,
                 std::uint64_t key, double* r, int n_threads);

}  // namespace lpgx
