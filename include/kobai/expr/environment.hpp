// Scalar evaluation: bind names to numbers with at(w = 2.0, b = 1.0) and eval(e, point), also in
// constant expressions: static_assert(eval(grad(pow<4>(x), x), at(x = 5.0)) == 500.0).
#pragma once

#include <array>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kobai/expr/evaluate.hpp"
#include "kobai/expr/operators.hpp"

namespace kobai {

template <class... Bindings>
struct environment;

namespace detail {

template <class T>
inline constexpr bool is_binding = false;
template <fixed_string N, class V>
inline constexpr bool is_binding<binding<N, V>> = true;

template <class Leaf>
constexpr void report_unbound_leaf() {
  static_assert(dependent_false<Leaf>,
                "kobai: a leaf of the expression is not bound; pass `name = value` for every var<> and input<> "
                "it uses (the trace names it: leaf_named<...>)");
}
template <fixed_string Name>
constexpr void report_unbound() {
  report_unbound_leaf<spelled<Name>>();
}

/// Whether no two distinct leaves in the list have the same name.
template <class... Leaves>
constexpr bool names_are_unique_in(type_list<Leaves...>) {
  constexpr std::array<std::string_view, sizeof...(Leaves)> names{Leaves::name.view()...};
  for (std::size_t i = 0; i < names.size(); ++i)
    for (std::size_t j = i + 1; j < names.size(); ++j)
      if (names[i] == names[j]) return false;
  return true;
}
template <class Leaves>
constexpr bool names_are_unique() {
  return names_are_unique_in(Leaves{});
}

template <fixed_string Name, class... Bindings>
constexpr std::size_t binding_position() {
  return first_match(std::array<bool, sizeof...(Bindings)>{(Bindings::name.view() == Name.view())...});
}

}  // namespace detail

/// A point: values bound to leaf names.
template <class... Bindings>
struct environment {
  static_assert((detail::is_binding<Bindings> && ...), "kobai::at: pass bindings written as `w = 2.0`");
  std::tuple<Bindings...> bindings;

  template <fixed_string Name>
  static constexpr bool has = detail::binding_position<Name, Bindings...>() < sizeof...(Bindings);

  template <fixed_string Name>
  constexpr auto& get() {
    return std::get<detail::binding_position<Name, Bindings...>()>(bindings).value;
  }
  template <fixed_string Name>
  constexpr const auto& get() const {
    return std::get<detail::binding_position<Name, Bindings...>()>(bindings).value;
  }
};

/// The point at which to evaluate: at(w = 2.0, x = 5.0).
template <class... Bindings>
constexpr environment<Bindings...> at(Bindings... bindings) {
  return {std::tuple<Bindings...>{bindings...}};
}

namespace detail {

template <class V>
inline constexpr bool is_float_or_container = std::is_same_v<V, float> || !std::is_arithmetic_v<std::remove_cvref_t<V>>;
template <class... Bindings>
using scalar_type_of = std::conditional_t<(std::is_same_v<decltype(Bindings::value), float> || ...) &&
                                              (is_float_or_container<decltype(Bindings::value)> && ...),
                                          float, double>;

}  // namespace detail

/// The value of a scalar expression at a point; a constant expression when the point is one.
/// Each distinct subexpression is computed once.
template <expression E, class... Bindings>
constexpr auto eval(E, const environment<Bindings...>& point) {
  static_assert(E::rank == 0, "kobai::eval: evaluates scalar expressions; for tensors use compile(...)(bindings)");
  static_assert(detail::names_are_unique<leaves_of<E>>(),
                "kobai: two different leaves share a name (var<> and input<>, or two ranks); give each its own name");
  using T = detail::scalar_type_of<Bindings...>;
  if constexpr (E::rank != 0) {
    return T{};  // (the static_assert said why; nothing more fails)
  } else {
    using order = topological_order<E>;
    std::array<T, order::size> values{};
    detail::evaluate_in_order(
        values, order{}, [&]<fixed_string N, int R, role K, class U, class I>(leaf<N, R, K, U, I>) -> T {
          if constexpr (environment<Bindings...>::template has<N>) {
            static_assert(
                R == 0 && std::is_arithmetic_v<std::remove_cvref_t<decltype(point.template get<N>())>>,
                "kobai::eval: evaluates scalar leaves bound to numbers; a tensor leaf (rank > 0) is bound to a "
                "container through compile(...)");
            return static_cast<T>(point.template get<N>());
          } else {
            detail::report_unbound<N>();
            return T{};
          }
        });
    return values[order::size - 1];
  }
}

}  // namespace kobai
