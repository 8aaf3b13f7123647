// Bindings of the paper's algorithms (cpp/lpgx/algorithms.hpp).
#include "common.hpp"
#include "lpgx/algorithms.hpp"

namespace lpgx::bind {

void bind_algorithms(py::module_& m) {
  py::enum_<AlgoConfig::Kind>(m, "AlgoKind")
      .value("sgd", AlgoConfig::kSGD)
      .value("pg_outcome", AlgoConfig::kPGOutcome)
      .value("pg_outcome_multi", AlgoConfig::kPGOutcomeMulti)
      .value("pg_process", AlgoConfig::kPGProcess)
      .value("online", AlgoConfig::kOnline);
  py::class_<AlgoConfig>(m, "AlgoConfig")
      .def(py::init<>())
      .def_readwrite("kind", &AlgoConfig::kind)
      .def_readwrite("steps", &AlgoConfig::steps)
      .def_readwrite("seed", &AlgoConfig::seed)
      .def_readwrite("n_threads", &AlgoConfig::n_threads)
      .def_readwrite("optimizer", &AlgoConfig::optimizer)
      .def_readwrite("m", &AlgoConfig::m)
      .def_readwrite("mix", &AlgoConfig::mix)
      .def_readwrite("resample", &AlgoConfig::resample)
      .def_readwrite("eval_every", &AlgoConfig::eval_every)
      .def_readwrite("target_log_lik", &AlgoConfig::target_log_lik)
      .def_readwrite("random_iterate", &AlgoConfig::random_iterate);

  m.def(
      "run_algorithm",
      [](int k, int N, int d, unsigned blocks, CArray<double> w, int task_kind, int num_mix, double sigma,
         std::optional<unsigned> teacher_blocks, std::optional<CArray<double>> teacher_w,
         std::optional<CArray<double>> finite_x, std::optional<CArray<double>> finite_mass,
         std::optional<CArray<std::int32_t>> finite_y, std::optional<unsigned> base_blocks,
         std::optional<CArray<double>> base_w, const AlgoConfig& cfg, std::optional<CArray<double>> eval_x,
         std::optional<CArray<std::int32_t>> eval_y, CArray<double> w_snapshot, CArray<std::int64_t> done,
         py::object progress, py::dict records) {
        const Spec spec = make_spec(k, N, d, blocks, w);
        require(cfg.steps >= 0 && cfg.m >= 1 && cfg.n_threads >= 1, "invalid steps, m or n_threads");
        require(cfg.mix >= 0.0 && cfg.mix <= 1.0, "mix must lie in [0, 1]");
        check_shape(w_snapshot, "w_snapshot", {spec.num_params});
        check_shape(done, "done", {1});
        std::optional<Policy> teacher, base;
        if (teacher_blocks) teacher.emplace(make_spec(k, N, d, *teacher_blocks, *teacher_w), teacher_w->data());
        if (base_blocks) base.emplace(make_spec(k, N, d, *base_blocks, *base_w), base_w->data());
        const bool needs_base = cfg.kind == AlgoConfig::kPGOutcome || cfg.kind == AlgoConfig::kPGOutcomeMulti ||
                                cfg.kind == AlgoConfig::kPGProcess;
        require(!needs_base || base.has_value(), "this algorithm needs a base model q0");
        Task task = make_task(spec, task_kind, num_mix, sigma, teacher, finite_x, finite_mass, finite_y);
        task.teacher = teacher ? &*teacher : nullptr;
        AlgoState st;
        st.w = w.mutable_data();
        st.w_snapshot = cfg.random_iterate >= 0 ? w_snapshot.mutable_data() : nullptr;
        st.base = base ? &*base : nullptr;
        if (eval_x) {
          check_shape(*eval_x, "eval_x", {-1, d});
          st.n_eval = eval_x->shape(0);
          check_tokens(*eval_y, st.n_eval, N, k);
          st.eval_x = eval_x->data();
          st.eval_y = eval_y->data();
        }
        const auto hook = python_hook(done.mutable_data(), progress);
        st.poll = check_signals;
        // The records of the steps completed, also when the run is interrupted or fails.
        auto publish = [&] {
          const Index rows = st.n_eval > 0 ? std::min<Index>(Index(st.eval_steps.size()),
                                                             Index(st.eval_log_lik.size()) / st.n_eval)
                                           : Index(st.eval_steps.size());
          CArray<double> eval_out({rows, st.n_eval});
          std::copy(st.eval_log_lik.begin(), st.eval_log_lik.begin() + rows * st.n_eval, eval_out.mutable_data());
          records["steps_done"] = st.steps_done;
          records["target_step"] = st.target_step;
          records["queries"] = py::array(py::cast(st.queries)).attr("astype")("int64");
          records["success"] = py::array(py::cast(st.success)).attr("astype")("bool");
          records["expected_mistakes"] = py::array(py::cast(st.expected_mistakes)).attr("astype")("float64");
          records["sample_mistakes"] = py::array(py::cast(st.sample_mistakes)).attr("astype")("int64");
          records["eval_steps"] = py::array(py::cast(st.eval_steps)).attr("astype")("int64");
          records["eval_log_lik"] = eval_out;
        };
        try {
          py::gil_scoped_release release;
          run_algorithm(spec, task, cfg, st, hook);
        } catch (...) {
          publish();
          throw;
        }
        publish();
      },
      py::arg("k"), py::arg("N"), py::arg("d"), py::arg("blocks"), py::arg("w").noconvert(), py::arg("task_kind"),
      py::arg("num_mix"), py::arg("sigma"), py::arg("teacher_blocks"), py::arg("teacher_w"), py::arg("finite_x"),
      py::arg("finite_mass"), py::arg("finite_y"), py::arg("base_blocks"), py::arg("base_w"), py::arg("cfg"),
      py::arg("eval_x"), py::arg("eval_y"), py::arg("w_snapshot").noconvert(), py::arg("done").noconvert(),
      py::arg("progress"), py::arg("records"));
}

}  // namespace lpgx::bind
