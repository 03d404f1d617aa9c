// Symbolic Hessians and Hessian-vector products: the reverse pass applied twice.
#pragma once

#include <tuple>

#include "kobai/diff/grad.hpp"

namespace kobai {

/// H·v for a scalar f, without forming H: vjp(∂f/∂x, x, v), since H is symmetric. v has x's
/// shape. PyTorch's torch.autograd.functional.hvp.
template <expression F, expression X, expression V>
constexpr auto hvp(F f, X x, V v) {
  static_assert(V::rank == X::rank || V::rank == 0, "kobai::hvp: v must have the variable's rank (or be a scalar)");
  return vjp(grad(f, x), x, v);
}

/// The Hessian of a scalar f in scalar variables, as nested tuples of expressions:
/// std::get<i>(std::get<j>(hessian(f, x, y))) = ∂²f/∂xⱼ∂xᵢ. Tensor variables: kobai::cpu's hessian.
template <expression F, expression... Vars>
constexpr auto hessian(F f, Vars... vars) {
  static_assert(((Vars::rank == 0) && ...),
                "kobai::hessian: symbolic Hessians take scalar variables; for a tensor variable use the run-time "
                "hessian(f, x, bindings...) from <kobai/cpu/functional.hpp>");
  if constexpr (((Vars::rank == 0) && ...)) {
    auto row = [&](auto var) {
      if constexpr (sizeof...(Vars) == 1)
        return std::tuple{grad(grad(f, var), vars...)};
      else
        return grad(grad(f, var), vars...);
    };
    return std::tuple{row(vars)...};
  } else {
    return std::tuple<>{};  // (the static_assert said why; nothing more fails)
  }
}

}  // namespace kobai
