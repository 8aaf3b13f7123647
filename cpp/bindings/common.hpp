// Shared argument checks for the bindings. The Python layer validates and converts first;
// these checks are the last line of defence so that no call can read out of bounds.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include <algorithm>
#include <optional>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>
#include <pybind11/pybind11.h>

#include "lpgx/model.hpp"

namespace lpgx::bind {

namespace py = pybind11;

template <class T>
using CArray = py::array_t<T, py::array::c_style>;

inline void require(bool ok, const std::string& what) {
  if (!ok) throw py::value_error(what);
}

template <class T>
void check_shape(const CArray<T>& a, const char* name, std::initializer_list<Index> shape) {
  require(a.ndim() == static_cast<py::ssize_t>(shape.size()),
          std::string(name) + ": wrong number of dimensions");
  int i = 0;
  for (Index n : shape) {
    if (n >= 0) require(a.shape(i) == n, std::string(name) + ": wrong shape");
    ++i;
  }
}

inline Spec make_spec(int k, int N, int d, unsigned blocks, const CArray<double>& w) {
  Spec s(k, N, d, blocks);
  check_shape(w, "w", {s.num_params});
  return s;
}

// Token arrays must hold values in [0, k): checked here too, since a bad index would
// read outside the weight blocks.
inline void check_tokens(const CArray<std::int32_t>& y, Index B, int N, int k) {
  check_shape(y, "y", {B, N});
  const std::int32_t* p = y.data();
  bool ok = true;
  for (Index i = 0, n = B * N; i < n; ++i) ok &= (p[i] >= 0) & (p[i] < k);
  require(ok, "y: token out of range");
}

}  // namespace lpgx::bind

#include "lpgx/rewards.hpp"
#include "lpgx/task.hpp"

namespace lpgx::bind {

// Shared by the training and algorithm bindings (defined in bind_training.cpp).
RewardCallback python_reward(const py::object& fn, bool process, int d, int N);
Task make_task(const Spec& spec, int kind, int num_mix, double sigma, const std::optional<Policy>& teacher,
               const std::optional<CArray<double>>& fx, const std::optional<CArray<double>>& fmass,
               const std::optional<CArray<std::int32_t>>& fy);

// After each step: publish progress, honour Ctrl-C, call the Python progress callable.
// Raises KeyboardInterrupt (as py::error_already_set) when Ctrl-C is pending; callable
// without the GIL, from the thread that released it.
inline void check_signals() {
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

inline std::function<bool(Index)> python_hook(std::int64_t* done, const py::object& progress) {
  return [done, progress](Index s) {
    done[0] = s;
    check_signals();
    if (!progress.is_none()) {
      py::gil_scoped_acquire gil;
      progress(s);
    }
    return true;
  };
}

}  // namespace lpgx::bind
