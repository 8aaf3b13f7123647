// lpgx._core: the private compiled module. Each topic binds itself in bind_<topic>.cpp.
#include "helpers.hpp"
#include "lpgx/algorithms.hpp"
#include "lpgx/behavior.hpp"
#include "lpgx/estimator.hpp"
#include "lpgx/parallel.hpp"

namespace lpgx::bind {
void bind_model(py::module_& m);
void bind_task(py::module_& m);
void bind_training(py::module_& m);
void bind_algorithms(py::module_& m);

namespace {
template <std::size_t n>
py::tuple names(const KindNames<n>& table) {
  py::tuple t(n);
  for (std::size_t i = 0; i < n; ++i) t[i] = table[i];
  return t;
}

// Every registered kind with what the Python layer needs to know of it.
py::dict kinds() {
  py::dict d;
  d["block"] = names(kBlockNames);
  d["reward"] = names(RewardSpec::kNames);
  d["behavior"] = names(Behavior::kNames);
  d["estimator"] = names(Estimator::kNames);
  d["grpo_scale"] = names(Estimator::kScaleNames);
  d["kl_estimator"] = names(Estimator::kKLNames);
  d["optimizer"] = names(Optimizer::kNames);
  d["algorithm"] = names(AlgoConfig::kNames);
  py::list beh_base, alg_base;
  for (std::size_t i = 0; i < Behavior::kNames.size(); ++i)
    if (needs_base(static_cast<Behavior::Kind>(i))) beh_base.append(Behavior::kNames[i]);
  for (std::size_t i = 0; i < AlgoConfig::kNames.size(); ++i)
    if (needs_base(static_cast<AlgoConfig::Kind>(i))) alg_base.append(AlgoConfig::kNames[i]);
  d["behavior_needs_base"] = py::tuple(beh_base);
  d["algorithm_needs_base"] = py::tuple(alg_base);
  return d;
}
}  // namespace
}  // namespace lpgx::bind

PYBIND11_MODULE(_core, m) {
  m.doc() = "lpgx compiled core (private; use the lpgx package)";
  m.attr("__version__") = LPGX_VERSION;
  lpgx::install_fork_guard();
  m.def("openmp_enabled", &lpgx::openmp_enabled);
  m.def("max_threads", &lpgx::max_threads);
  m.def("kinds", &lpgx::bind::kinds);
  lpgx::bind::bind_model(m);
  lpgx::bind::bind_task(m);
  lpgx::bind::bind_training(m);
  lpgx::bind::bind_algorithms(m);
}
