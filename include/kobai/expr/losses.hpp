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
/// - class indices: an integer leaf y with one axis fewer (input<"y", 1, std::int64_t>), the mean
///   of logsumexp(zᵢ) − zᵢ,yᵢ.  ∂/∂zᵢⱼ = (softmax(zᵢ)ⱼ − [j = yᵢ])/n. Labels outside [0, C) are a
///   kobai::binding_error naming the leaf, checked once per call. (Indices held as values of the
///   element type, argmax's, go through one_hot: cross_entropy(z, one_hot(y, z)). A target of
///   another shape broadcasts as probabilities, as before.)
template <expression Z, expression Y>
constexpr auto cross_entropy(Z logits, Y target) {
  static_assert(Z::rank >= 1, "kobai::cross_entropy: the logits need a class axis (the last)");
  if constexpr (detail::is_integer_leaf<Y>) {
    static_assert(Y::rank + 1 == Z::rank,
                  "kobai::cross_entropy(logits, labels): integer class labels have one axis fewer than the logits "
                  "(the class axis)");
    return mean(logsumexp<-1>(logits) - sum<-1>(where(one_hot(target, logits), logits, literal<0>)));
  } else {
    return mean(logsumexp<-1>(logits) * sum<-1>(target) - sum<-1>(target * logits));
  }
}

}  // namespace kobai
