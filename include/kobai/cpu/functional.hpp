// Jacobians and Hessians of tensor functions at a point, on the CPU executor: one VJP per row
// with a one-hot seed, as torch.autograd.functional.jacobian does.
#pragma once

#include <tuple>

#include "kobai/cpu/program.hpp"
#include "kobai/diff/functional.hpp"

namespace kobai {
namespace detail {

inline constexpr fixed_string seed_name = "kobai.seed";  // a name user code cannot collide with by accident

template <class V>
std::size_t element_count(const V& value) {
  if constexpr (std::is_arithmetic_v<V>)
    return 1;
  else
    return value.size();
}

}  // namespace detail

/// ∂y/∂x at a point as a (numel(y) × numel(x)) matrix, row i = vjp(y, x, eᵢ); y and x of any rank,
/// flattened row-major. PyTorch's torch.autograd.functional.jacobian.
template <expression Y, expression X, class... Bindings>
auto jacobian(Y y, X x, Bindings... bindings) {
  detail::check_variables<X>();
  // (from the bindings the program uses: the others are ignored, whatever they hold)
  using T = typename detail::element_type_of<detail::used_binding_types<leaves_of<Y, X>, Bindings...>>::type;
  const auto value = compile(y)(bindings...);
  const environment<Bindings...> point{std::tuple<Bindings...>{bindings...}};
  const std::size_t rows = detail::element_count(value);
  const std::size_t columns = detail::element_count(point.template get<X::name>());
  xt::xtensor<T, 2> result = xt::zeros<T>(std::array<std::size_t, 2>{rows, columns});
  constexpr auto seed = leaf<detail::seed_name, Y::rank, role::data>{};
  const auto row = vjp(y, x, seed);
  if constexpr (!detail::is_zero_valued<decltype(row)>) {
    const auto program = compile(row);
    auto store = [&](std::size_t i, const auto& gradient) {
      if constexpr (X::rank == 0)
        result(i, 0) = gradient;
      else
        std::copy(gradient.begin(), gradient.end(), result.data() + i * columns);
    };
    if constexpr (Y::rank == 0) {
      store(0, program(bindings..., seed = T(1)));
    } else {
      auto one_hot = xt::xtensor<T, Y::rank>(xt::zeros<T>(value.shape()));
      for (std::size_t i = 0; i < rows; ++i) {
        one_hot.data()[i] = 1;
        store(i, program(bindings..., seed = one_hot));
        one_hot.data()[i] = 0;
      }
    }
  }
  return result;
}

/// The Hessian of a scalar f in the (tensor) variable x at a point: numel(x) × numel(x), the
/// Jacobian of ∂f/∂x. PyTorch's torch.autograd.functional.hessian.
template <expression F, expression X, class... Bindings>
    auto hessian(F f, X x, Bindings... bindings) requires(detail::is_binding<Bindings>&&...) &&
    (sizeof...(Bindings) > 0) {
  static_assert(F::rank == 0, "kobai::hessian: the function must be a scalar");
  return jacobian(grad(f, x), x, bindings...);
}

}  // namespace kobai
