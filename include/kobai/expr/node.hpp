// The node types of the expression graph: leaves, exact constants and operator nodes, all empty.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
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

/// The element type of arange<"n">()'s leaf: its values are 0, 1, …, n − 1, with n bound at run time.
struct index_values {};

namespace detail {
/// A leaf's name as a character pack, so compilers print it legibly in errors: leaf_named<'w'>.
template <char... Chars>
struct leaf_named {};
template <fixed_string Name, std::size_t... I>
constexpr auto spell(std::index_sequence<I...>) {
  return leaf_named<Name.chars[I]...>{};
}
template <fixed_string Name>
using spelled = decltype(spell<Name>(std::make_index_sequence<Name.size()>{}));

}  // namespace detail

/// Whether a leaf is differentiable (var<>, PyTorch's requires_grad=True) or data (input<>).
enum class role { variable, data };

namespace detail {
/// A leaf's Element: void (the program's type), or an integer type or index_values on a data tensor.
template <class Element, role Role, int Rank>
inline constexpr bool valid_element = std::is_void_v<Element> ||
                                      ((std::is_same_v<Element, std::int64_t> ||
                                        std::is_same_v<Element, std::int32_t> ||
                                        std::is_same_v<Element, index_values>)&&Role == role::data &&
                                       Rank > 0);
}  // namespace detail

