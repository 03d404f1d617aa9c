// gradcheck: symbolic gradients against central finite differences in float64, also at compile time.
#pragma once

#include "kobai/diff/grad.hpp"
#include "kobai/expr/environment.hpp"

namespace kobai {

/// The worst disagreement between symbolic gradients and central differences over the checked
/// variables. relative = |g − fd| / max(|g|, |fd|) (0 when both are 0).
struct gradcheck_result {
  double max_abs_error = 0;
  double max_rel_error = 0;
  int variables_checked = 0;
  bool within_tolerance = true;

  /// PyTorch's criterion: |g − fd| ≤ atol + rtol·|fd| for every variable.
  [[nodiscard]] constexpr bool passed() const { return within_tolerance && variables_checked > 0; }
};

namespace detail {

constexpr double magnitude(double x) { return x < 0 ? -x : x; }

/// Compares a symbolic derivative with the central difference (f(x + h) − f(x − h))/2h of
/// `value_at`, h = step·max(1, |x|), and folds the disagreement into `result`. The one finite
/// difference of both gradchecks: this scalar one, and the tensor one of cpu/gradcheck.hpp.
template <class ValueAt>
constexpr void compare_central(double symbolic, double x, ValueAt value_at, double step, double rtol, double atol,
                               gradcheck_result& result) {
  const double h = step * (magnitude(x) > 1 ? magnitude(x) : 1.0);
  const double up = value_at(x + h);
  const double down = value_at(x - h);
  const double numeric = (up - down) / (2 * h);
  const double error = magnitude(symbolic - numeric);
  const double scale = magnitude(symbolic) > magnitude(numeric) ? magnitude(symbolic) : magnitude(numeric);
  result.max_abs_error = error > result.max_abs_error ? error : result.max_abs_error;
  const double relative = scale == 0 ? 0.0 : error / scale;
  result.max_rel_error = relative > result.max_rel_error ? relative : result.max_rel_error;
  result.within_tolerance = result.within_tolerance && error <= atol + rtol * magnitude(numeric);
}

template <class Leaf, class F, class Point>
constexpr void check_variable(F f, const Point& point, double step, double rtol, double atol,
                              gradcheck_result& result) {
  if constexpr (is_var<Leaf>) {
    Point shifted = point;
    const auto value_at = [&](double v) {
      shifted.template get<Leaf::name>() = v;
      return static_cast<double>(eval(f, shifted));
    };
    compare_central(eval(grad(f, Leaf{}), point), static_cast<double>(point.template get<Leaf::name>()), value_at, step,
                    rtol, atol, result);
    ++result.variables_checked;
  }
}

}  // namespace detail

/// Checks ∂f/∂v for every var<> of the scalar f at `point` (bound as doubles) against central
/// differences with step h = step·max(1, |v|). A constant expression when the point is one:
/// `static_assert(gradcheck(sin(x) * x, at(x = 0.5)).passed());`
template <expression F, class... Bindings>
constexpr gradcheck_result gradcheck(F f, const environment<Bindings...>& point, double step = 1e-6, double rtol = 1e-6,
                                     double atol = 1e-8) {
  static_assert(F::rank == 0,
                "kobai::gradcheck: at(...) checks functions of scalars; for tensors, include kobai/cpu/gradcheck.hpp "
                "and call gradcheck(f, x = X, ...)");
  gradcheck_result result;
  [&]<class... Leaves>(type_list<Leaves...>) {
    (detail::check_variable<Leaves>(f, point, step, rtol, atol, result), ...);
  }(leaves_of<F>{});
  return result;
}

}  // namespace kobai
