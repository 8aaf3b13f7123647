// Bindings of tasks (cpp/lpgx/task.hpp, cpp/lpgx/inputs.hpp).
#include <cmath>

#include "handles.hpp"

namespace lpgx::bind {

Task TaskHandle::view(std::optional<Policy>& teacher_policy) const {
  Task t;
  t.d = d;
  t.N = N;
  if (n_finite > 0) {
    t.n_finite = n_finite;
    t.finite_x = finite_x.data();
    t.finite_cdf = finite_cdf;
    t.finite_ystar = finite_y.data();
  } else {
    t.inputs = inputs;
    teacher_policy.emplace(teacher->snapshot());  // the caller may write to it meanwhile
    t.teacher = &*teacher_policy;
  }
  return t;
}

void TaskHandle::check_model(const Spec& spec, const char* name) const {
  require(spec.k == k && spec.N == N && spec.d == d,
          std::string(name) + ": the task's (vocab_size, seq_len, context_dim) differ from the model's");
}

RunTarget::RunTarget(ModelPtr model, TaskPtr task, std::optional<ModelPtr> base)
    : model_(std::move(model)), task_(std::move(task)), base_(base ? std::move(*base) : nullptr) {
  const Spec& spec = model_->spec;
  task_->check_model(spec, "task");
  if (base_)
    require(base_->spec.k == spec.k && base_->spec.N == spec.N && base_->spec.d == spec.d,
            "base: its (vocab_size, seq_len, context_dim) differ from the model's");
}

RunTarget::Prepared::Prepared(const TaskHandle& task, const ModelHandle* base) : task_(task.view(teacher_)) {
  if (base) base_.emplace(base->snapshot());  // it may even be the model being trained
}

void bind_task(py::module_& m) {
  py::class_<TaskHandle, TaskPtr>(m, "Task", "Where contexts and correct responses come from (private)")
      .def_static(
          "generated",
          [](int kind, int num_mix, double sigma, ModelPtr teacher) {
            require(kind == 0 || kind == 1, "kind must be 0 (rademacher) or 1 (mixture)");
            require(num_mix >= 1, "num_mix must be >= 1");
            auto t = std::make_shared<TaskHandle>();
            t->k = teacher->spec.k;
            t->N = teacher->spec.N;
            t->d = teacher->spec.d;
            t->inputs = InputDist{static_cast<InputKind>(kind), t->d, num_mix, sigma};
            t->teacher = std::move(teacher);
            return t;
          },
          py::arg("kind"), py::arg("num_mix"), py::arg("sigma"), py::arg("teacher"))
      .def_static(
          "finite",
          [](const CArray<double>& x, const CArray<double>& mass, const CArray<std::int32_t>& y, int k) {
            auto t = std::make_shared<TaskHandle>();
            require(x.ndim() == 2 && y.ndim() == 2, "finite task: contexts and responses must be 2-D");
            const Index n = x.shape(0);
            require(n >= 1, "finite task: no contexts");
            t->k = k;
            t->d = static_cast<int>(x.shape(1));
            t->N = static_cast<int>(y.shape(1));
            t->finite_x = Contexts(x, t->d, "task contexts").x.values();
            t->finite_y = Tokens(y, n, t->N, k, "task responses").y.values();
            check_shape(mass, "task masses", {n});
            double acc = 0.0;
            for (Index j = 0; j < n; ++j) {
              const double p = mass.data()[j];
              require(p >= 0.0 && std::isfinite(p), "task masses must be finite and >= 0");
              t->finite_cdf.push_back(acc += p);
            }
            require(acc > 0.0, "task masses must not all be zero");
            t->n_finite = n;
            return t;
          },
          py::arg("x").noconvert(), py::arg("mass").noconvert(), py::arg("y").noconvert(), py::arg("k"))
      .def(
          "draw_inputs",
          [](const TaskHandle& t, Index n, std::uint64_t key, int n_threads) {
            require(t.n_finite == 0, "draw_inputs: a finite task has no input distribution");
            require(n >= 0 && n_threads >= 1, "invalid n or n_threads");
            note_fork(n_threads);
            CArray<double> x({n, Index(t.d)});
            CArray<std::int32_t> comp({n});
            double* xp = x.mutable_data();
            std::int32_t* cp = comp.mutable_data();
            without_gil([&] { draw_inputs(t.inputs, n, key, 0, xp, cp, n_threads); });
            return py::make_tuple(x, comp);
          },
          py::arg("n"), py::arg("key"), py::arg("n_threads"));
}

}  // namespace lpgx::bind
