// Graph traversal over expression types: the distinct subexpressions in topological order.
#pragma once

#include <array>
#include <cstddef>
#include <tuple>
#include <type_traits>

#include "kobai/expr/node.hpp"

namespace kobai {

template <class... Ts>
struct type_list {
  static constexpr std::size_t size = sizeof...(Ts);
  template <std::size_t I>
  using at = std::tuple_element_t<I, std::tuple<Ts...>>;
};

namespace detail {
template <class A, class B>
struct concat_two;
template <class... As, class... Bs>
struct concat_two<type_list<As...>, type_list<Bs...>> {
  using type = type_list<As..., Bs...>;
};
}  // namespace detail
template <class A, class B>
using type_list_concat = typename detail::concat_two<A, B>::type;
template <class List, class T>
using type_list_append = type_list_concat<List, type_list<T>>;

namespace detail {

template <class List, class T>
struct contains_t;
template <class... Ts, class T>
struct contains_t<type_list<Ts...>, T> : std::bool_constant<(std::is_same_v<Ts, T> || ...)> {};

template <class List, class T>
struct append_t;
template <class... Ts, class T>
struct append_t<type_list<Ts...>, T> {
  using type = type_list<Ts..., T>;
};

template <class List, class... Es>
struct visit;
template <class List>
struct visit<List> {
  using type = List;
};
template <class List, class E, class... Rest>
struct visit<List, E, Rest...> {
  using type = typename visit<typename visit<List, E>::type, Rest...>::type;
};
template <class List, class E>
struct visit<List, E> {
  using type = std::conditional_t<contains_t<List, E>::value, List, typename append_t<List, E>::type>;
};
template <class List, class Op, class... Args>
struct visit<List, node<Op, Args...>> {
  using self = node<Op, Args...>;
  using type = std::conditional_t<contains_t<List, self>::value, List,
                                  typename append_t<typename visit<List, Args...>::type, self>::type>;
};

/// Position of the first true flag, or the number of flags when none is.
template <std::size_t N>
constexpr std::size_t first_match(const std::array<bool, N>& flags) {
  std::size_t i = 0;
  while (i < N && !flags[i]) ++i;
  return i;
}

template <class T, class... Ts>
constexpr std::size_t index_in(type_list<Ts...>) {
  return first_match(std::array<bool, sizeof...(Ts)>{std::is_same_v<T, Ts>...});
}

template <template <class> class Keep, class List>
struct filter;
template <template <class> class Keep, class... Ts>
struct filter<Keep, type_list<Ts...>> {
  template <class T>
  using keep = std::conditional_t<Keep<T>::value, type_list<T>, type_list<>>;
  template <class... Ls>
  struct concat;
  template <class... As>
  struct concat<type_list<As...>> {
    using type = type_list<As...>;
  };
  template <class... As, class... Bs, class... Ls>
  struct concat<type_list<As...>, type_list<Bs...>, Ls...> {
    using type = typename concat<type_list<As..., Bs...>, Ls...>::type;
  };
  using type = typename concat<type_list<>, keep<Ts>...>::type;
};

}  // namespace detail

/// The distinct subexpressions of the outputs, each once, every node after its arguments.
template <class... Outputs>
using topological_order = typename detail::visit<type_list<>, std::remove_cvref_t<Outputs>...>::type;

/// Position of T in a type_list (its SSA index).
template <class T, class List>
inline constexpr std::size_t index_of = detail::index_in<std::remove_cvref_t<T>>(List{});

template <class List, class T>
inline constexpr bool list_contains = detail::contains_t<List, T>::value;

/// The leaves (var<> and input<>) of the outputs, in order of first use.
template <class... Outputs>
using leaves_of = typename detail::filter<is_leaf_t, topological_order<Outputs...>>::type;

/// Number of distinct nodes in the graph of e (shared subexpressions counted once).
template <expression... E>
constexpr std::size_t node_count(E...) {
  return topological_order<E...>::size;
}

}  // namespace kobai
