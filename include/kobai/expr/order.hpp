// A total order on expression types: fixes the canonical order of commutative operands.
#pragma once

#include <string_view>

#include "kobai/expr/node.hpp"

namespace kobai::detail {

template <class A, class B>
struct comparison;

/// −1, 0 or 1: constants first (by value), then leaves (by name), then nodes (by op, then operands).
template <class A, class B>
constexpr int compare() {
  return comparison<A, B>::value;
}

template <class T>
constexpr int category() {
  return is_constant<T> ? 0 : is_leaf<T> ? 1 : 2;
}

template <class A, class B>
constexpr int three_way(const A& a, const B& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

// One class instantiation per level of the operands compared (function templates calling one
// another took three), so the comparison of two deep graphs stays within -ftemplate-depth.
template <class A, class B>
struct comparison {
  static constexpr int value = [] {
    if constexpr (std::is_same_v<A, B>) {
      return 0;
    } else if constexpr (category<A>() != category<B>()) {
      return three_way(category<A>(), category<B>());
    } else if constexpr (is_constant<A>) {
      return three_way(A::value, B::value);
    } else {
      if (A::name.view() != B::name.view()) return three_way(A::name.view(), B::name.view());
      if (A::kind != B::kind) return three_way(static_cast<int>(A::kind), static_cast<int>(B::kind));
      return three_way(A::rank, B::rank);
    }
  }();
};
template <class OpA, class... As, class OpB, class... Bs>
struct comparison<node<OpA, As...>, node<OpB, Bs...>> {
  static constexpr int value = [] {
    if constexpr (std::is_same_v<node<OpA, As...>, node<OpB, Bs...>>) {
      return 0;
    } else {
      if (OpA::id != OpB::id) return three_way(static_cast<int>(OpA::id), static_cast<int>(OpB::id));
      if (OpA::parameter != OpB::parameter) return three_way(OpA::parameter, OpB::parameter);
      if constexpr (sizeof...(As) != sizeof...(Bs)) {
        return sizeof...(As) < sizeof...(Bs) ? -1 : 1;
      } else {
        int result = 0;
        ((result = result != 0 ? result : comparison<As, Bs>::value), ...);
        return result;
      }
    }
  }();
};

}  // namespace kobai::detail
