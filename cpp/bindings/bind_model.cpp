// Bindings of the model handle and its batched operations (cpp/lpgx/batch.hpp).
#include "handles.hpp"
#include "lpgx/batch.hpp"

namespace lpgx::bind {
namespace {

// The calling convention of every batched operation: owned copies of the inputs, outputs
// allocated here, the work without the GIL on a policy prepared from the model's weights.
template <class Work>
void run_kernel(const ModelHandle& h, int n_threads, Work&& work) {
  require(n_threads >= 1, "n_threads must be >= 1");
  note_fork(n_threads);
  without_gil([&] {
    const Policy pol = h.policy();
    work(pol);
  });
}

// grad_log_prob's (gradient, token log-probs, previous tokens, their columns of W2's gradient)
using GradResult = py::typing::Tuple<CArray<double>, CArray<double>, CArray<std::int32_t>, CArray<double>>;

}  // namespace

void bind_model(py::module_& m) {
  py::class_<ModelHandle, ModelPtr>(m, "Model", "A model's sizes, blocks and weights (private: use lpgx.LinearARModel)")
      .def(py::init<int, int, int, unsigned>(), py::arg("k"), py::arg("N"), py::arg("d"), py::arg("blocks"))
      .def_property_readonly("num_params", [](const ModelHandle& h) { return h.spec.num_params; })
      .def_property_readonly("busy", [](const ModelHandle& h) { return h.busy.load(); })
      .def("layout",
           [](const ModelHandle& h) {  // [(name, offset, shape)] of the enabled blocks, in flat order
             py::list out;
             for (std::size_t i = 0; i < kBlockNames.size(); ++i) {
               const Block b = static_cast<Block>(1u << i);
               if (h.spec.has(b)) out.append(py::make_tuple(kBlockNames[i], h.spec.offset(b), py::tuple(py::cast(h.spec.shape(b)))));
             }
             return out;
           })
      .def("flat", &ModelHandle::flat, "the parameters in the flat layout (a new array)")
      .def("block_view",
           [](py::object self, const std::string& name) {  // a live view of one block, kept alive by the handle
             ModelHandle& h = self.cast<ModelHandle&>();
             const int i = kind_index(kBlockNames, name);
             const Block b = static_cast<Block>(1u << std::max(i, 0));
             require(i >= 0 && h.spec.has(b), "block " + name + " is not enabled in this model");
             std::vector<Index> shape = h.spec.shape(b), strides(shape.size());
             Index step = sizeof(double);
             for (std::size_t j = shape.size(); j-- > 0;) {
               strides[j] = step;
               step *= shape[j];
             }
             if (b == kPrevToken) std::swap(strides[0], strides[1]);  // W2[c, prev] lives in W2ᵀ[prev, c]
             return py::array_t<double>(shape, strides, h.w.data() + h.spec.offset(b), self);
           },
           py::arg("name"))
      .def("set_w",
           [](ModelHandle& h, const CArray<double>& w) {
             check_shape(w, "w", {h.spec.num_params});
             require(!h.busy.load(), "model.w cannot be assigned while the model is being trained "
                                     "(post_train, pretrain or an algorithm is running on it)");
             h.spec.to_internal(w.data(), h.w.data());
           },
           py::arg("w").noconvert())
      .def("sample",
           [](const ModelHandle& h, const CArray<double>& x, std::uint64_t key, bool with_logp, int n_threads) {
             const Contexts xc(x, h.spec.d, "x", CopyTo::kScratch0, n_threads);
             const Index B = xc.n;
             const Index N = h.spec.N;
             CArray<std::int32_t> y({B, N});
             CArray<double> logp(with_logp ? std::vector<Index>{B, N} : std::vector<Index>{0});
             std::int32_t* yp = y.mutable_data();
             double* lp = with_logp ? logp.mutable_data() : nullptr;
             run_kernel(h, n_threads, [&](const Policy& pol) { sample(pol, xc.data(), B, key, 0, yp, lp, n_threads); });
             return py::make_tuple(y, logp);
           },
           py::arg("x").noconvert(), py::arg("key"), py::arg("with_logp"), py::arg("n_threads"))
      .def("token_log_prob",
           [](const ModelHandle& h, const CArray<double>& x, const CArray<std::int32_t>& y, int n_threads) {
             const Contexts xc(x, h.spec.d, "x", CopyTo::kScratch0, n_threads);
             const Tokens yc(y, xc.n, h.spec.N, h.spec.k, "y", CopyTo::kScratch0, n_threads);
             CArray<double> out({xc.n, Index(h.spec.N)});
             double* o = out.mutable_data();
             run_kernel(h, n_threads, [&](const Policy& pol) { token_log_prob(pol, xc.data(), yc.data(), xc.n, o, n_threads); });
             return out;
           },
           py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("n_threads"))
      .def("log_prob",
           [](const ModelHandle& h, const CArray<double>& x, const CArray<std::int32_t>& y, int n_threads) {
             const Contexts xc(x, h.spec.d, "x", CopyTo::kScratch0, n_threads);
             const Tokens yc(y, xc.n, h.spec.N, h.spec.k, "y", CopyTo::kScratch0, n_threads);
             CArray<double> out({xc.n});
             double* o = out.mutable_data();
             run_kernel(h, n_threads, [&](const Policy& pol) { log_prob(pol, xc.data(), yc.data(), xc.n, o, n_threads); });
             return out;
           },
           py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("n_threads"))
      .def("greedy",
           [](const ModelHandle& h, const CArray<double>& x, int n_threads) {
             const Contexts xc(x, h.spec.d, "x", CopyTo::kScratch0, n_threads);
             CArray<std::int32_t> y({xc.n, Index(h.spec.N)});
             std::int32_t* yp = y.mutable_data();
             run_kernel(h, n_threads, [&](const Policy& pol) { greedy(pol, xc.data(), xc.n, yp, n_threads); });
             return y;
           },
           py::arg("x").noconvert(), py::arg("n_threads"))
      .def("grad_log_prob",
           [](const ModelHandle& h, const CArray<double>& x, const CArray<std::int32_t>& y,
              const std::optional<CArray<double>>& weights, int n_threads, bool sparse) -> GradResult {
             const Contexts xc(x, h.spec.d, "x", CopyTo::kScratch0, n_threads);
             const Index B = xc.n;
             const Tokens yc(y, B, h.spec.N, h.spec.k, "y", CopyTo::kScratch0, n_threads);
             Copy<double> wts;
             if (weights) {
               check_shape(*weights, "weights", {B, h.spec.N});
               wts = Copy<double>(weights->data(), B * h.spec.N, CopyTo::kScratch1, n_threads);
             }
             CArray<double> grad = zeros(h.spec.num_params);  // grad_log_prob's flat layout writes only nonzeros
             CArray<double> logp({B, Index(h.spec.N)});
             double* g = grad.mutable_data();
             double* lp = logp.mutable_data();
             // sparse: W2's gradient as (the previous tokens that occur, their columns as rows);
             // otherwise those two are empty and W2's block is in grad
             auto cols = std::make_unique<PrevColumns>();
             run_kernel(h, n_threads, [&](const Policy& pol) {
               grad_log_prob(pol, xc.data(), yc.data(), weights ? wts.data() : nullptr, B, g, lp, n_threads, true,
                             sparse ? cols.get() : nullptr);
             });
             CArray<std::int32_t> tokens(Index(cols->tokens.size()));
             std::copy(cols->tokens.begin(), cols->tokens.end(), tokens.mutable_data());
             const py::ssize_t V = py::ssize_t(cols->tokens.size()), k = h.spec.k;
             if (!cols->table) cols->table = std::make_unique<PooledDoubles>(0);  // no prev-token block
             PooledDoubles* table = cols->table.get();  // handed to numpy, not copied
             py::capsule owner(table, [](void* p) { delete static_cast<PooledDoubles*>(p); });
             cols->table.release();
             CArray<double> columns({V, k}, {k * py::ssize_t(sizeof(double)), py::ssize_t(sizeof(double))}, table->data(), owner);
             return GradResult(py::make_tuple(grad, logp, tokens, columns));
           },
           py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("weights").noconvert(), py::arg("n_threads"),
           py::arg("sparse") = false)
      .def("margin_gaps",
           [](const ModelHandle& h, const CArray<double>& x, const CArray<std::int32_t>& y, int n_threads) {
             const Contexts xc(x, h.spec.d, "x", CopyTo::kScratch0, n_threads);
             const Tokens yc(y, xc.n, h.spec.N, h.spec.k, "y", CopyTo::kScratch0, n_threads);
             CArray<double> gap({xc.n}), r2({xc.n});
             double* gp = gap.mutable_data();
             double* rp = r2.mutable_data();
             run_kernel(h, n_threads, [&](const Policy& pol) { margin_gaps(pol, xc.data(), yc.data(), xc.n, gp, rp, n_threads); });
             return py::make_tuple(gap, r2);
           },
           py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("n_threads"))
      .def("kl_along",
           [](const ModelHandle& h, const ModelHandle& reference, const CArray<double>& x,
              const CArray<std::int32_t>& y, int n_threads) {
             require(reference.spec.k == h.spec.k && reference.spec.N == h.spec.N && reference.spec.d == h.spec.d &&
                         reference.spec.blocks == h.spec.blocks,
                     "reference: its sizes and blocks differ from the model's");
             const Contexts xc(x, h.spec.d, "x", CopyTo::kScratch0, n_threads);
             const Tokens yc(y, xc.n, h.spec.N, h.spec.k, "y", CopyTo::kScratch0, n_threads);
             CArray<double> kl({xc.n, Index(h.spec.N)}), log_rho({xc.n, Index(h.spec.N)});
             double* kp = kl.mutable_data();
             double* rp = log_rho.mutable_data();
             run_kernel(h, n_threads, [&](const Policy& pol) {
               const Policy ref = reference.policy();
               kl_along(pol, ref, xc.data(), yc.data(), xc.n, kp, rp, n_threads);
             });
             return py::make_tuple(kl, log_rho);
           },
           py::arg("reference"), py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("n_threads"))
      .def("set_log_prob",
           [](const ModelHandle& h, const CArray<double>& x, const CArray<std::int32_t>& y_star,
              const std::vector<int>& positions, int tolerance, int n_threads) {
             const Contexts xc(x, h.spec.d, "x", CopyTo::kScratch0, n_threads);
             const Tokens yc(y_star, xc.n, h.spec.N, h.spec.k, "y_star", CopyTo::kScratch0, n_threads);
             require(tolerance >= 0, "tolerance must be >= 0");
             std::vector<std::uint8_t> checked(std::size_t(h.spec.N), positions.empty() ? 1 : 0);
             for (int p : positions) {
               require(p >= 0 && p < h.spec.N, "positions must lie in [0, seq_len)");
               checked[std::size_t(p)] = 1;
             }
             CArray<double> out({xc.n});
             double* o = out.mutable_data();
             run_kernel(h, n_threads, [&](const Policy& pol) {
               set_log_prob(pol, xc.data(), yc.data(), xc.n, checked.data(), tolerance, o, n_threads);
             });
             return out;
           },
           py::arg("x").noconvert(), py::arg("y_star").noconvert(), py::arg("positions"), py::arg("tolerance"),
           py::arg("n_threads"))
      .def("count_matches",
           [](const ModelHandle& h, const CArray<double>& x, const CArray<std::int32_t>& y, Index n_samples,
              std::uint64_t key, int n_threads) {
             const Contexts xc(x, h.spec.d, "x", CopyTo::kScratch0, n_threads);
             const Tokens yc(y, xc.n, h.spec.N, h.spec.k, "y", CopyTo::kScratch0, n_threads);
             require(n_samples >= 1, "n_samples must be >= 1");
             CArray<std::int64_t> counts({xc.n});
             std::int64_t* c = counts.mutable_data();
             run_kernel(h, n_threads, [&](const Policy& pol) {
               count_matches(pol, xc.data(), yc.data(), xc.n, n_samples, key, c, n_threads);
             });
             return counts;
           },
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
