// Graph traversal over expression types: the distinct subexpressions in topological order.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kobai/expr/node.hpp"

namespace kobai {

namespace detail {
template <std::size_t I, class T>
struct indexed {};
template <class T>
struct member {};
// A list's elements as the bases of one class, indexed<I, T>: lookup by position is one template
// deduction against the bases. A list of distinct elements also has them as member<T> bases, so
// membership is `__is_base_of` and lookup by type one deduction. No query expands the whole list:
// GCC instantiates a variable template such as is_same_v per element and query, cubic over a
// graph's nodes in topological_order, and clang refuses folds of more than 256 terms.
template <class Indices, class... Ts>
struct positions_table;
template <std::size_t... I, class... Ts>
struct positions_table<std::index_sequence<I...>, Ts...> : indexed<I, Ts>... {};
template <class... Ts>
struct members_table : member<Ts>..., positions_table<std::index_sequence_for<Ts...>, Ts...> {};
template <std::size_t I, class T>
T element_at(const indexed<I, T>*);
template <class T, std::size_t I>
constexpr std::size_t position_of(const indexed<I, T>*) {
  return I;
}
}  // namespace detail

template <class... Ts>
struct type_list {
  static constexpr std::size_t size = sizeof...(Ts);
  template <std::size_t I>
  using at = decltype(detail::element_at<I>(
      static_cast<const detail::positions_table<std::index_sequence_for<Ts...>, Ts...>*>(nullptr)));
  // For lists of distinct elements (a topological order, its leaves):
  using members = detail::members_table<Ts...>;
  template <class T>
  static constexpr bool contains = __is_base_of(detail::member<T>, members);
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

namespace detail {
template <class T>
inline constexpr bool is_tuple = false;
template <class... Ts>
inline constexpr bool is_tuple<std::tuple<Ts...>> = true;

// The outputs a compile call names: expressions, and the tuples of them that grad and hessian
// return, spread in order (nested tuples too).
template <class... Parts>
struct flat_outputs {
  using type = type_list<>;
};
template <class Part, class... Parts>
struct flat_outputs<Part, Parts...> {
  using type = type_list_concat<type_list<std::remove_cvref_t<Part>>, typename flat_outputs<Parts...>::type>;
};
template <class... Ts, class... Parts>
struct flat_outputs<std::tuple<Ts...>, Parts...> {
  using type = type_list_concat<typename flat_outputs<Ts...>::type, typename flat_outputs<Parts...>::type>;
};
/// What compile takes: expressions and tuples of them, at least one tuple (expressions alone take
/// the plain overload).
template <class... Parts>
concept outputs_with_tuples = ((expression<Parts> || is_tuple<std::remove_cvref_t<Parts>>)&&...) &&
                              (is_tuple<std::remove_cvref_t<Parts>> || ...);
}  // namespace detail
template <class List, class T>
using type_list_append = type_list_concat<List, type_list<T>>;

namespace detail {

// Depth-first post-order, threading the list of nodes seen so far. A node already in the list is
// not entered again (the test is made before its arguments are named, so their visits are never
// instantiated): each distinct node is expanded once, whatever the number of paths to it. One
// nested instantiation per level of the graph (ops have at most 3 arguments), so a chain of n
// nodes nests about n deep, against the compiler's -ftemplate-depth (900 for GCC, 1024 for Clang).
template <class List, class E, bool Seen = List::template contains<E>>
struct visit_one {
  using type = List;
};
template <class List, class E>
struct visit_one<List, E, false> {
  using type = type_list_append<List, E>;
};
template <class List, class Op, class A>
struct visit_one<List, node<Op, A>, false> {
  using type = type_list_append<typename visit_one<List, A>::type, node<Op, A>>;
};
template <class List, class Op, class A, class B>
struct visit_one<List, node<Op, A, B>, false> {
  using type = type_list_append<typename visit_one<typename visit_one<List, A>::type, B>::type, node<Op, A, B>>;
};
template <class List, class Op, class A, class B, class C>
struct visit_one<List, node<Op, A, B, C>, false> {
  using type =
      type_list_append<typename visit_one<typename visit_one<typename visit_one<List, A>::type, B>::type, C>::type,
                       node<Op, A, B, C>>;
};
template <class List, class... Es>
struct visit {
  using type = List;
};
template <class List, class E, class... Rest>
struct visit<List, E, Rest...> {
  using type = typename visit<typename visit_one<List, E>::type, Rest...>::type;
};

/// Position of the first true flag, or the number of flags when none is.
template <std::size_t N>
constexpr std::size_t first_match(const std::array<bool, N>& flags) {
  std::size_t i = 0;
  while (i < N && !flags[i]) ++i;
  return i;
}

template <class T, class List>
constexpr std::size_t index_in() {
  if constexpr (List::template contains<T>)
    return position_of<T>(static_cast<const typename List::members*>(nullptr));
  else
    return List::size;
}

// The elements of a list that Keep, in order: their positions are found as constexpr data and the
// list is rebuilt by position (no recursion over the list).
template <template <class> class Keep, class List>
struct filter;
template <template <class> class Keep, class... Ts>
struct filter<Keep, type_list<Ts...>> {
  static constexpr std::array<bool, sizeof...(Ts)> kept{Keep<Ts>::value...};
  static constexpr auto count = static_cast<std::size_t>(std::count(kept.begin(), kept.end(), true));
  static constexpr auto positions = [] {
    std::array<std::size_t, count> result{};
    std::size_t n = 0;
    for (std::size_t i = 0; i < kept.size(); ++i)
      if (kept[i]) result[n++] = i;
    return result;
  }();
  template <std::size_t... I>
  static auto select(std::index_sequence<I...>) -> type_list<typename type_list<Ts...>::template at<positions[I]>...>;
  using type = decltype(select(std::make_index_sequence<count>{}));
};

}  // namespace detail

/// The distinct subexpressions of the outputs, each once, every node after its arguments.
template <class... Outputs>
using topological_order = typename detail::visit<type_list<>, std::remove_cvref_t<Outputs>...>::type;

/// Position of T in a type_list (its SSA index).
template <class T, class List>
inline constexpr std::size_t index_of = detail::index_in<std::remove_cvref_t<T>, List>();

/// The leaves (var<> and input<>) of the outputs, in order of first use.
template <class... Outputs>
using leaves_of = typename detail::filter<is_leaf_t, topological_order<Outputs...>>::type;

/// Number of distinct nodes in the graph of e (shared subexpressions counted once).
template <expression... E>
constexpr std::size_t node_count(E...) {
  return topological_order<E...>::size;
}

}  // namespace kobai
