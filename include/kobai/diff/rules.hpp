// The derivative table: one vector-Jacobian rule per primitive op, (node, output adjoint g) → the
// adjoint its argument I receives. Every rule is an ordinary expression, so it differentiates again.
#pragma once

#include <cstddef>

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

template <std::size_t I, class A>
constexpr auto rule(node<ops::sum, A>, auto g) {
  return g;
}  // broadcasts over A's elements

template <std::size_t I, ops::op_id Id, bool Largest, class A>
constexpr auto rule(node<ops::extremum<Id, Largest>, A> self, auto g) {
  return g * (A{} == self) / sum(A{} == self);  // ties share the gradient
}

template <std::size_t I, class G, class Like>
constexpr auto rule(node<ops::expand, G, Like>, auto g) {
  if constexpr (I == 0)
    return g;
  else
    return literal<0>;  // only Like's shape is used
}

}  // namespace kobai::diff
