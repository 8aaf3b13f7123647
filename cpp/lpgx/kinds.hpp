// Every kind of a stage (reward, behaviour, estimator, algorithm, optimizer) is registered
// once, where its enum is defined: `static constexpr KindNames<n> kNames = {...}` names the
// enumerators 0..n-1 in order. Likewise every configuration struct lists its fields once,
// beside its definition: `constexpr auto fields_of(const S*)` returns (name, member) pairs.
// The bindings build the Python enums and classes from these tables, and the Python layer
// derives its names from the bindings, so a kind or a knob is named in one place.
#pragma once
#include <array>
#include <cstddef>
#include <string_view>
#include <tuple>

namespace lpgx {

template <std::size_t n>
using KindNames = std::array<const char*, n>;

// The enumerator called `name` (−1 when none is).
template <std::size_t n>
constexpr int kind_index(const KindNames<n>& names, std::string_view name) {
  for (std::size_t i = 0; i < n; ++i)
    if (name == names[i]) return int(i);
  return -1;
}

// One field of a configuration struct S.
template <class S, class T>
struct Field {
  const char* name;
  T S::*member;
};
template <class S, class T>
constexpr Field<S, T> field(const char* name, T S::*member) {
  return {name, member};
}

}  // namespace lpgx
