// lpgx._core: the private compiled module. Each topic binds itself in bind_<topic>.cpp.
#include "common.hpp"
#include "lpgx/parallel.hpp"

namespace lpgx::bind {
void bind_model(py::module_& m);
void bind_inputs(py::module_& m);
void bind_training(py::module_& m);
void bind_algorithms(py::module_& m);
}  // namespace lpgx::bind

PYBIND11_MODULE(_core, m) {
  m.doc() = "lpgx compiled core (private; use the lpgx package)";
  m.attr("__version__") = LPGX_VERSION;
  m.def("openmp_enabled", &lpgx::openmp_enabled);
  m.def("max_threads", &lpgx::max_threads);
  lpgx::bind::bind_model(m);
  lpgx::bind::bind_inputs(m);
  lpgx::bind::bind_training(m);
  lpgx::bind::bind_algorithms(m);
}
