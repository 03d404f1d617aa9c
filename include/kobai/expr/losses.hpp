// Loss functions as ordinary compositions, in numerically stable forms; they differentiate like
// any other expression.
#pragma once

#include "kobai/expr/indices.hpp"
#include "kobai/expr/linalg.hpp"
#include "kobai/expr/reductions.hpp"

namespace kobai {

/// Mean squared error, PyTorch's MSELoss: mean((p − t)²).  ∂/∂pᵢ = 2(pᵢ − tᵢ)/n.
template <expression P, expression T>
constexpr auto mse(P prediction, T target) {
  return mean(pow<2>(prediction - target));
}

/// Binary cross-entropy on logits z with targets y ∈ [0, 1], PyTorch's BCEWithLogitsLoss:
/// mean(softplus(z) − z·y), where softplus(z) is computed as max(z, 0) + log1p(e^−|z|), stable
/// for any z.  ∂/∂zᵢ = (σ(zᵢ) − yᵢ)/n, exact at z = 0 too (writing the max and |z| as ops would
/// give their subgradients there, −yᵢ/n, wrong for a model started from zero weights).
template <expression Z, expression Y>
constexpr auto bce_with_logits(Z logits, Y target) {
  return mean(softplus(logits) - logits * target);
}

/// Cross-entropy on logits z (the last axis holds the classes), PyTorch's CrossEntropyLoss, with
/// either target:
/// - probabilities y of the same shape (one-hot rows for class labels): the mean over samples of
///   logsumexp(zᵢ)·Σⱼ yᵢⱼ − Σⱼ yᵢⱼ·zᵢⱼ, which is −Σⱼ yᵢⱼ·log softmax(zᵢ)ⱼ when each row of y sums to
///   1.  ∂/∂zᵢⱼ = (softmax(zᵢ)ⱼ·Σₖ yᵢₖ − yᵢⱼ)/n;
/// - class indices y with one axis fewer (an integer leaf, input<"y", 1, std::int64_t>, or
///   indices computed as values): the mean of logsumexp(zᵢ) − zᵢ,yᵢ.  ∂/∂zᵢⱼ = (softmax(zᵢ)ⱼ − [j = yᵢ])/n.
///   An integer leaf's labels outside [0, C) are a kobai::error naming it, checked once per call.
template <expression Z, expression Y>
constexpr auto cross_entropy(Z logits, Y target) {
  static_assert(Z::rank >= 1, "kobai::cross_entropy: the logits need a class axis (the last)");
  static_assert(Y::rank == Z::rank || Y::rank + 1 == Z::rank,
                "kobai::cross_entropy(logits, target): the target is probabilities of the logits' shape, or class "
                "indices with one axis fewer (the class axis)");
  if constexpr (Y::rank == Z::rank)
    return mean(logsumexp<-1>(logits) * sum<-1>(target) - sum<-1>(target * logits));
  else
    return mean(logsumexp<-1>(logits) - sum<-1>(where(one_hot(target, logits), logits, literal<0>)));
}

}  // namespace kobai
