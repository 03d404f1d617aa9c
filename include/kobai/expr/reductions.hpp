// Reductions over every element or along axes (sum, mean, max, min, logsumexp, softmax) and
// numel. The adjoint of a reduction broadcasts back over the folded axes.
#pragma once

#include <bit>
#include <cstdint>
#include <type_traits>

#include "kobai/expr/graph.hpp"
#include "kobai/expr/operators.hpp"
#include "kobai/expr/shape.hpp"

namespace kobai {

/// Tag asking a reduction to keep the folded axes as axes of extent 1: sum<1>(x, keepdims).
struct keepdims_t {};
inline constexpr keepdims_t keepdims{};

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

/// The bit mask of the axes named by `Axes` (negative counts from the end, as in NumPy) for a
/// tensor of rank `Rank`; every axis when none is named.
template <int Rank, int... Axes>
constexpr std::uint32_t axes_mask() {
  static_assert(((Axes >= -Rank && Axes < Rank) && ...),
                "kobai: a reduction axis is out of range for the tensor's rank (axes count from 0, or from -1 "
                "for the last)");
  if constexpr (sizeof...(Axes) == 0) {
    return ops::all_axes;
  } else {
    constexpr std::uint32_t mask = ((1U << (Axes < 0 ? Axes + Rank : Axes)) | ...);
    static_assert(std::popcount(mask) == sizeof...(Axes), "kobai: a reduction names the same axis twice");
    return mask == (1U << Rank) - 1U ? ops::all_axes : mask;
  }
}

template <class A, class KeptOp>
inline constexpr bool kept_by = false;
template <class X, class KeptOp>
inline constexpr bool kept_by<node<KeptOp, X>, KeptOp> = true;

/// Op folded over the axes in Mask of a, keeping them as units with Keep. Folding nothing, or only
/// units with Keep, changes nothing; a scalar is its own reduction.
template <template <std::uint32_t, bool> class Op, std::uint32_t Mask, bool Keep, class A>
constexpr auto make_reduction(A a) {
  constexpr std::uint32_t every = A::rank >= 32 ? ops::all_axes : (1U << A::rank) - 1U;
  constexpr std::uint32_t mask = Mask & every;
  constexpr std::uint32_t axes = mask == every ? ops::all_axes : mask;
  if constexpr (A::rank == 0 || mask == 0 || (Keep && (mask & ~A::units) == 0))
    return a;
  else if constexpr (is_shaped_constant<A>)  // c at every element: the extreme is c, the sum of 0s is 0,
    return []<class Like>(node<ops::expand, constant<constant_value<A>>, Like>) {  // the product of 1s or 0s too
      using folded = node<Op<axes, Keep>, Like>;
      constexpr bool sum = std::is_same_v<Op<axes, Keep>, ops::sum_over<axes, Keep>>;
      constexpr bool product = std::is_same_v<Op<axes, Keep>, ops::product_over<axes, Keep>>;
      constexpr rational c = constant_value<A>;
      if constexpr ((!sum && !product) || c == rational{} || (product && c == rational{1, 1}))
        return constant_like<c>(folded{});
      else
        return make_node<Op<axes, Keep>>(A{});
    }(a);
  else if constexpr (!Keep && kept_by<A, Op<axes, true>>)  // folding with keepdims, then dropping
    return []<class X>(node<Op<axes, true>, X>) {          // those axes: one reduction without
      return make_node<Op<axes, false>>(X{});              // keepdims
    }(a);
  else
    return make_node<Op<axes, Keep>>(a);
}

template <std::uint32_t Mask, bool Keep>
using sum_op = ops::sum_over<Mask, Keep>;
template <std::uint32_t Mask, bool Keep>
using prod_op = ops::product_over<Mask, Keep>;
template <std::uint32_t Mask, bool Keep>
using max_op = ops::extremum<true, Mask, Keep>;
template <std::uint32_t Mask, bool Keep>
using min_op = ops::extremum<false, Mask, Keep>;

/// The axes of a rank-Rank tensor that Mask names, as bits (Mask may be ops::all_axes).
template <std::uint32_t Mask, int Rank>
inline constexpr std::uint32_t named_axes = Mask&(Rank >= 32 ? ops::all_axes : (1U << Rank) - 1U);

/// A tensor factor of the product E that is unsqueeze<P>(F), with P among the axes in Mask: F
/// is constant along P, so Σ_P F·rest = F·Σ_P rest. Both F and the rest keep the product's rank
/// Rank (F with axis P less), so that they broadcast as before once P is folded.
struct no_factor {
  static constexpr bool found = false;
};
template <int P, class F, class Rest>
struct factor_found {
  static constexpr bool found = true;
  static constexpr int axis = P;
  using factor = F;
  using rest = Rest;
};
template <std::uint32_t Mask, int Rank, class E>
constexpr no_factor broadcast_factor(E) {
  return {};
}
template <std::uint32_t Mask, int Rank, int P, class F>
constexpr auto broadcast_factor(node<ops::unsqueeze<P>, F>) {
  if constexpr (((Mask >> P) & 1U) != 0 && F::rank == Rank - 1)
    return factor_found<P, F, constant<rational{1, 1}>>{};
  else
    return no_factor{};
}
template <std::uint32_t Mask, int Rank, class A, class B>
constexpr auto broadcast_factor(node<ops::mul, A, B>) {
  using in_a = decltype(broadcast_factor<Mask, Rank>(A{}));
  using side = std::conditional_t<in_a::found, in_a, decltype(broadcast_factor<Mask, Rank>(B{}))>;
  if constexpr (!side::found) {
    return no_factor{};
  } else {
    using rest = decltype(make_mul(typename side::rest{}, std::conditional_t<in_a::found, B, A>{}));
    if constexpr (rest::rank == Rank)
      return factor_found<side::axis, typename side::factor, rest>{};
    else
      return no_factor{};
  }
}
template <std::uint32_t Mask, class A>
inline constexpr bool has_broadcast_factor = is_product<A>&& decltype(broadcast_factor<Mask, A::rank>(A{}))::found;

template <class A>
inline constexpr bool is_unsqueezed = false;
template <int Q, class X>
inline constexpr bool is_unsqueezed<node<ops::unsqueeze<Q>, X>> = true;

template <class A>
inline constexpr bool is_folded_sum = false;
template <std::uint32_t Inner, class X>
inline constexpr bool is_folded_sum<node<ops::sum_over<Inner, false>, X>> = true;

/// Mask with axis P taken out and the axes after it renumbered (the mask once P is folded).
constexpr std::uint32_t without_axis(std::uint32_t mask, int p) {
  const std::uint32_t below = (1U << p) - 1U;
  return (mask & below) | ((mask >> (p + 1)) << p);
}
/// The axes of a sum<Inner>'s argument that an outer fold over Outer of the sum's result names,
/// with Inner's own: Σ_Outer Σ_Inner x = Σ_(both) x.
constexpr std::uint32_t merged_axes(std::uint32_t inner, std::uint32_t outer, int rank) {
  std::uint32_t merged = inner;
  for (int q = 0, p = 0; q < rank; ++q)
    if (((inner >> q) & 1U) == 0 && ((outer >> p++) & 1U) != 0) merged |= 1U << q;
  return merged;
}

template <std::uint32_t Mask, bool Keep, class A>
constexpr auto sum_axes(A a);

/// Σ over the axes in Mask (bits, not ops::all_axes) of a product with a factor constant along one
/// of them: that factor moves out of the fold over its axis, Σ_P (F·R) = F·Σ_P R, so a loop over P
/// no longer multiplies by it (Σ_n Σ_d Q[k,d,e]·g[n,k,d] = Σ_d Q[k,d,e]·Σ_n g[n,k,d], the gradient
/// of a mean shared by every row).
template <std::uint32_t Mask, class A>
constexpr auto sum_pulling_out(A) {
  using found = decltype(broadcast_factor<Mask, A::rank>(A{}));
  constexpr int p = found::axis;
  const auto folded = make_mul(typename found::factor{}, sum_axes<1U << p, false>(typename found::rest{}));
  constexpr std::uint32_t others = without_axis(Mask, p);
  if constexpr (others == 0)
    return folded;
  else
    return sum_axes<others, false>(folded);
}

/// Σ over the axes in Mask; scalar factors move out, sum(c·x) = c·sum(x), and so do tensor
/// factors broadcast along the one folded axis (above), or along one of the axes of a sum folded
/// again (Σ_A Σ_B x as one fold over both, where that frees a factor), so a loop does the least
/// work per element. (Not out of one fold over several axes: Σ_ij c_i·W_ij·c_j as Σ_i c_i·Σ_j
/// W_ij·c_j would need a loop more, and where the program also folds W along i alone, a pass more
/// over W.)
template <std::uint32_t Mask, bool Keep, class A>
constexpr auto sum_axes(A a) {
  constexpr std::uint32_t axes = named_axes<Mask, A::rank>;
  if constexpr (A::rank > 0 && is_product<A> && !is_one<decltype(scalar_factors(a))>) {
    return make_mul(scalar_factors(a), sum_axes<Mask, Keep>(tensor_factors(a)));
  } else if constexpr (!Keep && std::has_single_bit(axes) && has_broadcast_factor<axes, A>) {
    return sum_pulling_out<axes>(a);
  } else if constexpr (!Keep && axes != 0 && is_unsqueezed<A>) {
    return []<int Q, class X>(node<ops::unsqueeze<Q>, X>) {  // Σ over a unit axis drops it
      constexpr std::uint32_t rest = without_axis(axes, Q);
      constexpr int moved = Q - std::popcount(axes & ((1U << Q) - 1U));
      if constexpr (((axes >> Q) & 1U) != 0)
        return sum_axes<rest, false>(X{});
      else
        return make_node<ops::unsqueeze<moved>>(sum_axes<rest, false>(X{}));
    }(a);
  } else if constexpr (!Keep && axes != 0 && is_folded_sum<A>) {
    return []<std::uint32_t Inner, class X>(node<ops::sum_over<Inner, false>, X> inner) {
      constexpr std::uint32_t merged = merged_axes(named_axes<Inner, X::rank>, axes, X::rank);
      if constexpr (has_broadcast_factor<merged, X>)
        return sum_pulling_out<merged>(X{});
      else
        return make_reduction<sum_op, Mask, Keep>(inner);
    }(a);
  } else {
    return make_reduction<sum_op, Mask, Keep>(a);
  }
}

}  // namespace detail

