// The objects the Python layer owns: a model (its weights in aligned memory the engine reads
// directly) and a task (where contexts and their correct responses come from).
#pragma once
#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "helpers.hpp"
#include "lpgx/inputs.hpp"
#include "lpgx/task.hpp"

namespace lpgx::bind {

struct ModelHandle {
  Spec spec;
  Eigen::VectorXd w;  // the flat parameters (theory §1 layout), aligned
  std::atomic<bool> busy{false};  // a training run or an algorithm is updating w

  ModelHandle(int k, int N, int d, unsigned blocks) : spec(k, N, d, blocks), w(Eigen::VectorXd::Zero(spec.num_params)) {}
  Policy policy() const { return Policy(spec, w.data()); }
};
using ModelPtr = std::shared_ptr<ModelHandle>;

// Marks a model as being updated for the lifetime of the guard; a second concurrent update is
// refused (its result would match neither order).
class BusyGuard {
 public:
  explicit BusyGuard(ModelHandle& model, const char* what) : model_(model) {
    bool expected = false;
    if (!model_.busy.compare_exchange_strong(expected, true))
      throw py::value_error(std::string(what) + ": the model is already being trained by another call "
                            "(post_train, pretrain or an algorithm); wait for it to finish or train a model.copy()");
  }
  ~BusyGuard() { model_.busy.store(false); }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;

 private:
  ModelHandle& model_;
};

// Contexts from an input distribution with y* the teacher's greedy decoding, or from a finite
// list with masses and planted responses (theory §2, §8). Finite arrays are owned copies.
struct TaskHandle {
  int k = 0, N = 0, d = 0;
  InputDist inputs;
  ModelPtr teacher;  // generated inputs
  Index n_finite = 0;
  std::vector<double> finite_x, finite_cdf;
  std::vector<std::int32_t> finite_y;

  // The engine's view; `teacher_policy` holds the teacher's prepared weights meanwhile.
  Task view(std::optional<Policy>& teacher_policy) const;
  void check_model(const Spec& spec, const char* name) const;
};
using TaskPtr = std::shared_ptr<TaskHandle>;

}  // namespace lpgx::bind
