// grad, grad_strict and vjp: derivatives as expression types, so they differentiate again.
#pragma once

#include <tuple>

#include "kobai/diff/reverse.hpp"

namespace kobai {
namespace detail {
/// The seed of a vjp: a scalar broadcasts; a tensor seed is tied to y's shape (expand(v, y)), so
/// its axes are y's axes and a seed of another shape is a shape error naming both.
template <class Y, class V>
constexpr auto seed_for(V v) {
  static_assert(V::rank == 0 || same_structure<V, Y>,
                "kobai::vjp: the seed v must have the output's shape (rank and unit axes), or be a scalar");
  if constexpr (V::rank == 0)
    return v;
  else if constexpr (!same_structure<V, Y>)
    return constant<rational{1, 1}>{};  // (the static_assert said why; a scalar stand-in adds no errors)
  else
    return node<ops::expand, V, decltype(shape_witness(Y{}))>{};
}
}  // namespace detail

/// ∂f/∂v for a scalar f: an expression. With several variables, a tuple for structured bindings:
/// `auto [dw, db] = grad(loss, w, b);`. A variable f does not use gets the constant 0
/// (PyTorch's allow_unused=True); grad_strict makes that a compile error.
template <expression F, expression... Vars>
constexpr auto grad(F, Vars...) {
  detail::check_variables<Vars...>();
  static_assert(F::rank == 0,
                "kobai::grad: the function must be a scalar (rank 0); reduce it with sum/mean, or use "
                "vjp(y, x, v) with a seed v of y's shape");
  return detail::adjoints_of<F, constant<rational{1, 1}>, Vars...>();
}

/// grad, but a variable the function does not use is a compile error (allow_unused=False).
template <expression F, expression... Vars>
constexpr auto grad_strict(F f, Vars... vars) {
  detail::check_variables<Vars...>();
  static_assert((depends_on<F, Vars> && ...),
                "kobai::grad_strict: the function does not use one of these variables (allow_unused=False); "
                "use grad() to get a zero gradient for it");
  return grad(f, vars...);
}

/// vᵀ·∂y/∂x: the vector-Jacobian product with seed v, PyTorch's autograd.grad(y, x, grad_outputs=v)
/// and y.backward(v). v has y's shape, or is a scalar that broadcasts. For several variables pass a
/// tuple, `vjp(y, std::tuple{a, b}, v)`, and get a tuple back.
template <expression Y, expression X, expression V>
constexpr auto vjp(Y, X, V) {
  detail::check_variables<X>();
  return detail::adjoints_of<Y, decltype(detail::seed_for<Y>(V{})), X>();
}
template <expression Y, expression... Xs, expression V>
constexpr auto vjp(Y, std::tuple<Xs...>, V) {
  detail::check_variables<Xs...>();
  using seed = decltype(detail::seed_for<Y>(V{}));
  if constexpr (sizeof...(Xs) == 1)
    return std::tuple{detail::adjoints_of<Y, seed, Xs...>()};
  else
    return detail::adjoints_of<Y, seed, Xs...>();
}

}  // namespace kobai
