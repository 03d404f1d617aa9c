// gradcheck for tensors: every element of every var<> against central differences in float64,
// running the function as a compiled CPU program.
#pragma once

#include <cmath>

#include "kobai/cpu/program.hpp"
#include "kobai/diff/gradcheck.hpp"

namespace kobai {
namespace detail {

// The bindings with the one named like Var replaced by `value`.
template <class Var, class Value, class Program, class... Bindings>
double evaluate_with(const Program& program, const Value& value, const Bindings&... bindings) {
  auto pick = [&]<class B>(const B& bound) {
    if constexpr (B::name.view() == Var::name.view())
      return Var{} = value;
    else
      return bound;
  };
  return static_cast<double>(program(pick(bindings)...));
}

template <class Var, class F, class... Bindings>
void check_tensor_variable(F f, gradcheck_result& result, double step, double rtol, double atol,
                           const Bindings&... bindings) {
  if constexpr (is_var<Var>) {
    const auto symbolic = compile(grad(f, Var{}))(bindings...);
    const auto function = compile(f);
    auto original = environment<Bindings...>{std::tuple<Bindings...>{bindings...}}.template get<Var::name>();
    using value_type = std::remove_cvref_t<decltype(original)>;
    value_type shifted = original;
    auto check = [&](double analytic, auto& slot, double x) {
      const auto value_at = [&](double v) {
        slot = static_cast<std::remove_reference_t<decltype(slot)>>(v);
        const double y = evaluate_with<Var>(function, shifted, bindings...);
        slot = static_cast<std::remove_reference_t<decltype(slot)>>(x);
        return y;
      };
      compare_central(analytic, x, value_at, step, rtol, atol, result);
    };
    if constexpr (Var::rank == 0) {
      check(static_cast<double>(symbolic), shifted, original);
    } else {
      for (std::size_t j = 0; j < shifted.size(); ++j) check(symbolic.data()[j], shifted.data()[j], original.data()[j]);
    }
    ++result.variables_checked;
  }
}

}  // namespace detail

/// Checks ∂f/∂v of a scalar f for every var<> v, element by element, against central differences
/// (step 1e-6·max(1, |vᵢ|)): `gradcheck(mse(w * x + b, t), x = X, t = T, w = 0.5, b = 0.0)`.
/// Bind float64 containers and numbers; the tolerance is PyTorch's |g − fd| ≤ 1e-8 + 1e-6·|fd|.
template <expression F, class Binding, class... Bindings>
requires detail::is_binding<Binding> gradcheck_result gradcheck(F f, Binding first, Bindings... rest) {
  static_assert(F::rank == 0, "kobai::gradcheck: the function must be a scalar; reduce it with sum or mean");
  static_assert(std::is_same_v<typename detail::element_type_t<Binding, Bindings...>::type, double>,
                "kobai::gradcheck: finite differences need float64; bind double containers");
  gradcheck_result result;
  [&]<class... Leaves>(type_list<Leaves...>) {
    (detail::check_tensor_variable<Leaves>(f, result, 1e-6, 1e-6, 1e-8, first, rest...), ...);
  }(leaves_of<F>{});
  return result;
}

}  // namespace kobai
