// Binding checks at compile time: what a program may be called with (numbers for scalar leaves,
// row-major xtensor containers of the leaf's rank for tensor leaves, one element type), each
// mistake one static_assert naming the leaf.
#pragma once

#include <cstddef>
#include <type_traits>

#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "kobai/expr/environment.hpp"
#include "kobai/expr/graph.hpp"

namespace kobai::detail {

template <class T>
concept scalar_value = std::is_arithmetic_v<std::remove_cvref_t<T>>;
template <class T>
concept tensor_value = requires(const std::remove_cvref_t<T>& c) {
  c.data();
  c.shape();
  c.dimension();
  typename std::remove_cvref_t<T>::value_type;
};

template <class B>
using bound_type = std::remove_cvref_t<decltype(B::value)>;

/// Containers the loops can read as flat row-major arrays: xt::xtensor, xt::xarray, and xt::adapt
/// of contiguous memory, in row-major layout.
template <class T>
struct is_row_major_container : std::false_type {};
template <class EC, std::size_t N, class Tag>
struct is_row_major_container<xt::xtensor_container<EC, N, xt::layout_type::row_major, Tag>> : std::true_type {};
template <class EC, class SC, class Tag>
struct is_row_major_container<xt::xarray_container<EC, xt::layout_type::row_major, SC, Tag>> : std::true_type {};
template <class EC, std::size_t N, class Tag>
struct is_row_major_container<xt::xtensor_adaptor<EC, N, xt::layout_type::row_major, Tag>> : std::true_type {};
template <class EC, class SC, class Tag>
struct is_row_major_container<xt::xarray_adaptor<EC, xt::layout_type::row_major, SC, Tag>> : std::true_type {};

template <class T>
struct static_rank : std::integral_constant<int, -1> {};  // dynamic (xt::xarray)
template <class V, std::size_t N, xt::layout_type L, class Tag>
struct static_rank<xt::xtensor_container<V, N, L, Tag>> : std::integral_constant<int, static_cast<int>(N)> {};
template <class V, std::size_t N, xt::layout_type L, class Tag>
struct static_rank<xt::xtensor_adaptor<V, N, L, Tag>> : std::integral_constant<int, static_cast<int>(N)> {};

template <class Leaf>
constexpr void report_unknown_name() {
  static_assert(dependent_false<Leaf>,
                "kobai: a binding names a leaf the program does not have; bind only the var<> and input<> "
                "leaves of the compiled outputs (the trace names it: leaf_named<...>)");
}
template <int Rank>
struct leaf_rank {};
template <int Rank>
struct bound_rank {};
/// What the trace of an axis conflict the planner could not separate (ir/uses.hpp) shows: the
/// subexpression read along two axes, a leaf by its name (leaf_named<'x'>), a computed value as
/// computed<its op, its operands named alike> (clang prints a leaf's fixed_string as character
/// codes; a character pack prints as characters on both compilers).
template <class Subexpression>
struct used_along_two_axes {};
template <class Op, class... Operands>
struct computed {};
template <class E>
struct conflict_name {
  using type = E;
};
template <fixed_string Name, int Rank, role Role, class Use, class Element>
struct conflict_name<leaf<Name, Rank, Role, Use, Element>> {
  using type = spelled<Name>;
};
template <class Op, class... Args>
struct conflict_name<node<Op, Args...>> {
  using type = computed<Op, typename conflict_name<Args>::type...>;
};
template <class Subexpression>
constexpr bool report_axis_conflict() {
  static_assert(dependent_false<used_along_two_axes<typename conflict_name<Subexpression>::type>>,
                "kobai: an expression reads a tensor along two different axes in more ways than the planner "
                "separates (ir/uses.hpp: 8 instances per node, and a bound on the planning work); bind a copy of the "
                "tensor to a second leaf for the other role (the trace names it: used_along_two_axes<...>)");
  return true;  // (the static_assert above is the one message)
}
template <bool Conflict, class Order, int Source>
constexpr bool check_axis_conflict() {
  if constexpr (Conflict) report_axis_conflict<typename Order::template at<static_cast<std::size_t>(Source)>>();
  return true;
}

/// What the trace of a rank mismatch shows: the leaf, its rank and the rank bound to it.
template <class Leaf, class Expected, class Given>
struct rank_mismatch {};
template <class Leaf, int LeafRank, int BoundRank>
constexpr void report_rank_mismatch() {
  static_assert(dependent_false<rank_mismatch<Leaf, leaf_rank<LeafRank>, bound_rank<BoundRank>>>,
                "kobai: a binding's rank does not match its leaf: bind numbers to rank-0 leaves and to "
                "arange<\"n\">(), and containers of the leaf's rank to tensor leaves (the trace names both: "
                "rank_mismatch<leaf_named<...>, leaf_rank<...>, bound_rank<...>>)");
}

/// What the trace of an integer leaf bound to another element type shows (or a floating-point
/// leaf bound to integers): the leaf, the leaf's element type (void: the program's) and the bound one.
template <class Leaf, class LeafElement, class BoundElement>
struct element_mismatch {};
template <class Leaf, class LeafElement, class BoundElement>
constexpr void report_element_mismatch() {
  static_assert(dependent_false<element_mismatch<Leaf, LeafElement, BoundElement>>,
                "kobai: a binding's element type does not match its leaf: bind an integer leaf (input<\"y\", 1, "
                "std::int64_t>) to a container of exactly that type, arange<\"n\">() to a whole number, and other "
                "leaves to float or double (the trace names them: element_mismatch<leaf_named<...>, leaf element, "
                "bound element>)");
}

template <class T>
struct value_type_of {
  using type = std::remove_cvref_t<T>;  // a number
};
template <tensor_value T>
struct value_type_of<T> {
  using type = typename std::remove_cvref_t<T>::value_type;
};

template <class Leaves, class Binding>
struct check_binding;
template <class... Leaves, class Binding>
struct check_binding<type_list<Leaves...>, Binding> {
  using value = bound_type<Binding>;
  static constexpr bool known = ((Leaves::name.view() == Binding::name.view()) || ...);
  static constexpr int leaf_rank = ((Leaves::name.view() == Binding::name.view() ? Leaves::rank : 0) + ... + 0);
  static constexpr bool container =
      scalar_value<value> || (tensor_value<value> && is_row_major_container<value>::value);
  // the element type of the leaf named (void: the program's), and whether the bound one fits it
  using leaf_element = typename type_list<typename Leaves::element..., void>::template at<first_match(
      std::array<bool, sizeof...(Leaves) + 1>{(Leaves::name.view() == Binding::name.view())..., true})>;
  using bound_element = typename value_type_of<value>::type;
  static constexpr bool counted = std::is_same_v<leaf_element, index_values>;  // arange<"n">(): a whole number
  static constexpr bool rank_agrees =
      counted ? scalar_value<value>
      : scalar_value<value>
          ? leaf_rank == 0
          : leaf_rank != 0 && (static_rank<value>::value < 0 || static_rank<value>::value == leaf_rank);
  static constexpr bool element_agrees = counted ? std::is_integral_v<bound_element>
                                         : std::is_void_v<leaf_element>
                                             ? !tensor_value<value> || !std::is_integral_v<bound_element>
                                             : std::is_same_v<bound_element, leaf_element>;
  static constexpr bool valid = container && known && rank_agrees && element_agrees;
  /// The static_assert that says why the binding is not valid.
  static constexpr void report() {
    static_assert(container,
                  "kobai: bind a number or a row-major xtensor container (xt::xtensor, xt::xarray, or xt::adapt of "
                  "contiguous memory); copy a view, a transpose, an expression or a column-major array into one "
                  "first, e.g. xt::xtensor<double, 2> copy = expression;");
    if constexpr (container && !known)
      report_unknown_name<spelled<Binding::name>>();
    else if constexpr (container && !rank_agrees)
      report_rank_mismatch<spelled<Binding::name>, leaf_rank, scalar_value<value> ? 0 : static_rank<value>::value>();
    else if constexpr (container && !element_agrees)
      report_element_mismatch<spelled<Binding::name>, leaf_element, bound_element>();
  }
};

/// The first leaf no binding names, or the number of leaves.
template <class... Leaves, class... Bindings>
constexpr std::size_t first_unbound(type_list<Leaves...>, type_list<Bindings...>) {
  return first_match(std::array<bool, sizeof...(Leaves)>{!environment<Bindings...>::template has<Leaves::name>...});
}

template <class... Bindings>
struct element_type_t {
  using type = double;
};
template <class B, class... Bs>
struct element_type_t<B, Bs...> : element_type_t<Bs...> {};
template <class B, class... Bs>
requires(tensor_value<bound_type<B>> &&
         !std::is_integral_v<typename bound_type<B>::value_type>) struct element_type_t<B, Bs...> {
  using type = typename bound_type<B>::value_type;
};

/// The element type of the bindings in a type_list.
template <class List>
struct element_type_of;
template <class... Bindings>
struct element_type_of<type_list<Bindings...>> : element_type_t<Bindings...> {};

template <class T, class V>
inline constexpr bool element_type_agrees = true;
template <class T, tensor_value V>
inline constexpr bool element_type_agrees<T, V> =
    std::is_same_v<typename V::value_type, T> || std::is_integral_v<typename V::value_type>;  // (integer leaves')

/// Checks a call's bindings against the program's leaves: true, or false after one static_assert
/// (the first mistake found; the caller compiles nothing more, so the message stands alone).
template <class Leaves, class... Bindings>
constexpr bool check_bindings() {
  constexpr bool bindings = (is_binding<Bindings> && ...);
  static_assert(bindings, "kobai: call a program with bindings written as `x = X`");
  if constexpr (!bindings) {
    return false;
  } else {
    constexpr std::size_t wrong =
        first_match(std::array<bool, sizeof...(Bindings) + 1>{!check_binding<Leaves, Bindings>::valid..., true});
    constexpr std::size_t unbound = first_unbound(Leaves{}, type_list<Bindings...>{});
    if constexpr (wrong < sizeof...(Bindings)) {  // the first wrong binding alone
      check_binding<Leaves, typename type_list<Bindings...>::template at<wrong>>::report();
      return false;
    } else if constexpr (unbound < Leaves::size) {  // the first unbound leaf alone
      report_unbound<Leaves::template at<unbound>::name>();
      return false;
    } else {
      using T = typename element_type_t<Bindings...>::type;
      constexpr bool one_type = (element_type_agrees<T, bound_type<Bindings>> && ...);
      static_assert(one_type, "kobai: the bound tensors mix element types; convert them to one (float or double)");
      static_assert(!one_type || std::is_floating_point_v<T>, "kobai: tensors must hold float or double");
      return one_type && std::is_floating_point_v<T>;
    }
  }
}

/// Whether argument B of a call names a leaf of Leaves. Whatever is not a binding counts as used,
/// so that the binding check reports it ("call a program with bindings written as `x = X`").
template <class Leaves, class B>
struct has_leaf_named : std::true_type {};
template <class... Ls, class B>
requires is_binding<B>
struct has_leaf_named<type_list<Ls...>, B> : std::bool_constant<((Ls::name.view() == B::name.view()) || ...)> {
};

/// Whether a call binds a name that no leaf of the program has. Such a binding is ignored (one set
/// of bindings serves a training step and a prediction program alike) unless the call is strict.
template <class Leaves, class... Bindings>
inline constexpr bool binds_unused = (!has_leaf_named<Leaves, Bindings>::value || ...);

/// The first binding that names no leaf of Leaves.
template <class Leaves, class... Bindings>
using first_unused = typename type_list<Bindings...>::template at<first_match(
    std::array<bool, sizeof...(Bindings)>{!has_leaf_named<Leaves, Bindings>::value...})>;

template <class Leaves, class... Bindings>
struct used_types {
  using type = type_list<>;
};
template <class Leaves, class B, class... Bs>
struct used_types<Leaves, B, Bs...> {
  using rest = typename used_types<Leaves, Bs...>::type;
  using type = std::conditional_t<has_leaf_named<Leaves, B>::value, type_list_concat<type_list<B>, rest>, rest>;
};
template <class Leaves, class... Bindings>
using used_binding_types = typename used_types<Leaves, Bindings...>::type;

/// The bindings that name a leaf of Leaves, as a tuple.
template <class Leaves, class... Bindings>
auto used_bindings(Bindings... bindings) {
  return std::tuple_cat([&]<class B>(B& bound) {
    if constexpr (has_leaf_named<Leaves, B>::value)
      return std::tuple<B>{std::move(bound)};
    else
      return std::tuple<>{};
  }(bindings)...);
}

}  // namespace kobai::detail

namespace kobai {

/// Asks a program call to refuse bindings that name no leaf of the program, which it otherwise
/// ignores: `step(kobai::strict, x = X, t = T)` catches a misspelt name that no output uses.
struct strict_t {};
inline constexpr strict_t strict{};

}  // namespace kobai

namespace kobai::detail {

/// check_bindings over a type_list of bindings, as a variable (its value stays a constant after
/// the static_assert that a wrong call fails, so the caller's `if constexpr` skips the call).
template <class Leaves, class List>
inline constexpr bool valid_bindings = false;
template <class Leaves, class... Bindings>
inline constexpr bool valid_bindings<Leaves, type_list<Bindings...>> = check_bindings<Leaves, Bindings...>();

/// What a call with wrong bindings returns, once its static_assert has said why: it converts to
/// anything and absorbs calls, so the caller's code adds no errors of its own.
struct rejected_call {
  template <class U>
  constexpr operator U() const {  // NOLINT(google-explicit-constructor)
    return U{};
  }
  template <class... A>
  constexpr rejected_call operator()(A&&...) const {
    return {};
  }
};

}  // namespace kobai::detail
