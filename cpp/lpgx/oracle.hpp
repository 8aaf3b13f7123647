// The reward oracle of theory §4: the only place that judges responses and counts queries.
//
// The correct set of a context: the responses that agree with its answer y* on the checked
// positions (all by default) with at most `tolerance` mismatches there. A prefix y_1..i is
// correct when it can still be completed into the set: the first error of a response is its
// (tolerance+1)-th mismatch on a checked position.
//
// Outcome (ORM): r = pos if y is correct else neg; one query per candidate sequence.
// Process (PRM): r_i = pos if y_1..i is correct else neg, for every i; judging a whole sequence
// reveals them all: one query. A short-sighted PRM (window w > 0) judges prefix i by the last w
// positions only. The PRM can also judge one prefix extension at a time (token-level
// exploration: best-of-m, Algorithm 2), one query each.
//
// Noise (theory §4): each revealed verdict is flipped independently, a correct one with
// probability false_neg, a wrong one with probability false_pos (flip_prob in Python sets
// both); the PRM can report the first error up to `jitter` positions early or late.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "kinds.hpp"
#include "parallel.hpp"
#include "rng.hpp"

namespace lpgx {

struct RewardSpec {
  enum Kind : int { kNone = 0, kOutcome = 1, kProcess = 2 };
  static constexpr KindNames<3> kNames = {"none", "outcome", "process"};
  Kind kind = kOutcome;
  double pos = 1.0, neg = -1.0;
  double false_pos = 0.0;       // P(a wrong verdict is reported correct)
  double false_neg = 0.0;       // P(a correct verdict is reported wrong)
  int jitter = 0;               // PRM: the reported first error moves by U{−j..j} (within the response)
  int window = 0;               // PRM: judge prefix i by positions i−w+1..i only (0: the whole prefix)
  std::vector<int> positions;   // the checked positions (empty: all)
  int tolerance = 0;            // mismatches allowed on the checked positions
  bool external = false;        // judged by a user callable instead of against y*
  // Rewards per response: N for the PRM, 1 for the ORM.
  Index width(int N) const { return kind == kProcess ? N : 1; }
  bool noisy() const { return false_pos > 0.0 || false_neg > 0.0; }
};

constexpr auto fields_of(const RewardSpec*) {
  return std::make_tuple(field("kind", &RewardSpec::kind), field("pos", &RewardSpec::pos),
                         field("neg", &RewardSpec::neg), field("false_pos", &RewardSpec::false_pos),
                         field("false_neg", &RewardSpec::false_neg), field("jitter", &RewardSpec::jitter),
                         field("window", &RewardSpec::window), field("positions", &RewardSpec::positions),
                         field("tolerance", &RewardSpec::tolerance), field("external", &RewardSpec::external));
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
  RewardOracle(const RewardSpec& spec, int N, RewardCallback external = {});
  RewardOracle(const RewardOracle&) = delete;
  RewardOracle& operator=(const RewardOracle&) = delete;
  const RewardSpec& spec() const { return spec_; }
  int seq_len() const { return N_; }

  // The true first error of y (N when y is in the correct set).
  int first_error_of(const std::int32_t* y, const std::int32_t* ystar) const {
    return exact_ ? first_error(y, ystar, N_) : first_error_in_set(y, ystar, N_);
  }
  // Whether the prefix y_1..i+1 (positions 0..i) is correct, for the PRM's verdicts.
  bool prefix_correct(const std::int32_t* y, const std::int32_t* ystar, int i) const;

  // The rewards of candidate j (width(N) values into r) against y*, noise from stream j of
  // key. One query, unless `revealed`: earlier prefix queries (best-of-m under the PRM)
  // already revealed its verdicts. Returns whether y is truly correct.
  bool judge(const std::int32_t* y, const std::int32_t* ystar, std::uint64_t key, Index j, double* r,
             bool revealed = false) const;
  // The PRM's verdict on the prefix y_1..i+1 (y[i] the candidate token): one query.
  bool accepts_prefix(const std::int32_t* y, const std::int32_t* ystar, int i, Philox& noise) const {
    count(1);
    return report(prefix_correct(y, ystar, i), noise);
  }
  // The ORM's verdict on a whole candidate: one query.
  bool accepts(const std::int32_t* y, const std::int32_t* ystar, Philox& noise) const {
    count(1);
    return report(first_error_of(y, ystar) == N_, noise);
  }
  // The PRM's verdict on a whole candidate: the first position whose prefix it rejects (N when
  // it accepts every prefix); one query.
  int first_rejected(const std::int32_t* y, const std::int32_t* ystar, Philox& noise) const;
  // A user's verifier on n candidates (x: n×d): n queries.
  void judge_external(const double* x, const std::int32_t* y, Index n, double* r) const {
    external_(x, y, n, r);
    count(n);
  }
  std::int64_t queries() const { return queries_.load(std::memory_order_relaxed); }

 private:
  int first_error_in_set(const std::int32_t* y, const std::int32_t* ystar, int upto) const;
  // The PRM's true verdicts on every prefix into ok (N), the reported first error jittered.
  void prefix_verdicts(const std::int32_t* y, const std::int32_t* ystar, Philox& rng, std::uint8_t* ok) const;
  void count(std::int64_t n) const { queries_.fetch_add(n, std::memory_order_relaxed); }
  // A verdict as reported: flipped with the noise rate of its truth (one uniform per verdict
  // whenever the oracle is noisy).
  bool report(bool ok, Philox& rng) const {
    if (!noisy_) return ok;
    const double u = rng.uniform();
    return ok ? !(u < spec_.false_neg) : (u < spec_.false_pos);
  }
  RewardSpec spec_;
  int N_;
  RewardCallback external_;
  bool noisy_, exact_;          // exact_: every position checked, no tolerance, no window
  std::vector<std::uint8_t> checked_;
  mutable std::atomic<std::int64_t> queries_{0};
};

// The oracle's rewards for n candidates (y: n×N against y*: n×N; candidate j uses stream j
// of key) into r (n×width), in parallel.
void judge_batch(const RewardOracle& oracle, const std::int32_t* y, const std::int32_t* ystar, Index n,
                 std::uint64_t key, double* r, int n_threads);

}  // namespace lpgx
