// What every binding shares: argument checks, owned copies of the inputs the engine reads after
// the GIL is released, running engine work without the GIL (Ctrl-C, interpreter shutdown,
// forked children), step hooks and user verifiers, and Python enums built from the engine's
// kind tables.
#pragma once
#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#ifdef __GLIBCXX__
#include <cxxabi.h>
#endif

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "lpgx/kinds.hpp"
#include "lpgx/model.hpp"
#include "lpgx/oracle.hpp"
#include "lpgx/train.hpp"

namespace lpgx::bind {

namespace py = pybind11;

template <class T>
using CArray = py::array_t<T, py::array::c_style>;

// A new float64 array of n zeros from numpy.zeros: calloc, so a large one costs no pass here
// (the kernel zeroes each page when it is first written).
inline CArray<double> zeros(Index n) {
  return py::module_::import("numpy").attr("zeros")(n).cast<CArray<double>>();
}

inline void require(bool ok, const std::string& what) {
  if (!ok) throw py::value_error(what);
}

template <class T>
void check_shape(const CArray<T>& a, const char* name, std::initializer_list<Index> shape) {
  require(a.ndim() == static_cast<py::ssize_t>(shape.size()), std::string(name) + ": wrong number of dimensions");
  int i = 0;
  for (Index n : shape) {
    if (n >= 0) require(a.shape(i) == n, std::string(name) + ": wrong shape");
    ++i;
  }
}

// Where a copy lives: its own vector (kOwned: for copies a run handle keeps), or one of the
// calling thread's buffers that a batched call reuses from one call to the next (allocating and
// freeing megabytes per call costs page faults every call). A buffer is leased to one copy at a
// time: a call nested on the same thread (a Python signal handler runs while a call checks for
// Ctrl-C) finds it taken and makes its own copy instead.
enum class CopyTo : int { kOwned = -1, kScratch0 = 0, kScratch1 = 1 };
template <class T>
struct Scratch {
  std::vector<T> v;
  bool leased = false;
};
template <class T>
Scratch<T>& call_scratch(CopyTo slot) {
  thread_local Scratch<T> buffers[2];
  return buffers[static_cast<int>(slot)];
}

// Copies of inputs run in slices on the call's threads (under the GIL, which the workers never
// touch): a serial copy of a batch's megabytes would cost a 2-thread call several percent.
constexpr Index kCopySlice = Index(1) << 14;  // elements per work item
template <class Fn>
void for_slices(Index n, int n_threads, Fn&& fn) {
  parallel_for((n + kCopySlice - 1) / kCopySlice, n_threads,
               [&](Index c) { fn(c * kCopySlice, std::min(n, (c + 1) * kCopySlice)); });
}

// A copy of n values of a caller's array, owned or in a leased scratch buffer.
template <class T>
class Copy {
 public:
  Copy() = default;
  Copy(const T* src, Index n, CopyTo to, int n_threads = 1) {
    if (to != CopyTo::kOwned && !call_scratch<T>(to).leased) {
      scratch_ = &call_scratch<T>(to);
      scratch_->leased = true;
    }
    std::vector<T>& v = vec();
    v.resize(static_cast<std::size_t>(n));
    for_slices(n, n_threads, [&](Index b, Index e) { std::copy(src + b, src + e, v.data() + b); });
  }
  Copy(Copy&& other) noexcept : own_(std::move(other.own_)), scratch_(other.scratch_) { other.scratch_ = nullptr; }
  Copy& operator=(Copy&& other) noexcept {
    release();
    own_ = std::move(other.own_);
    scratch_ = other.scratch_;
    other.scratch_ = nullptr;
    return *this;
  }
  Copy(const Copy&) = delete;
  Copy& operator=(const Copy&) = delete;
  ~Copy() { release(); }
  const T* data() const { return scratch_ ? scratch_->v.data() : own_.data(); }
  const std::vector<T>& values() const { return scratch_ ? scratch_->v : own_; }

