// Every kind of a stage (reward, behaviour, estimator, algorithm, optimizer) is registered
// once, where its enum is defined: `static constexpr KindNames<n> kNames = {...}` names the
// enumerators 0..n-1 in order. The bindings build the Python enums from these tables, and the
// Python layer derives its name lists from the bindings, so a kind is named in one place.
#pragma once
#include <array>
#include <cstddef>
#include <string_view>

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

}  // namespace lpgx
