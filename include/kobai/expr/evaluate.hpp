// Evaluation of a graph in topological order, each distinct subexpression once; generic over the
// element type (double, float, SIMD batch) and over where the leaves' values come from.
#pragma once

#include <array>
#include <cstddef>

#include "kobai/expr/graph.hpp"
#include "kobai/expr/ops.hpp"

namespace kobai::detail {

template <class T, class Order, class Values, class E, class Loader>
constexpr T evaluate_node(const Values& values, const Loader& load) {
  if constexpr (is_constant<E>) {
    return T(E::value.value());
  } else if constexpr (is_leaf<E>) {
    return load(E{});
  } else {
    return [&]<class Op, class... Args>(node<Op, Args...>*) {
      return Op::apply(values[index_of<Args, Order>]...);
    }(static_cast<E*>(nullptr));
  }
}

/// Values of every node of Order (a topological_order), in order; `load(leaf)` gives a leaf's value.
template <class T, class... Es, class Loader>
constexpr void evaluate_in_order(std::array<T, sizeof...(Es)>& values, type_list<Es...>, const Loader& load) {
  std::size_t i = 0;
  ((values[i++] = evaluate_node<T, type_list<Es...>, std::array<T, sizeof...(Es)>, Es>(values, load)), ...);
}

}  // namespace kobai::detail
