// Shapes as types: which ops broadcast, the smallest expression with a node's shape (a witness),
// and constants that keep the shape of the tensor expression they replace (expand(c, like)).
#pragma once

#include <array>

#include "kobai/expr/graph.hpp"
#include "kobai/expr/ops.hpp"

namespace kobai::detail {

/// Whether an op is elementwise: its result has the broadcast shape of its arguments.
template <class Op>
concept broadcasting_op = Op::broadcasts;

/// The smallest expression with the shape of e, built from e's leaves: it stands for e in numel
/// and as the `like` of a shaped constant. An elementwise node has the shape of any argument of the
/// same rank and unit axes.
template <class E>
constexpr auto shape_witness(E e) {
  if constexpr (!is_node<E>) {
    return e;
  } else {
    return []<class Op, class... Args>(node<Op, Args...> n) {
      if constexpr (std::is_same_v<Op, ops::expand> || std::is_same_v<Op, ops::reshape>)
        return shape_witness(typename type_list<Args...>::template at<1>{});
      else if constexpr (!(same_structure<Args, decltype(n)> || ...) || !broadcasting_op<Op>)
        return node<Op, decltype(shape_witness(Args{}))...>{};
      else
        return shape_witness(typename type_list<Args...>::template at<first_match(
                                 std::array<bool, sizeof...(Args)>{same_structure<Args, decltype(n)>...})>{});
    }(e);
  }
}
template <class E>
using witness_of = decltype(shape_witness(E{}));

// The witness of the broadcast of tensors with witnesses W...: one of them when they agree,
// otherwise their sum, a node that is never evaluated but ties their axes together.
template <class... W>
struct broadcast_of;
template <class W>
struct broadcast_of<W> {
  using type = W;
};
template <class W, class V, class... Rest>
struct broadcast_of<W, V, Rest...> {
  using type = typename broadcast_of<std::conditional_t<std::is_same_v<W, V>, W, node<ops::add, W, V>>, Rest...>::type;
};

template <class... Ws>
struct tensor_witnesses {
  using list = type_list<Ws...>;
};
template <class List, class E>
struct add_witness;
template <class... Ws, class E>
struct add_witness<tensor_witnesses<Ws...>, E> {
  using type = std::conditional_t<E::rank == 0, tensor_witnesses<Ws...>, tensor_witnesses<Ws..., witness_of<E>>>;
};
template <class List, class... Es>
struct collect_witnesses {
  using type = List;
};
template <class List, class E, class... Es>
struct collect_witnesses<List, E, Es...> : collect_witnesses<typename add_witness<List, E>::type, Es...> {};

template <class List>
struct broadcast_witness_t;
template <>
struct broadcast_witness_t<tensor_witnesses<>> {
  using type = void;  // every operand is a scalar
};
template <class... Ws>
struct broadcast_witness_t<tensor_witnesses<Ws...>> : broadcast_of<Ws...> {};

/// The witness of the broadcast shape of Es, or void when all are scalars.
template <class... Es>
using broadcast_witness =
    typename broadcast_witness_t<typename collect_witnesses<tensor_witnesses<>, Es...>::type>::type;

/// A shaped constant: the exact constant c at every element of Like's shape, expand(c, Like).
template <class E>
inline constexpr bool is_shaped_constant = false;
template <rational R, class Like>
inline constexpr bool is_shaped_constant<node<ops::expand, constant<R>, Like>> = true;

/// Constants and shaped constants.
template <class E>
inline constexpr bool is_constant_valued = is_constant<E> || is_shaped_constant<E>;

template <class E>
struct constant_value_t;
template <rational R>
struct constant_value_t<constant<R>> {
  static constexpr rational value = R;
};
template <rational R, class Like>
struct constant_value_t<node<ops::expand, constant<R>, Like>> {
  static constexpr rational value = R;
};
/// The value of a constant or shaped constant.
template <class E>
inline constexpr rational constant_value = constant_value_t<E>::value;

/// Zero, as a scalar or with a shape.
template <class E>
inline constexpr bool is_zero_valued = is_zero<E>;
template <class Like>
inline constexpr bool is_zero_valued<node<ops::expand, constant<rational{}>, Like>> = true;

/// The constant R with the broadcast shape of es: constant<R> when they are all scalars.
template <rational R, class... Es>
constexpr auto constant_like(Es...) {
  using like = broadcast_witness<Es...>;
  if constexpr (std::is_void_v<like>)
    return constant<R>{};
  else
    return node<ops::expand, constant<R>, like>{};
}

/// e with the shape whose witness is Like (void: a scalar), which e broadcasts to: e itself when it
/// already has it, else e expanded.
template <class Like, class E>
constexpr auto with_shape(E e) {
  if constexpr (std::is_void_v<Like> || std::is_same_v<witness_of<E>, Like>)
    return e;
  else
    return node<ops::expand, E, Like>{};
}

}  // namespace kobai::detail