/// Σ xᵢ over the given axes, every axis by default (a scalar): sum(x), sum<1>(X), sum<0>(X,
/// keepdims).  ∂/∂xᵢ = 1.
template <int... Axes, expression A>
constexpr auto sum(A a) {
  return detail::sum_axes<detail::axes_mask<A::rank, Axes...>(), false>(a);
}
template <int... Axes, expression A>
constexpr auto sum(A a, keepdims_t) {
  return detail::sum_axes<detail::axes_mask<A::rank, Axes...>(), true>(a);
}

/// Π xᵢ over the given axes, every axis by default (torch.prod): prod(x), prod<1>(X),
/// prod<0>(X, keepdims).  ∂/∂xᵢ = Π_{j≠i} xⱼ, exact at zeros too.
template <int... Axes, expression A>
constexpr auto prod(A a) {
  return detail::make_reduction<detail::prod_op, detail::axes_mask<A::rank, Axes...>(), false>(a);
}
template <int... Axes, expression A>
constexpr auto prod(A a, keepdims_t) {
  return detail::make_reduction<detail::prod_op, detail::axes_mask<A::rank, Axes...>(), true>(a);
}

/// The number of elements of x, known at run time once x's leaves are bound; 1 for a scalar.
template <expression A>
constexpr auto numel(A a) {
  if constexpr (A::rank == 0)
    return literal<1>;
  else
    return detail::make_node<ops::numel>(detail::shape_witness(a));
}