/// A named leaf of compile-time rank; its extents arrive at run time. Writing `w = value`
/// makes a binding for evaluation. `Use` is void for the leaves users write; the planner gives a
/// leaf read along two axes of one computation (X in X·Xᵀ) one copy per use, each tagged by its
/// own `Use` and bound to the same value (ir/uses.hpp). `Element` is void for leaves of the
/// program's element type, the integer type of an integer data leaf (`input<"y", 1, std::int64_t>`),
/// or index_values for arange<"n">() (its values 0, 1, …, n − 1, bound as the number n).
template <fixed_string Name, int Rank, role Role, class Use = void, class Element = void>
struct leaf : expression_base {
  static_assert(Rank >= 0, "kobai: a leaf's rank must be 0 (scalar) or more");
  static_assert(detail::valid_element<Element, Role, Rank>,
                "kobai: an integer leaf is a tensor input<> of std::int64_t or std::int32_t: input<\"y\", 1, "
                "std::int64_t>");
  using element = Element;
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

/// What an op does with its arguments' elements; the planner and the backends read it.
enum class op_kind : std::uint8_t {
  elementwise,  // each result element from the arguments' elements at the mapped axes
  reduction,    // folds its argument over some axes with `combine` from `identity` (sum, amax, amin)
  layout,       // its argument's elements in row-major order, laid out anew (flatten, reshape)
  count,        // the number of elements of its argument, whose values it does not read (numel)
  index,        // the index along one axis of its argument, whose values it does not read (arange)
  indirect,     // its first argument's elements at positions read from an integer tensor (take, put_add)
};

/// Tensors have at most this many axes (the unit masks are 32 bits).
inline constexpr int max_rank = 32;

/// An op's axis map: the result's rank, and for each result axis p the axis of each argument k it
/// is (`from[k][p]`, -1 for none: a broadcast, a new unit axis, a folded one). A result axis is a
/// unit (static extent 1) when no argument gives it a non-unit axis, unless it is `fresh`: an axis
/// of its own extent (flatten's). Reductions also say which axes of argument 0 they fold.
struct axis_map {
  int rank = 0;
  std::array<std::array<int, max_rank>, 3> from{};
  std::uint32_t fresh = 0;
  std::uint32_t folded = 0;
  constexpr explicit axis_map(int r) : rank(r) {
    for (auto& axes : from) axes.fill(-1);
  }
};

/// NumPy broadcasting: operands align at their last axes.
template <class... Args>
constexpr axis_map broadcast_map() {
  axis_map map(std::max({0, Args::rank...}));
  constexpr std::array<int, sizeof...(Args)> ranks{Args::rank...};
  for (std::size_t k = 0; k < ranks.size(); ++k)
    for (int p = 0; p < map.rank; ++p)
      if (const int q = p - (map.rank - ranks[k]); q >= 0) map.from[k][p] = q;
  return map;
}

/// The unit axes of a result with axis map `map` over arguments Args.
template <class... Args>
constexpr std::uint32_t result_units(const axis_map& map) {
  constexpr std::array<std::uint32_t, sizeof...(Args)> units{Args::units...};
  std::uint32_t result = 0;
  for (int p = 0; p < map.rank; ++p) {
    bool unit = ((map.fresh >> p) & 1U) == 0;
    for (std::size_t k = 0; k < units.size(); ++k)
      if (const int q = map.from[k][p]; q >= 0 && ((units[k] >> q) & 1U) == 0) unit = false;
    if (unit) result |= 1U << p;
  }
  return result;
}

/// Base of the op descriptors (expr/ops.hpp), with the defaults: an elementwise op of broadcast
/// shape that reads every argument, is differentiable, cheap, and rounds the same everywhere (IEEE
/// arithmetic). `parameter` orders ops of one family (pow<R>'s R).
struct op_base {
  static constexpr op_kind kind = op_kind::elementwise;
  static constexpr bool differentiable = true;
  static constexpr bool costly = false;  // a transcendental function: worth a buffer rather than recomputing
  static constexpr bool exact = true;    // libm and xsimd give the same bits (no transcendental function)
  static constexpr std::array<bool, 3> reads{true, true, true};  // whether each argument's values are read
  static constexpr bool broadcasts = true;  // its axis map is broadcasting's: an elementwise function
  static constexpr rational parameter{0, 1};
  template <class... Args>
  static constexpr axis_map axes() {
    return broadcast_map<Args...>();
  }
};

/// Op's axis map over arguments Args, computed once per node type and read by the node's shape
/// and by the planner's lowering.
template <class Op, class... Args>
inline constexpr axis_map axes_of = Op::template axes<Args...>();

/// An operator node: the op tag applied to its argument expressions.
template <class Op, expression... Args>
struct node : expression_base {
  static_assert(sizeof...(Args) == Op::arity, "kobai internal error: an op node with the wrong number of arguments");
  using op = Op;
  static constexpr int rank = axes_of<Op, Args...>.rank;
  static constexpr std::uint32_t units = result_units<Args...>(axes_of<Op, Args...>);
  // Evaluated when the node's type is completed, as each line of a program builds it, rather than
  // at the first use of rank: a 400-node chain would otherwise compute every rank below it in one
  // nested instantiation, past the compiler's depth limit (GCC's 900).
  static_assert(rank <= max_rank && (std::uint64_t{units} >> rank) == 0,
                "kobai internal error: a node's unit axes lie outside its rank");
};

/// Whether A, broadcast against B, has B's shape: the same rank and the same unit axes. (Two
/// unrelated leaves of one rank are "the same structure" too; this is meant for an argument and
/// its node, or an adjoint and its variable.)
template <class A, class B>
inline constexpr bool same_structure = A::rank == B::rank&& A::units == B::units;

/// A differentiable leaf, like a PyTorch tensor with requires_grad=True: `var<"w">`, `var<"W", 2>`.
template <fixed_string Name, int Rank = 0>
inline constexpr leaf<Name, Rank, role::variable> var{};

/// A data leaf, never differentiated (requires_grad=False): `input<"x", 1>`. With an integer
/// element type, `input<"y", 1, std::int64_t>` (or std::int32_t), it is bound to a container of
/// that type (class labels, indices) and read as the program's element type, exactly.
template <fixed_string Name, int Rank = 0, class Element = void>
inline constexpr leaf<Name, Rank, role::data, void, Element> input{};

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
template <fixed_string N, int R, role K, class U, class E>
struct is_leaf_t<leaf<N, R, K, U, E>> : std::true_type {};
/// Whether `T` is a leaf (var<> or input<>), PyTorch's `is_leaf`.
template <class T>
inline constexpr bool is_leaf = is_leaf_t<std::remove_cvref_t<T>>::value;

/// Whether T is arange<"n">()'s leaf (or a copy of it): bound to a number, its values 0, 1, …, n − 1.
template <class T>
inline constexpr bool is_counted = false;
template <fixed_string Name, class Use>
inline constexpr bool is_counted<leaf<Name, 1, role::data, Use, index_values>> = true;

template <class T>
struct is_node_t : std::false_type {};
template <class Op, class... A>
struct is_node_t<node<Op, A...>> : std::true_type {};
template <class T>
inline constexpr bool is_node = is_node_t<std::remove_cvref_t<T>>::value;

template <class T>
inline constexpr bool is_var = false;
template <fixed_string N, int R, class U, class E>
inline constexpr bool is_var<leaf<N, R, role::variable, U, E>> = true;

template <class T>
inline constexpr bool is_input = false;
template <fixed_string N, int R, class U, class E>
inline constexpr bool is_input<leaf<N, R, role::data, U, E>> = true;

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
template <fixed_string N, int R, class U, class E>
struct is_differentiable_t<leaf<N, R, role::variable, U, E>> : std::true_type {};
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
