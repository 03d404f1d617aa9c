// The node types of the expression graph: leaves, exact constants and operator nodes, all empty.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "kobai/core/fixed_string.hpp"
#include "kobai/core/rational.hpp"

namespace kobai {

/// Empty base of every expression type; the graph lives in the derived type.
struct expression_base {};

/// Any kobai expression: a leaf, a constant or an operator node.
template <class T>
concept expression = std::is_base_of_v<expression_base, std::remove_cvref_t<T>>;

/// A name bound to a value (a scalar, or a reference to a container) for evaluation.
template <fixed_string Name, class Value>
struct binding {
  static constexpr auto name = Name;
  Value value;
};

/// Whether a leaf is differentiable (var<>, PyTorch's requires_grad=True) or data (input<>).
enum class role { variable, data };

/// A named leaf of compile-time rank; its extents arrive at run time. Writing `w = value`
/// makes a binding for evaluation.
template <fixed_string Name, int Rank, role Role>
struct leaf : expression_base {
  static_assert(Rank >= 0, "kobai: a leaf's rank must be 0 (scalar) or more");
  static constexpr auto name = Name;
  static constexpr int rank = Rank;
  static constexpr std::uint32_t units = 0;  // no axis of a leaf is statically of extent 1
  static constexpr role kind = Role;

  template <class Value>
  requires(!expression<Value>) constexpr auto operator=(
      Value&& value) const {  // NOLINT(misc-unconventional-assign-operator)
    // Numbers and temporaries are held by value (a temporary is moved in, never left dangling);
    // a named container is held by reference.
    if constexpr (std::is_arithmetic_v<std::remove_cvref_t<Value>> || !std::is_lvalue_reference_v<Value>)
      return binding<Name, std::remove_cvref_t<Value>>{std::forward<Value>(value)};
    else
      return binding<Name, const std::remove_cvref_t<Value>&>{value};
  }
};

/// The exact rational constant R, a scalar.
template <rational R>
struct constant : expression_base {
  static constexpr rational value = R;
  static constexpr int rank = 0;
  static constexpr std::uint32_t units = 0;
};

/// The result shape of NumPy broadcasting, as a rank and a mask of axes of static extent 1
/// ("units", made by unsqueeze and keepdims): operands align at their last axes; an axis is a unit
/// when every operand that has it has it as a unit.
template <class... Args>
constexpr int broadcast_rank() {
  return std::max({0, Args::rank...});
}
template <class... Args>
constexpr std::uint32_t broadcast_units() {
  constexpr int r = broadcast_rank<Args...>();
  std::uint32_t units = 0;
  for (int p = 0; p < r; ++p) {
    const bool unit = ((p < r - Args::rank || ((Args::units >> (p - (r - Args::rank))) & 1U) != 0) && ...);
    if (unit) units |= 1U << p;
  }
  return units;
}

/// Base of operator tags. An op that is not differentiable (comparisons, sign, detach) says so,
/// `parameter` orders ops of one family (pow<R>'s R), and the result's shape is the broadcast of
/// the arguments' unless the op says otherwise (reductions, unsqueeze, transpose, …).
struct op_base {
  static constexpr bool differentiable = true;
  static constexpr rational parameter{0, 1};
  template <class... Args>
  static constexpr int result_rank() {
    return broadcast_rank<Args...>();
  }
  template <class... Args>
  static constexpr std::uint32_t result_units() {
    return broadcast_units<Args...>();
  }
};

/// An operator node: the op tag applied to its argument expressions.
template <class Op, expression... Args>
struct node : expression_base {
  using op = Op;
  static constexpr int rank = Op::template result_rank<Args...>();
  static constexpr std::uint32_t units = Op::template result_units<Args...>();
};

/// Whether A, broadcast against B, has B's shape: the same rank and the same unit axes. (Two
/// unrelated leaves of one rank are "the same structure" too; this is meant for an argument and
/// its node, or an adjoint and its variable.)
template <class A, class B>
inline constexpr bool same_structure = A::rank == B::rank&& A::units == B::units;

/// A differentiable leaf, like a PyTorch tensor with requires_grad=True: `var<"w">`, `var<"W", 2>`.
template <fixed_string Name, int Rank = 0>
inline constexpr leaf<Name, Rank, role::variable> var{};

/// A data leaf, never differentiated (requires_grad=False): `input<"x", 1>`.
template <fixed_string Name, int Rank = 0>
inline constexpr leaf<Name, Rank, role::data> input{};

/// The exact constant num/den: `literal<1, 3>`. See also the `_c` suffix in kobai::literals.
template <std::int64_t Num, std::int64_t Den = 1>
inline constexpr constant<rational::make(Num, Den)> literal{};

// ---------------------------------------------------------------------------------------------
// Type traits

template <class T>
struct is_constant_t : std::false_type {};
template <rational R>
struct is_constant_t<constant<R>> : std::true_type {};
template <class T>
inline constexpr bool is_constant = is_constant_t<std::remove_cvref_t<T>>::value;

template <class T>
struct is_leaf_t : std::false_type {};
template <fixed_string N, int R, role K>
struct is_leaf_t<leaf<N, R, K>> : std::true_type {};
/// Whether `T` is a leaf (var<> or input<>), PyTorch's `is_leaf`.
template <class T>
inline constexpr bool is_leaf = is_leaf_t<std::remove_cvref_t<T>>::value;

template <class T>
struct is_node_t : std::false_type {};
template <class Op, class... A>
struct is_node_t<node<Op, A...>> : std::true_type {};
template <class T>
inline constexpr bool is_node = is_node_t<std::remove_cvref_t<T>>::value;

template <class T>
inline constexpr bool is_var = false;
template <fixed_string N, int R>
inline constexpr bool is_var<leaf<N, R, role::variable>> = true;

template <class T>
inline constexpr bool is_input = false;
template <fixed_string N, int R>
inline constexpr bool is_input<leaf<N, R, role::data>> = true;

template <class T>
inline constexpr bool is_zero = false;
template <>
inline constexpr bool is_zero<constant<rational{0, 1}>> = true;
template <class T>
inline constexpr bool is_one = false;
template <>
inline constexpr bool is_one<constant<rational{1, 1}>> = true;

template <class T>
struct is_differentiable_t : std::false_type {};
template <fixed_string N, int R>
struct is_differentiable_t<leaf<N, R, role::variable>> : std::true_type {};
template <class Op, class... A>
struct is_differentiable_t<node<Op, A...>>
    : std::bool_constant<Op::differentiable && (is_differentiable_t<A>::value || ...)> {};
/// Whether a gradient can flow through `T` to some var<> (PyTorch's requires_grad).
template <class T>
inline constexpr bool is_differentiable = is_differentiable_t<std::remove_cvref_t<T>>::value;

template <class E, class Leaf>
struct depends_on_t : std::is_same<E, Leaf> {};
template <class Op, class... A, class Leaf>
struct depends_on_t<node<Op, A...>, Leaf> : std::bool_constant<(depends_on_t<A, Leaf>::value || ...)> {};
/// Whether `Leaf` occurs in `E`.
template <class E, class Leaf>
inline constexpr bool depends_on = depends_on_t<E, Leaf>::value;

}  // namespace kobai