/// The largest element over the given axes (every axis by default); NaN if any element is NaN.
/// ∂/∂xᵢ = [xᵢ = max]/#ties (torch.amax). max(a, b) with two arguments is the elementwise maximum.
template <int... Axes, expression A>
constexpr auto max(A a) {
  return detail::make_reduction<detail::max_op, detail::axes_mask<A::rank, Axes...>(), false>(a);
}
template <int... Axes, expression A>
constexpr auto max(A a, keepdims_t) {
  return detail::make_reduction<detail::max_op, detail::axes_mask<A::rank, Axes...>(), true>(a);
}

/// The smallest element over the given axes; NaN if any element is NaN.  ∂/∂xᵢ = [xᵢ = min]/#ties.
template <int... Axes, expression A>
constexpr auto min(A a) {
  return detail::make_reduction<detail::min_op, detail::axes_mask<A::rank, Axes...>(), false>(a);
}
template <int... Axes, expression A>
constexpr auto min(A a, keepdims_t) {
  return detail::make_reduction<detail::min_op, detail::axes_mask<A::rank, Axes...>(), true>(a);
}

/// The mean over the given axes: the sum divided by the number of elements folded.  ∂/∂xᵢ = 1/n.
template <int... Axes, expression A>
constexpr auto mean(A a) {
  const auto total = sum<Axes...>(a);
  if constexpr (sizeof...(Axes) == 0)
    return total / numel(a);
  else
    return total * numel(total) / numel(a);
}
template <int... Axes, expression A>
constexpr auto mean(A a, keepdims_t) {
  const auto total = sum<Axes...>(a, keepdims);
  return total * numel(total) / numel(a);
}

/// log Σ exp(xᵢ) over the given axes, computed as m + log Σ exp(xᵢ − m) with m = max(x) detached,
/// so it neither overflows nor underflows.  ∂/∂xᵢ = exp(xᵢ − logsumexp(x)), the softmax.
template <int... Axes, expression A>
constexpr auto logsumexp(A a, keepdims_t) {
  if constexpr (A::rank == 0) {
    return a;
  } else {
    constexpr auto shift = detach(max<Axes...>(a, keepdims));
    return shift + log(sum<Axes...>(exp(a - shift), keepdims));
  }
}
template <int... Axes, expression A>
constexpr auto logsumexp(A a) {
  if constexpr (A::rank == 0) {
    return a;
  } else if constexpr (sizeof...(Axes) == 0) {
    constexpr auto shift = detach(max(a));
    return shift + log(sum(exp(a - shift)));
  } else {  // the kept shift, with its unit axes folded away
    constexpr auto kept = logsumexp<Axes...>(a, keepdims);
    return detail::make_reduction<detail::sum_op, detail::axes_mask<A::rank, Axes...>(), false>(kept);
  }
}

/// softmax over the given axes (the last by default): exp(x − logsumexp(x)).
template <int... Axes, expression A>
constexpr auto softmax(A a) {
  if constexpr (sizeof...(Axes) == 0)
    return exp(a - logsumexp<-1>(a, keepdims));
  else
    return exp(a - logsumexp<Axes...>(a, keepdims));
}

}  // namespace kobai
