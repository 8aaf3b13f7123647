// Bindings of the input distributions (cpp/lpgx/inputs.hpp).
#include "common.hpp"
#include "lpgx/inputs.hpp"

namespace lpgx::bind {

void bind_inputs(py::module_& m) {
  m.def(
      "draw_inputs",
      [](int kind, int d, int num_mix, double sigma, Index n, std::uint64_t key, std::uint64_t stream0,
         int n_threads) {
        require(kind == 0 || kind == 1, "kind must be 0 (rademacher) or 1 (mixture)");
        require(d >= 1 && n >= 0 && num_mix >= 1, "invalid input sizes");
        InputDist dist{static_cast<InputKind>(kind), d, num_mix, sigma};
        CArray<double> x({n, Index(d)});
        CArray<std::int32_t> comp({n});
        {
          py::gil_scoped_release release;
          draw_inputs(dist, n, key, stream0, x.mutable_data(), comp.mutable_data(), n_threads);
        }
        return py::make_tuple(x, comp);
      },
      py::arg("kind"), py::arg("d"), py::arg("num_mix"), py::arg("sigma"), py::arg("n"), py::arg("key"),
      py::arg("stream0"), py::arg("n_threads"));
}

}  // namespace lpgx::bind
