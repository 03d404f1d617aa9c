// Shape and linear-algebra ops: unsqueeze, transpose, dot and matmul. A matrix product is written
// with the primitives, Σₖ a[…, i, k, 1]·b[…, 1, k, j], so it fuses into the loops around it and
// its derivatives (dA = g·Bᵀ, dB = Aᵀ·g) come from the broadcasting and reduction rules.
#pragma once

#include "kobai/expr/reductions.hpp"

namespace kobai {

/// x with a new axis of extent 1 at position P (negative counts from the end of the result), as
/// NumPy's x[:, None] or torch.unsqueeze. Broadcasting an (n, 1) against a (1, m) gives (n, m).
template <int P, expression A>
constexpr auto unsqueeze(A a) {
  static_assert(P >= -(A::rank + 1) && P <= A::rank,
                "kobai::unsqueeze: the new axis must lie within the result's rank (0 to rank, or negative)");
  static_assert(A::rank < 31, "kobai::unsqueeze: at most 31 axes");
  return detail::make_node<ops::unsqueeze<(P < 0 ? P + A::rank + 1 : P)>>(a);
}

/// x's elements in row-major order as a vector (torch.flatten); a vector is its own flattening.
template <expression A>
constexpr auto flatten(A a) {
  if constexpr (A::rank == 1 && A::units == 0)
    return a;
  else if constexpr (A::rank == 0)
    return unsqueeze<0>(a);
  else
    return detail::make_node<ops::flatten>(a);
}

/// x's elements in row-major order, in the shape of `like` (torch.reshape_as; like's values are not
/// read). The element counts are checked when the program is called.
template <expression A, expression Like>
constexpr auto reshape_as(A a, Like like) {
  static_assert(Like::rank >= 1,
                "kobai::reshape_as: the target shape needs at least one axis; sum() turns a one-element tensor "
                "into a scalar");
  if constexpr (same_structure<A, Like> && std::is_same_v<A, Like>)
    return a;
  else if constexpr (A::rank == 0)
    return reshape_as(unsqueeze<0>(a), like);  // a one-element shape
  else
    return detail::make_node<ops::reshape>(a, detail::shape_witness(like));
}

/// x's elements in row-major order, in the shape given by the numbers Extents, one of which may be
/// −1 for the count the others leave: reshape<-1, 3>(points) (torch's x.reshape(-1, 3)). An extent
/// of 1 is an axis that broadcasts. The element counts are checked when the program is called.
template <std::int64_t... Extents, expression A>
constexpr auto reshape(A a) {
  static_assert(sizeof...(Extents) >= 1 && sizeof...(Extents) <= 8,
                "kobai::reshape<E...>: give the new shape's extents, one to eight of them");
  static_assert(((Extents > 0 || Extents == -1) && ...),
                "kobai::reshape<E...>: extents are positive, or -1 for the count the others leave");
  static_assert(((Extents == -1 ? 1 : 0) + ...) <= 1, "kobai::reshape<E...>: at most one extent may be -1");
  if constexpr (A::rank == 0)
    return reshape<Extents...>(unsqueeze<0>(a));  // a one-element shape
  else
    return detail::make_node<ops::reshape_to<Extents...>>(a);
}

/// x with its last two axes swapped (x.mT); a vector or a scalar is its own transpose.
template <expression A>
constexpr auto transpose(A a) {
  if constexpr (A::rank < 2)
    return a;
  else if constexpr (requires { []<class X>(node<ops::transpose, X>) {}(a); })
    return []<class X>(node<ops::transpose, X>) { return X{}; }(a);  // (xᵀ)ᵀ = x
  else
    return detail::make_node<ops::transpose>(a);
}

/// a·b = Σᵢ aᵢbᵢ for two vectors of the same length.  ∂/∂a = b, ∂/∂b = a. It is one accumulator
/// in the loop over the elements.
template <expression A, expression B>
constexpr auto dot(A a, B b) {
  static_assert(A::rank == 1 && B::rank == 1,
                "kobai::dot: takes two vectors (rank 1) of the same length; use matmul for matrices");
  return sum(a * b);
}

/// The matrix product with NumPy's rules: vector·vector is the dot product, matrix·vector and
/// vector·matrix drop the vector's axis, and operands of rank > 2 are stacks of matrices whose
/// leading axes broadcast.  For z = a·b: ∂/∂a = g·bᵀ, ∂/∂b = aᵀ·g.
template <expression A, expression B>
constexpr auto matmul(A a, B b) {
  static_assert(A::rank >= 1 && B::rank >= 1, "kobai::matmul: both operands need at least one axis; use * for scalars");
  if constexpr (A::rank == 1 && B::rank == 1) {
    return dot(a, b);
  } else if constexpr (B::rank == 1) {  // (…, n, k)·(k) → (…, n)
    return sum<-1>(a * b);
  } else if constexpr (A::rank == 1) {  // (k)·(…, k, m) → (…, m)
    return sum<-2>(unsqueeze<-1>(a) * b);
  } else {  // (…, n, k)·(…, k, m) → (…, n, m)
    return sum<-2>(unsqueeze<-1>(a) * unsqueeze<-3>(b));
  }
}

}  // namespace kobai
