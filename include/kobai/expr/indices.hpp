// Tensors of indices, and what is built from them: arange (0, 1, …, n − 1 along an axis of a
// tensor, or for a number n given at run time), eye_like, tril and triu, one_hot, argmax and argmin.
// Two primitives, ops::arange, whose extent is a tensor's axis, and arange<"n">()'s leaf, bound to
// the number n (both read by the backends from memory holding 0, 1, 2, …); the rest are
// compositions with comparisons and reductions, so they fuse into the loops around them and carry
// the gradients their compositions have (none for indices).
#pragma once

#include "kobai/expr/linalg.hpp"
#include "kobai/expr/reductions.hpp"

namespace kobai {

namespace detail {
template <class E>
inline constexpr bool is_range = false;
template <int P, class A>
inline constexpr bool is_range<node<ops::arange<P>, A>> = true;
// The integer leaf an expression reads through unsqueeze, or void.
template <class E>
struct index_leaf_t {
  using type = void;
};
template <fixed_string N, int R, role K, class U, class I>
requires std::is_integral_v<I>
struct index_leaf_t<leaf<N, R, K, U, I>> {
  using type = leaf<N, R, K, U, I>;
};
template <int P, class A>
struct index_leaf_t<node<ops::unsqueeze<P>, A>> : index_leaf_t<A> {};
template <class E>
using index_leaf = typename index_leaf_t<E>::type;
template <class E>
inline constexpr bool is_integer_leaf = is_leaf<E>&& std::is_same_v<index_leaf<E>, E>;

template <int Axis, int Rank>
constexpr int axis_of_rank() {
  static_assert(Rank >= 1 && Axis >= -Rank && Axis < Rank,
                "kobai: the axis is out of range for the tensor's rank (axes count from 0, or from -1 for the last)");
  return Axis < 0 ? Axis + Rank : Axis;
}
// v (a vector) as axis P of a tensor of rank Rank: units after it, and broadcasting adds those before.
template <int P, int Rank, expression V>
constexpr auto as_axis(V v) {
  if constexpr (P == Rank - 1)
    return v;
  else
    return as_axis<P + 1, Rank>(unsqueeze<1>(v));
}
}  // namespace detail

/// arange<Axis>(x): the vector 0, 1, …, n − 1, where n is x's extent along Axis (negative counts
/// from the end), torch.arange(x.shape[Axis]). x's values are not read. Its values are exact
/// integers in the program's element type (an extent past 2^24 in float is refused at run time).
template <int Axis, expression A>
constexpr auto arange(A a) {
  return detail::make_node<ops::arange<detail::axis_of_rank<Axis, A::rank>()>>(detail::shape_witness(a));
}

/// arange<"n">(): the vector 0, 1, …, n − 1 with n given at run time, torch.arange(n): a data leaf
/// bound to a whole number, `program(n = 10)` for `constexpr auto n = arange<"n">();`. Its values
/// are exact integers in the program's element type, like arange<Axis>(x)'s.
template <fixed_string Name>
constexpr leaf<Name, 1, role::data, void, index_values> arange() {
  return {};
}

/// eye_like(x): 1 where the row index equals the column index over x's last two axes, else 0:
/// torch.eye(n, m) for x of shape (…, n, m), as an (n, m) tensor.
template <expression A>
constexpr auto eye_like(A a) {
  static_assert(A::rank >= 2, "kobai::eye_like(x): x needs two axes (the identity's rows and columns)");
  return unsqueeze<1>(arange<-2>(a)) == arange<-1>(a);
}

/// tril<K>(x): x with the elements above its K-th diagonal zeroed, over its last two axes
/// (torch.tril(x, K): kept where column ≤ row + K). The gradient is masked the same way.
template <int K = 0, expression A>
constexpr auto tril(A a) {
  static_assert(A::rank >= 2, "kobai::tril(x): x needs two axes (rows and columns)");
  return where(arange<-1>(a) <= unsqueeze<1>(arange<-2>(a)) + literal<K>, a, literal<0>);
}
/// triu<K>(x): x with the elements below its K-th diagonal zeroed (torch.triu(x, K): kept where
/// column ≥ row + K).
template <int K = 0, expression A>
constexpr auto triu(A a) {
  static_assert(A::rank >= 2, "kobai::triu(x): x needs two axes (rows and columns)");
  return where(arange<-1>(a) >= unsqueeze<1>(arange<-2>(a)) + literal<K>, a, literal<0>);
}

/// one_hot(labels, like): for class indices `labels` of shape S, the 0/1 tensor of shape S + (C,)
/// with a 1 at each label's class, where C is like's last extent (torch.nn.functional.one_hot with
/// num_classes = C; like is typically the logits). An integer leaf's labels are checked once per
/// call: one outside [0, C) is a kobai::binding_error naming the leaf (labels held as values of
/// the element type are not checked: one outside gives a row of zeros).
template <expression L, expression Like>
constexpr auto one_hot(L labels, Like like) {
  static_assert(Like::rank >= 1, "kobai::one_hot(labels, like): like's last axis gives the number of classes");
  return detail::make_node<ops::index_eq>(unsqueeze<L::rank>(labels), arange<-1>(like));
}

/// take<Axis>(table, idx): the table's slices along Axis at the positions idx holds, in idx's shape,
/// as torch.index_select(table, Axis, idx) for a vector idx (an embedding lookup E[idx]): for
/// table (V, D) and idx (N), the (N, D) tensor of rows table[idx[n]]; for idx (N, K), (N, K, D).
/// idx is an integer leaf, `input<"idx", 1, std::int64_t>`; an index outside [0, V) is a
/// kobai::binding_error naming the leaf, the index and the extent, checked once per call. The
/// table's gradient adds the adjoint's slices back at their positions (a scatter-add), in order:
/// the same bits for any number of threads. The CPU computes it between the loops around it.
template <int Axis, expression Table, expression Index>
constexpr auto take(Table table, Index idx) {
  static_assert(Table::rank >= 1, "kobai::take<Axis>(table, idx): the table is a tensor (a scalar has no slices)");
  static_assert(detail::is_integer_leaf<Index>,
                "kobai::take<Axis>(table, idx): idx is an integer leaf, input<\"idx\", 1, std::int64_t> (or "
                "std::int32_t), bound to the indices");
  if constexpr (Table::rank < 1 || !detail::is_integer_leaf<Index>)
    return table;  // (refused above: nothing more to report)
  else
    return detail::make_node<ops::take<detail::axis_of_rank<Axis, Table::rank>()>>(table, idx);
}

/// select<Axis, Index>(x): x's slice at Index along Axis, the axis removed: torch.select(x, Axis,
/// Index), x[:, Index] for Axis 1 (a column of a matrix). narrow<Axis, Start, Length>(x): the
/// slices Start … Start + Length − 1, the axis kept with extent Length: torch.narrow, x[:, a:b].
/// Indices past the end of the axis are a kobai::shape_error when the program is called. Their
/// gradients place the adjoint's slices back (zeros elsewhere). Like take, the CPU computes them
/// between the loops around them.
template <int Axis, std::int64_t Index, expression A>
constexpr auto select(A a) {
  static_assert(Index >= 0, "kobai::select<Axis, Index>(x): Index counts from 0 along the axis");
  if constexpr (Index < 0)
    return a;  // (refused above)
  else
    return detail::make_node<ops::slice<detail::axis_of_rank<Axis, A::rank>(), Index, 1, false>>(a);
}
template <int Axis, std::int64_t Start, std::int64_t Length, expression A>
constexpr auto narrow(A a) {
  static_assert(Start >= 0 && Length >= 1,
                "kobai::narrow<Axis, Start, Length>(x): Start counts from 0 along the axis, Length is 1 or more");
  if constexpr (Start < 0 || Length < 1)
    return a;  // (refused above)
  else
    return detail::make_node<ops::slice<detail::axis_of_rank<Axis, A::rank>(), Start, Length, true>>(a);
}

/// concat<Axis>(a, b, …): the tensors joined along Axis, torch.cat((a, b, …), Axis): tensors of
/// one rank whose other axes agree (or broadcast); the result's axis holds a's extent and b's
/// together. stack<Axis>(a, b, …): joined along a new axis at Axis, torch.stack. Each part's
/// gradient is the adjoint's slices where it was placed. The CPU copies the parts between loops.
template <int Axis, expression A, expression B, expression... Rest>
constexpr auto concat(A a, B b, Rest... rest) {
  static_assert(A::rank == B::rank && ((Rest::rank == A::rank) && ...),
                "kobai::concat<Axis>(a, b, ...): the tensors have one rank (stack adds an axis)");
  if constexpr (A::rank != B::rank || !((Rest::rank == A::rank) && ...)) {
    return a;  // (refused above)
  } else {
    constexpr int p = detail::axis_of_rank<Axis, A::rank>();
    const auto joined = detail::make_node<ops::place<p, false>>(a, b) + detail::make_node<ops::place<p, true>>(b, a);
    if constexpr (sizeof...(Rest) == 0)
      return joined;
    else
      return concat<p>(joined, rest...);
  }
}
template <int Axis, expression A, expression... Rest>
constexpr auto stack(A a, Rest... rest) {
  static_assert(sizeof...(Rest) > 0, "kobai::stack<Axis>(a, b, ...): stack two tensors or more");
  constexpr int p = detail::axis_of_rank<Axis, A::rank + 1>();
  if constexpr (sizeof...(Rest) == 0)
    return unsqueeze<p>(a);  // (refused above)
  else
    return concat<p>(unsqueeze<p>(a), unsqueeze<p>(rest)...);
}

namespace detail {
// The first index along P where x equals its extremum m (kept axes), or the first NaN (as torch's
// argmax and argmin: a NaN is the extremum); none of it carries a gradient.
template <int P, expression A, expression M>
constexpr auto first_index_of(A a, M m) {
  const auto index = as_axis<P, A::rank>(arange<P>(a));
  return where((a == m) + (a != a), index, numel(arange<P>(a)));
}
template <int Axis, bool Largest, bool Keep, expression A>
constexpr auto arg_extremum(A a) {
  constexpr int p = axis_of_rank<Axis, A::rank>();
  const auto first = [&] {
    if constexpr (Largest)
      return first_index_of<p>(a, max<p>(a, keepdims));
    else
      return first_index_of<p>(a, min<p>(a, keepdims));
  }();
  if constexpr (Keep)
    return min<p>(first, keepdims);
  else
    return min<p>(first);
}
}  // namespace detail

/// argmax<Axis>(x): the index of the largest element along Axis (the first of equal ones; a NaN
/// counts as the largest), as torch.argmax(x, Axis). Indices are values of the program's element
/// type. argmax<Axis>(x, keepdims) keeps the axis with extent 1. No gradient.
template <int Axis, expression A>
constexpr auto argmax(A a) {
  return detail::arg_extremum<Axis, true, false>(a);
}
template <int Axis, expression A>
constexpr auto argmax(A a, keepdims_t) {
  return detail::arg_extremum<Axis, true, true>(a);
}
/// argmin<Axis>(x): the index of the smallest element along Axis (the first of equal ones; a NaN
/// counts as the smallest), as torch.argmin(x, Axis). No gradient.
template <int Axis, expression A>
constexpr auto argmin(A a) {
  return detail::arg_extremum<Axis, false, false>(a);
}
template <int Axis, expression A>
constexpr auto argmin(A a, keepdims_t) {
  return detail::arg_extremum<Axis, false, true>(a);
}

}  // namespace kobai
