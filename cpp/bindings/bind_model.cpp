// Bindings of the batched policy operations (cpp/lpgx/batch.hpp).
#include "common.hpp"
#include "lpgx/batch.hpp"

namespace lpgx::bind {

void bind_model(py::module_& m) {
  m.def("num_params", [](int k, int N, int d, unsigned blocks) { return Spec(k, N, d, blocks).num_params; },
        py::arg("k"), py::arg("N"), py::arg("d"), py::arg("blocks"));

  m.def(
      "sample",
      [](int k, int N, int d, unsigned blocks, const CArray<double>& w, const CArray<double>& x,
         std::uint64_t key, std::uint64_t stream0, bool with_logp, int n_threads) {
        const Spec s = make_spec(k, N, d, blocks, w);
        check_shape(x, "x", {-1, d});
        const Index B = x.shape(0);
        CArray<std::int32_t> y({B, Index(N)});
        CArray<double> logp(with_logp ? std::vector<Index>{B, Index(N)} : std::vector<Index>{0});
        {
          py::gil_scoped_release release;
          Policy pol(s, w.data());
          sample(pol, x.data(), B, key, stream0, y.mutable_data(), with_logp ? logp.mutable_data() : nullptr,
                 n_threads);
        }
        return py::make_tuple(y, logp);
      },
      py::arg("k"), py::arg("N"), py::arg("d"), py::arg("blocks"), py::arg("w").noconvert(),
      py::arg("x").noconvert(), py::arg("key"), py::arg("stream0"), py::arg("with_logp"), py::arg("n_threads"));

  m.def(
      "token_log_prob",
      [](int k, int N, int d, unsigned blocks, const CArray<double>& w, const CArray<double>& x,
         const CArray<std::int32_t>& y, int n_threads) {
        const Spec s = make_spec(k, N, d, blocks, w);
        check_shape(x, "x", {-1, d});
        const Index B = x.shape(0);
        check_tokens(y, B, N, k);
        CArray<double> out({B, Index(N)});
        {
          py::gil_scoped_release release;
          Policy pol(s, w.data());
          token_log_prob(pol, x.data(), y.data(), B, out.mutable_data(), n_threads);
        }
        return out;
      },
      py::arg("k"), py::arg("N"), py::arg("d"), py::arg("blocks"), py::arg("w").noconvert(),
      py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("n_threads"));

  m.def(
      "greedy",
      [](int k, int N, int d, unsigned blocks, const CArray<double>& w, const CArray<double>& x, int n_threads) {
        const Spec s = make_spec(k, N, d, blocks, w);
        check_shape(x, "x", {-1, d});
        const Index B = x.shape(0);
        CArray<std::int32_t> y({B, Index(N)});
        {
          py::gil_scoped_release release;
          Policy pol(s, w.data());
          greedy(pol, x.data(), B, y.mutable_data(), n_threads);
        }
        return y;
      },
      py::arg("k"), py::arg("N"), py::arg("d"), py::arg("blocks"), py::arg("w").noconvert(),
      py::arg("x").noconvert(), py::arg("n_threads"));

  m.def(
      "grad_log_prob",
      [](int k, int N, int d, unsigned blocks, const CArray<double>& w, const CArray<double>& x,
         const CArray<std::int32_t>& y, const std::optional<CArray<double>>& weights, int n_threads) {
        const Spec s = make_spec(k, N, d, blocks, w);
        check_shape(x, "x", {-1, d});
        const Index B = x.shape(0);
        check_tokens(y, B, N, k);
        if (weights) check_shape(*weights, "weights", {B, N});
        CArray<double> grad({s.num_params});
        CArray<double> logp({B, Index(N)});
        {
          py::gil_scoped_release release;
          std::fill_n(grad.mutable_data(), s.num_params, 0.0);
          Policy pol(s, w.data());
          grad_log_prob(pol, x.data(), y.data(), weights ? weights->data() : nullptr, B, grad.mutable_data(),
                        logp.mutable_data(), n_threads);
        }
        return py::make_tuple(grad, logp);
      },
      py::arg("k"), py::arg("N"), py::arg("d"), py::arg("blocks"), py::arg("w").noconvert(),
      py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("weights").noconvert(), py::arg("n_threads"));

  m.def(
      "margin_gaps",
      [](int k, int N, int d, unsigned blocks, const CArray<double>& w, const CArray<double>& x,
         const CArray<std::int32_t>& y, int n_threads) {
        const Spec s = make_spec(k, N, d, blocks, w);
        check_shape(x, "x", {-1, d});
        const Index B = x.shape(0);
        check_tokens(y, B, N, k);
        CArray<double> gap({B}), r2({B});
        {
          py::gil_scoped_release release;
          Policy pol(s, w.data());
          margin_gaps(pol, x.data(), y.data(), B, gap.mutable_data(), r2.mutable_data(), n_threads);
        }
        return py::make_tuple(gap, r2);
      },
      py::arg("k"), py::arg("N"), py::arg("d"), py::arg("blocks"), py::arg("w").noconvert(),
      py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("n_threads"));

  m.def(
      "count_matches",
      [](int k, int N, int d, unsigned blocks, const CArray<double>& w, const CArray<double>& x,
         const CArray<std::int32_t>& y, Index n_samples, std::uint64_t key, int n_threads) {
        const Spec s = make_spec(k, N, d, blocks, w);
        check_shape(x, "x", {-1, d});
        const Index B = x.shape(0);
        check_tokens(y, B, N, k);
        require(n_samples >= 1, "n_samples must be >= 1");
        CArray<std::int64_t> counts({B});
        {
          py::gil_scoped_release release;
          Policy pol(s, w.data());
          count_matches(pol, x.data(), y.data(), B, n_samples, key, counts.mutable_data(), n_threads);
        }
        return counts;
      },
      py::arg("k"), py::arg("N"), py::arg("d"), py::arg("blocks"), py::arg("w").noconvert(),
      py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("n_samples"), py::arg("key"),
      py::arg("n_threads"));

  // For the tests: the softmax's exp, elementwise on [−700, 0].
  m.def(
      "_exp_nonpositive",
      [](const CArray<double>& x) {
        check_shape(x, "x", {-1});
        CArray<double> out({x.shape(0)});
        bool in_range = true;
        for (Index i = 0; i < x.shape(0); ++i) {
          in_range = in_range && x.data()[i] >= -700.0 && x.data()[i] <= 0.0;
          out.mutable_data()[i] = exp_nonpositive(x.data()[i]);
        }
        require(in_range, "x must lie in [-700, 0]");
        return out;
      },
      py::arg("x").noconvert());
}

}  // namespace lpgx::bind
