// Reductions over every element (sum, mean, max, min, logsumexp, dot) and numel. The adjoint of
// a reduction broadcasts back over the elements.
#pragma once

#include "kobai/expr/graph.hpp"
#include "kobai/expr/operators.hpp"

namespace kobai {

namespace detail {

// A product splits into its scalar factors and its tensor factors.
template <class E>
constexpr auto scalar_factors(E e) {
  if constexpr (E::rank == 0)
    return e;
  else if constexpr (is_product<E>)
    return
        [&]<class P, class Q>(node<ops::mul, P, Q>) { return make_mul(scalar_factors(P{}), scalar_factors(Q{})); }(e);
  else
    return literal<1>;
}
template <class E>
constexpr auto tensor_factors(E e) {
  if constexpr (E::rank == 0)
    return literal<1>;
  else if constexpr (is_product<E>)
    return
        [&]<class P, class Q>(node<ops::mul, P, Q>) { return make_mul(tensor_factors(P{}), tensor_factors(Q{})); }(e);
  else
    return e;
}

}  // namespace detail

/// Σᵢ xᵢ, a scalar.  ∂/∂xᵢ = 1. The sum of a scalar is the scalar, and scalar factors move
/// out, sum(c·x) = c·sum(x), so a loop does the least work per element.
template <expression A>
constexpr auto sum(A a) {
  if constexpr (A::rank == 0)
    return a;
  else if constexpr (detail::is_product<A>)
    return detail::make_mul(detail::scalar_factors(a), detail::make_node<ops::sum>(detail::tensor_factors(a)));
  else
    return detail::make_node<ops::sum>(a);
}

namespace detail {
template <class E>
struct has_extent_t : std::bool_constant<(E::rank > 0)> {};
template <class... Leaves>
constexpr auto numel_of_leaves(type_list<Leaves...>) {
  return make_node<ops::numel>(Leaves{}...);
}
}  // namespace detail

/// The number of elements of x, known at run time once x's leaves are bound; 1 for a scalar. It
/// depends only on the shapes of x's tensor leaves, so it is stored as numel of those leaves.
template <expression A>
constexpr auto numel(A) {
  if constexpr (A::rank == 0)
    return literal<1>;
  else
    return detail::numel_of_leaves(typename detail::filter<detail::has_extent_t, leaves_of<A>>::type{});
}

namespace detail {
template <class Op, class A>
constexpr auto reduce_all(A a) {  // the reduction of a scalar is the scalar
  if constexpr (A::rank == 0)
    return a;
  else
    return make_node<Op>(a);
}
}  // namespace detail

/// The largest element of x, a scalar; NaN if any element is NaN.  ∂/∂xᵢ = [xᵢ = max]/#ties
/// (torch.amax). max(a, b) with two arguments is the elementwise maximum.
template <expression A>
constexpr auto max(A a) {
  return detail::reduce_all<ops::amax>(a);
}

/// The smallest element of x, a scalar; NaN if any element is NaN.  ∂/∂xᵢ = [xᵢ = min]/#ties.
template <expression A>
constexpr auto min(A a) {
  return detail::reduce_all<ops::amin>(a);
}

/// log Σᵢ exp(xᵢ), computed as m + log Σᵢ exp(xᵢ − m) with m = max(x) detached, so it neither
/// overflows nor underflows.  ∂/∂xᵢ = exp(xᵢ − logsumexp(x)), the softmax.
template <expression A>
constexpr auto logsumexp(A a) {
  if constexpr (A::rank == 0) {
    return a;
  } else {
    constexpr auto shift = detach(max(a));
    return shift + log(sum(exp(a - shift)));
  }
}

/// a·b = Σᵢ aᵢbᵢ for two vectors of the same length (matmul of two 1-D operands).
/// ∂/∂a = b, ∂/∂b = a. It is one accumulator in the loop over the elements.
template <expression A, expression B>
constexpr auto dot(A a, B b) {
  static_assert(A::rank == 1 && B::rank == 1,
                "kobai::dot: takes two vectors (rank 1) of the same length; matrix products arrive with "
                "broadcasting between tensors of different shapes");
  return sum(a * b);
}

/// (1/n)·Σᵢ xᵢ with n = numel(x).  ∂/∂xᵢ = 1/n.
template <expression A>
constexpr auto mean(A a) {
  return sum(a) / numel(a);
}

}  // namespace kobai
