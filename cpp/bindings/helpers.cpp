#include "helpers.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "lpgx/parallel.hpp"

namespace lpgx::bind {

Contexts::Contexts(const CArray<double>& a, int d, const char* name, CopyTo to, int n_threads) {
  check_shape(a, name, {-1, d});
  n = a.shape(0);
  x = Copy<double>(a.data(), n * d, to, n_threads);
}

Tokens::Tokens(const CArray<std::int32_t>& a, Index B, int N, int k, const char* name, CopyTo to, int n_threads) {
  check_shape(a, name, {B, N});
  y = Copy<std::int32_t>(a.data(), B * N, to, n_threads);
  std::atomic<bool> ok{true};
  const std::int32_t* t = y.data();
  for_slices(B * N, n_threads, [&](Index b, Index e) {
    bool in_range = true;
    for (Index i = b; i < e; ++i) in_range &= (t[i] >= 0) & (t[i] < k);
    if (!in_range) ok.store(false, std::memory_order_relaxed);
  });
  require(ok.load(), std::string(name) + ": token out of range");
}

OwnedEvalSet::OwnedEvalSet(const py::object& pair, const Spec& spec, const char* name) {
  if (pair.is_none()) return;
  const auto t = pair.cast<std::pair<CArray<double>, CArray<std::int32_t>>>();
  x = Contexts(t.first, spec.d, name);
  y = Tokens(t.second, x.n, spec.N, spec.k, name);
}

bool interpreter_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

void wait_for_process_exit() {
  // Taking the GIL now would end this thread with pthread_exit, whose unwinding through a
  // parallel region or a destructor aborts the process ("terminate called without an active
  // exception"). Waiting is quiet: the process is about to exit.
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

void check_signals() {
  with_gil([] {
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  });
}

void check_reward(const RewardSpec& r, int N) {
  require(r.false_pos >= 0.0 && r.false_pos <= 1.0 && r.false_neg >= 0.0 && r.false_neg <= 1.0,
          "the reward's noise rates must lie in [0, 1]");
  require(r.jitter >= 0 && r.window >= 0 && r.tolerance >= 0, "jitter, window and tolerance must be >= 0");
  for (int p : r.positions) require(p >= 0 && p < N, "the reward's positions must lie in [0, seq_len)");
}

void note_fork(int n_threads) {
  static bool warned = false;
  if (n_threads <= 1 || warned || !threads_lost_in_fork()) return;
  warned = true;
  if (PyErr_WarnEx(PyExc_RuntimeWarning,
                   "lpgx: this process was forked after lpgx had used threads; GNU OpenMP's threads do not "
                   "survive fork, so lpgx runs on one thread here (same results). Start worker processes "
                   "with the 'spawn' or 'forkserver' method to keep threads.",
                   1) != 0)
    throw py::error_already_set();
}

StepHook python_hook(py::object progress) {
  return [progress](Index s) {
    check_signals();
    if (!progress.is_none()) with_gil([&] { progress(s); });
    return true;
  };
}

namespace {

// Calls the user's verifier on a batch and checks what it returns (GIL held).
void judge_in_python(const py::object& fn, bool process, int d, int N, const double* x, const std::int32_t* y,
                     Index B, double* r) {
  CArray<double> xa({B, Index(d)});
  CArray<std::int32_t> ya({B, Index(N)});
  std::copy(x, x + B * d, xa.mutable_data());
  std::copy(y, y + B * N, ya.mutable_data());
  py::object out = fn(xa, ya);
  const py::array raw = py::array::ensure(out);
  const char kind = raw ? raw.dtype().kind() : 'O';
  if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f')
    throw py::type_error("reward callable must return real numbers (an int, float or bool array)");
  auto arr = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(raw);
  if (!arr) throw py::type_error("reward callable must return a numeric array");
  const Index want = process ? B * N : B;
  const bool shape_ok = process ? (arr.ndim() == 2 && arr.shape(0) == B && arr.shape(1) == N)
                                : (arr.ndim() == 1 && arr.shape(0) == B);
  if (!shape_ok)
    throw py::value_error(process ? "reward callable must return shape (B, N) for a process reward"
                                  : "reward callable must return shape (B,) for an outcome reward");
  const double* p = arr.data();
  for (Index i = 0; i < want; ++i)
    if (!std::isfinite(p[i])) throw py::value_error("reward callable returned NaN or infinity");
  std::copy(p, p + want, r);
}

}  // namespace

RewardCallback python_reward(const py::object& fn, bool process, int d, int N) {
  if (fn.is_none()) return {};
  return [fn, process, d, N](const double* x, const std::int32_t* y, Index B, double* r) {
    with_gil([&] { judge_in_python(fn, process, d, N, x, y, B, r); });
  };
}

}  // namespace lpgx::bind
