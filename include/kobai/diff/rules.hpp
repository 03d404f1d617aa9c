// The derivative table: one vector-Jacobian rule per primitive op, (node, output adjoint g) → the
// adjoint its argument I receives. Every rule is an ordinary expression, so it differentiates again.
#pragma once

#include <cstddef>

#include "kobai/expr/indices.hpp"
#include "kobai/expr/linalg.hpp"
#include "kobai/expr/operators.hpp"
#include "kobai/expr/reductions.hpp"

namespace kobai::diff {

template <std::size_t I, class A, class B>
constexpr auto rule(node<ops::add, A, B>, auto g) {
  return g;
}

template <std::size_t I, class A, class B>
constexpr auto rule(node<ops::mul, A, B>, auto g) {
  if constexpr (I == 0)
    return g * B{};
  else
    return g * A{};
}

template <std::size_t I, rational R, class A>
constexpr auto rule(node<ops::power<R>, A>, auto g) {
  return g * constant<R>{} * pow<(R - rational{1, 1}).num, (R - rational{1, 1}).den>(A{});
}

template <std::size_t I, class A, class B>
constexpr auto rule(node<ops::pow, A, B> self, auto g) {
  if constexpr (I == 0)
    return g * B{} * pow(A{}, B{} - literal<1>);
  else
    return g * self * log(A{});
}

template <std::size_t I, class A>
constexpr auto rule(node<ops::exp, A> self, auto g) {
  return g * self;
}
template <std::size_t I, class A>
constexpr auto rule(node<ops::log, A>, auto g) {
  return g / A{};
}
template <std::size_t I, class A>
constexpr auto rule(node<ops::log1p, A>, auto g) {
  return g / (literal<1> + A{});
}
template <std::size_t I, class A>
constexpr auto rule(node<ops::expm1, A> self, auto g) {
  return g * (self + literal<1>);
}
template <std::size_t I, class A>
constexpr auto rule(node<ops::sin, A>, auto g) {
  return g * cos(A{});
}
template <std::size_t I, class A>
constexpr auto rule(node<ops::cos, A>, auto g) {
  return -(g * sin(A{}));
}
template <std::size_t I, class A>
constexpr auto rule(node<ops::tan, A> self, auto g) {
  return g * (literal<1> + pow<2>(self));
}
template <std::size_t I, class A>
constexpr auto rule(node<ops::tanh, A> self, auto g) {
  return g * (literal<1> - pow<2>(self));
}
/// 2/√π, as the rational nearest it with an 8-digit denominator (1.9e-17 relative: the same double).
inline constexpr rational two_over_sqrt_pi{37593262, 33316161};
template <std::size_t I, class A>
constexpr auto rule(node<ops::erf, A>, auto g) {
  return g * constant<two_over_sqrt_pi>{} * exp(-pow<2>(A{}));
}
template <std::size_t I, class A>
constexpr auto rule(node<ops::sigmoid, A> self, auto g) {
  return g * self * (literal<1> - self);
}
template <std::size_t I, class A>
constexpr auto rule(node<ops::softplus, A>, auto g) {
  return g * sigmoid(A{});
}
template <std::size_t I, class A>
constexpr auto rule(node<ops::relu, A>, auto g) {
  return where(A{} > literal<0>, g, literal<0>);
}
template <std::size_t I, class A>
constexpr auto rule(node<ops::abs, A>, auto g) {
  return g * sign(A{});
}

template <std::size_t I, class A, class B>
constexpr auto rule(node<ops::min, A, B>, auto g) {
  if constexpr (I == 0)
    return where(A{} < B{}, g, where(A{} == B{}, g / literal<2>, literal<0>));
  else
    return where(B{} < A{}, g, where(A{} == B{}, g / literal<2>, literal<0>));
}
template <std::size_t I, class A, class B>
constexpr auto rule(node<ops::max, A, B>, auto g) {
  if constexpr (I == 0)
    return where(A{} > B{}, g, where(A{} == B{}, g / literal<2>, literal<0>));
  else
    return where(B{} > A{}, g, where(A{} == B{}, g / literal<2>, literal<0>));
}

template <std::size_t I, class C, class A, class B>
constexpr auto rule(node<ops::where, C, A, B>, auto g) {
  if constexpr (I == 0)
    return literal<0>;  // the condition selects; it has no derivative
  else if constexpr (I == 1)
    return where(C{}, g, literal<0>);
  else
    return where(C{}, literal<0>, g);
}

namespace detail {

/// g as a value of Self's shape: a scalar stays a scalar (it broadcasts anywhere); a broadcast
/// tensor is expanded, since the rules below move or remove axes.
template <class Self, class G>
constexpr auto as_shape_of(G g) {
  if constexpr (G::rank == 0 || same_structure<G, Self>)
    return g;
  else
    return kobai::detail::make_node<ops::expand>(g, Self{});
}

template <std::uint32_t Mask, int Q, int Rank, class X>
constexpr auto unsqueeze_each(X x) {
  if constexpr (Q == Rank)
    return x;
  else if constexpr (((Mask >> Q) & 1U) != 0)
    return unsqueeze_each<Mask, Q + 1, Rank>(unsqueeze<Q>(x));
  else
    return unsqueeze_each<Mask, Q + 1, Rank>(x);
}

/// x, the value of a reduction of A over the axes in Mask that removed them, with those axes put
/// back as units so that it broadcasts against A (a keepdims result, or a scalar, already does).
template <class A, std::uint32_t Mask, bool Keep, class X>
constexpr auto restore_axes(X x) {
  if constexpr (Keep || X::rank == 0)
    return x;
  else
    return unsqueeze_each<Mask&((1U << A::rank) - 1U), 0, A::rank>(x);
}

}  // namespace detail

template <std::size_t I, std::uint32_t Axes, bool Keep, class A>
constexpr auto rule(node<ops::sum_over<Axes, Keep>, A> self, auto g) {
  return detail::restore_axes<A, Axes, Keep>(detail::as_shape_of<decltype(self)>(g));
}  // broadcasts over the folded axes

template <std::size_t I, bool Largest, std::uint32_t Axes, bool Keep, class A>
constexpr auto rule(node<ops::extremum<Largest, Axes, Keep>, A> self, auto g) {
  constexpr auto extreme = detail::restore_axes<A, Axes, Keep>(self);
  constexpr auto hits = A{} == extreme;
  constexpr auto ties =
      detail::restore_axes<A, Axes, Keep>(kobai::detail::make_reduction<kobai::detail::sum_op, Axes, Keep>(hits));
  return detail::restore_axes<A, Axes, Keep>(detail::as_shape_of<decltype(self)>(g)) * hits / ties;
}  // ties share the gradient

template <std::size_t I, std::uint32_t Axes, bool Keep, class A>
constexpr auto rule(node<ops::product_over<Axes, Keep>, A> self, auto g) {
  constexpr auto x = A{};
  constexpr auto zero = x == literal<0>;
  constexpr auto zeros =
      detail::restore_axes<A, Axes, Keep>(kobai::detail::make_reduction<kobai::detail::sum_op, Axes, Keep>(zero));
  constexpr auto others = detail::restore_axes<A, Axes, Keep>(  // the product of the elements that are not 0
      kobai::detail::make_reduction<kobai::detail::prod_op, Axes, Keep>(where(zero, literal<1>, x)));
  constexpr auto product = detail::restore_axes<A, Axes, Keep>(self);
  return detail::restore_axes<A, Axes, Keep>(detail::as_shape_of<decltype(self)>(g)) *
         where(zero, where(zeros == literal<1>, others, literal<0>),
               where(zeros == literal<0>, product / x, literal<0>));
}  // Π_{j≠i} xⱼ: prod/xᵢ without zeros; with one zero, the others' product at it; with two, 0

template <std::size_t I, class G, class Like>
constexpr auto rule(node<ops::expand, G, Like>, auto g) {
  if constexpr (I == 0)
    return g;  // summed back to G's shape by the reverse pass
  else
    return literal<0>;  // only Like's shape is used
}

template <std::size_t I, int P, class A>
constexpr auto rule(node<ops::unsqueeze<P>, A> self, auto g) {
  using G = decltype(g);
  constexpr int missing = decltype(self)::rank - G::rank;  // g's leading axes broadcast
  if constexpr (P < missing)
    return g;  // the unit axis is one of them: g already broadcasts to A
  else         // folding the unit axis only removes it
    return kobai::detail::make_reduction<kobai::detail::sum_op, 1U << (P - missing), false>(g);
}

template <std::size_t I, class A>
constexpr auto rule(node<ops::transpose, A> self, auto g) {
  if constexpr (decltype(g)::rank == 1)
    return transpose(detail::as_shape_of<decltype(self)>(g));
  else
    return transpose(g);
}

template <std::size_t I, class A>
constexpr auto rule(node<ops::flatten, A> self, auto g) {
  if constexpr (decltype(g)::rank == 0)
    return g;
  else
    return reshape_as(detail::as_shape_of<decltype(self)>(g), A{});
}

template <std::size_t I, class A, std::int64_t... E>
constexpr auto rule(node<ops::reshape_to<E...>, A> self, auto g) {
  if constexpr (decltype(g)::rank == 0)
    return g;
  else
    return reshape_as(detail::as_shape_of<decltype(self)>(g), A{});
}

namespace detail {
// The adjoint g of an indirect node (a scalar, or broadcast) as a tensor of the node's own shape.
template <class Self, class G>
constexpr auto as_slices_of(G g) {
  if constexpr (same_structure<G, Self>)
    return g;
  else
    return kobai::detail::make_node<ops::expand>(g, Self{});
}
}  // namespace detail

template <std::size_t I, int P, class Table, class Index>
constexpr auto rule(node<ops::take<P>, Table, Index> self, auto g) {
  if constexpr (I == 0)
    return kobai::detail::make_node<ops::put_add<P>>(detail::as_slices_of<decltype(self)>(g), Index{}, Table{});
  else
    return literal<0>;  // indices carry no gradient
}

template <std::size_t I, int P, class G, class Index, class Like>
constexpr auto rule(node<ops::put_add<P>, G, Index, Like> self, auto g) {
  if constexpr (I == 0)
    return take<P>(detail::as_slices_of<decltype(self)>(g), Index{});
  else
    return literal<0>;  // indices carry no gradient; only like's shape is used
}

template <std::size_t I, int P, std::int64_t F, std::int64_t C, bool K, class X>
constexpr auto rule(node<ops::slice<P, F, C, K>, X> self, auto g) {
  return kobai::detail::make_node<ops::unslice<P, F, C, K>>(detail::as_slices_of<decltype(self)>(g), X{});
}

template <std::size_t I, int P, std::int64_t F, std::int64_t C, bool K, class G, class Like>
constexpr auto rule(node<ops::unslice<P, F, C, K>, G, Like> self, auto g) {
  if constexpr (I == 0)
    return kobai::detail::make_node<ops::slice<P, F, C, K>>(detail::as_slices_of<decltype(self)>(g));
  else
    return literal<0>;  // only like's shape is used
}

template <std::size_t I, int P, bool S, class G, class Other>
constexpr auto rule(node<ops::place<P, S>, G, Other> self, auto g) {
  if constexpr (I == 0)
    return kobai::detail::make_node<ops::cut<P, S>>(detail::as_slices_of<decltype(self)>(g), G{}, Other{});
  else
    return literal<0>;  // only other's extent is used
}

template <std::size_t I, int P, bool S, class X, class Like, class Other>
constexpr auto rule(node<ops::cut<P, S>, X, Like, Other> self, auto g) {
  if constexpr (I == 0)
    return kobai::detail::make_node<ops::place<P, S>>(detail::as_slices_of<decltype(self)>(g), Other{});
  else
    return literal<0>;  // only like's shape and other's extent are used
}

template <std::size_t I, class A, class Like>
constexpr auto rule(node<ops::reshape, A, Like> self, auto g) {
  if constexpr (I == 1)
    return literal<0>;  // only Like's shape is used
  else if constexpr (decltype(g)::rank == 0)
    return g;
  else
    return reshape_as(detail::as_shape_of<decltype(self)>(g), A{});
}

}  // namespace kobai::diff
