// Bindings of the paper's algorithms (cpp/lpgx/algorithms.hpp): a run as a handle whose records
// stay readable after an interrupt.
#include "handles.hpp"
#include "lpgx/algorithms.hpp"

namespace lpgx::bind {
namespace {

class AlgoRun : RunTarget {
 public:
  AlgoRun(ModelPtr model, TaskPtr task, std::optional<ModelPtr> base, const AlgoConfig& cfg, const py::object& eval)
      : RunTarget(std::move(model), std::move(task), std::move(base)), cfg_(cfg), eval_(eval, model_->spec, "eval") {
    require(cfg_.steps >= 0 && cfg_.m >= 1 && cfg_.n_threads >= 1, "invalid steps, m or n_threads");
    require(cfg_.mix >= 0.0 && cfg_.mix <= 1.0, "mix must lie in [0, 1]");
    check_reward(cfg_.reward, model_->spec.N);
    cfg_.reward.kind = reward_kind(cfg_.kind);
    require(!cfg_.reward.external, "the algorithms ask a built-in reward");
    require(!needs_base(cfg_.kind) || base_, "this algorithm needs a base model q0");
    iterate_ = model_->w;
  }

  void run(const py::object& progress) {
    require(!started_, "an algorithm run runs once");
    started_ = true;
    const Spec& spec = model_->spec;
    BusyGuard busy(*model_, "algorithm");
    const RewardOracle oracle(cfg_.reward, spec.N);
    const Prepared run(*task_, base_.get());
    AlgoState st;
    st.w = model_->w.data();
    st.w_iterate = iterate_.data();
    st.base = run.base();
    st.eval = eval_.view();
    const StepHook hook = python_hook(progress);
    note_fork(cfg_.n_threads);
    without_gil([&] { run_algorithm(spec, run.task(), cfg_, oracle, st, rec_, hook); });
  }

  py::dict records() const {
    const Index n_eval = eval_.x.n;
    const Index rows = n_eval > 0 ? std::min<Index>(Index(rec_.eval_steps.size()), Index(rec_.eval_log_lik.size()) / n_eval)
                                  : Index(rec_.eval_steps.size());
    py::dict d;
    d["steps_done"] = rec_.steps_done;
    d["target_step"] = rec_.target_step;
    d["iterate"] = rec_.iterate;
    d["queries"] = owned(rec_.queries, {Index(rec_.queries.size())});
    d["success"] = owned<std::uint8_t, bool>(rec_.success, {Index(rec_.success.size())});
    d["expected_mistakes"] = owned(rec_.expected_mistakes, {Index(rec_.expected_mistakes.size())});
    d["sample_mistakes"] = owned(rec_.sample_mistakes, {Index(rec_.sample_mistakes.size())});
    d["eval_steps"] = owned<Index, std::int64_t>(
        std::vector<Index>(rec_.eval_steps.begin(), rec_.eval_steps.begin() + rows), {rows});
    d["eval_log_lik"] = owned(std::vector<double>(rec_.eval_log_lik.begin(), rec_.eval_log_lik.begin() + rows * n_eval),
                              {rows, n_eval});
    py::array_t<double> w_iterate({Index(iterate_.size())});
    model_->spec.to_flat(iterate_.data(), w_iterate.mutable_data());
    d["w_iterate"] = w_iterate;
    return d;
  }

 private:
  AlgoConfig cfg_;
  OwnedEvalSet eval_;
  Eigen::VectorXd iterate_;
  AlgoRecords rec_;
  bool started_ = false;
};

}  // namespace

void bind_algorithms(py::module_& m) {
  bind_kind<AlgoConfig::Kind>(m, "AlgoKind", AlgoConfig::kNames);
  bind_fields<AlgoConfig>(m, "AlgoConfig");
  py::class_<AlgoRun>(m, "AlgoRun", "One run of an algorithm (private: use lpgx.algorithms)")
      .def(py::init<ModelPtr, TaskPtr, std::optional<ModelPtr>, const AlgoConfig&, py::object>(),
           py::arg("model"), py::arg("task"), py::arg("base"), py::arg("cfg"), py::arg("eval"))
      .def("run", &AlgoRun::run, py::arg("progress"))
      .def("records", &AlgoRun::records);
}

}  // namespace lpgx::bind