 private:
  std::vector<T>& vec() { return scratch_ ? scratch_->v : own_; }
  void release() {
    if (scratch_) scratch_->leased = false;
    scratch_ = nullptr;
  }
  std::vector<T> own_;
  Scratch<T>* scratch_ = nullptr;
};

// An owned copy of a (B, d) float64 array: nothing the caller does to its array during the
// call can change what the engine reads.
struct Contexts {
  Copy<double> x;
  Index n = 0;
  Contexts() = default;
  Contexts(const CArray<double>& a, int d, const char* name, CopyTo to = CopyTo::kOwned, int n_threads = 1);
  const double* data() const { return x.data(); }
};

// An owned copy of a (B, N) int32 token array, checked to hold values in [0, k) after the copy
// (a bad index would read outside the weight blocks).
struct Tokens {
  Copy<std::int32_t> y;
  Tokens() = default;
  Tokens(const CArray<std::int32_t>& a, Index B, int N, int k, const char* name, CopyTo to = CopyTo::kOwned,
         int n_threads = 1);
  const std::int32_t* data() const { return y.data(); }
};

// A new array (element type U) holding a copy of v: records handed to Python own their memory.
template <class T, class U = T>
py::array_t<U> owned(const std::vector<T>& v, std::vector<Index> shape) {
  py::array_t<U> a(shape);
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// Contexts with their correct responses, owned (a test or tracking set).
struct OwnedEvalSet {
  Contexts x;
  Tokens y;
  // (x, y) or None.
  OwnedEvalSet(const py::object& pair, const Spec& spec, const char* name);
  EvalSet view() const { return {x.data(), y.data(), x.n}; }
};

// Runs engine work with the GIL released and Ctrl-C honoured inside it. A thread still inside
// engine work when the interpreter shuts down (a daemon thread) never touches Python again: it
// waits there for the process to end instead of being torn out of a parallel region.
void check_signals();
template <class F>
decltype(auto) without_gil(F&& work);

// The oracle's settings, checked against the sequence length.
void check_reward(const RewardSpec& reward, int N);

// Warns once (a RuntimeWarning) when n_threads > 1 is asked of a forked child whose parent ran
// threads: its loops then run on one thread.
void note_fork(int n_threads);

// After each step: publishes the count to `done`, honours Ctrl-C and calls progress(steps).
StepHook python_hook(py::object progress);

// Adapts a Python verifier fn(x, y) -> r (shape (n,) or (n, N)) to the engine's callback;
// its result is checked (real numbers, shape, finite).
RewardCallback python_reward(const py::object& fn, bool process, int d, int N);

// A Python enum named `name` whose members are the engine's kind table.
template <class Kind, std::size_t n>
void bind_kind(py::module_& m, const char* name, const KindNames<n>& names) {
  py::enum_<Kind> e(m, name);
  for (std::size_t i = 0; i < n; ++i) e.value(names[i], static_cast<Kind>(i));
}

// A Python class for a configuration struct, with one read-write attribute per entry of its
// field table (fields_of, next to the struct).
template <class S>
void bind_fields(py::module_& m, const char* name) {
  py::class_<S> c(m, name);
  c.def(py::init<>());
  std::apply([&](auto... f) { (c.def_readwrite(f.name, f.member), ...); }, fields_of(static_cast<const S*>(nullptr)));
}

// ---- without_gil ------------------------------------------------------------------------
bool interpreter_finalizing();
[[noreturn]] void wait_for_process_exit();

// Runs f with the GIL. Once the interpreter is finalising, a thread that asks for the GIL is
// ended with pthread_exit, whose forced unwinding would abort the process from inside a
// parallel region or a destructor; such a thread waits for the process to exit instead.
template <class F>
void with_gil(F&& f) {
  if (interpreter_finalizing()) wait_for_process_exit();
#ifdef __GLIBCXX__
  try {
#endif
    py::gil_scoped_acquire gil;
    f();
#ifdef __GLIBCXX__
  } catch (abi::__forced_unwind&) {
    wait_for_process_exit();  // never returns: the unwinding is not swallowed
  }
#endif
}

class ReleasedGil {
 public:
  ReleasedGil() : state_(PyEval_SaveThread()) {}
  ~ReleasedGil() {
    if (interpreter_finalizing()) wait_for_process_exit();
#ifdef __GLIBCXX__
    try {
      PyEval_RestoreThread(state_);
    } catch (abi::__forced_unwind&) {
      wait_for_process_exit();
    }
#else
    PyEval_RestoreThread(state_);
#endif
  }
  ReleasedGil(const ReleasedGil&) = delete;
  ReleasedGil& operator=(const ReleasedGil&) = delete;

 private:
  PyThreadState* state_;
};

template <class F>
decltype(auto) without_gil(F&& work) {
  ReleasedGil released;
  const InterruptScope interrupts(check_signals);
  return work();
}

}  // namespace lpgx::bind
