// The objects the Python layer owns: a model (its weights in aligned memory the engine reads
// directly) and a task (where contexts and their correct responses come from).
#pragma once
#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "helpers.hpp"
#include "lpgx/huge_pages.hpp"
#include "lpgx/inputs.hpp"
#include "lpgx/task.hpp"

namespace lpgx::bind {

struct ModelHandle {
  Spec spec;
  Eigen::VectorXd w;  // the parameters in the engine's internal layout (model.hpp), aligned
  std::atomic<bool> busy{false};  // a training run or an algorithm is updating w

  ModelHandle(int k, int N, int d, unsigned blocks) : spec(k, N, d, blocks), w(huge_page_vector(spec.num_params)) {
    w.setZero();
  }
  // A new array of the parameters in the flat layout of theory §1.
  py::array_t<double> flat() const {
    py::array_t<double> out({spec.num_params});
    spec.to_flat(w.data(), out.mutable_data());
    return out;
  }
  // The policy on the weights as they are (read in place: for a call that holds them).
  Policy policy() const { return Policy(spec, w.data()); }
  // The policy on a copy of the weights as they are now (for a run during which they may change).
  Policy snapshot() const { return Policy::copied(spec, w.data()); }
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

// What a training run or an algorithm run acts on: a model (locked while it runs), a task and
// an optional base model q0, checked to have the model's sizes.
class RunTarget {
 public:
  RunTarget(ModelPtr model, TaskPtr task, std::optional<ModelPtr> base);
  // The engine's view during a run: the teacher's and the base model's weights prepared.
  class Prepared {
   public:
    Prepared(const TaskHandle& task, const ModelHandle* base);
    Prepared(const Prepared&) = delete;
    Prepared& operator=(const Prepared&) = delete;
    const Task& task() const { return task_; }
    const Policy* base() const { return base_ ? &*base_ : nullptr; }

   private:
    std::optional<Policy> teacher_, base_;
    Task task_;
  };

 protected:
  ModelPtr model_;
  TaskPtr task_;
  ModelPtr base_;  // null when none
};

}  // namespace lpgx::bind
