// The constexpr elementary functions agree with the C library to ~1e-15 relative.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "kobai/core/cmath.hpp"

namespace m = kobai::math::detail;

namespace {

double relative_error(double got, double want) {
  if (got == want) return 0;
  return std::abs(got - want) / std::max(std::abs(want), std::numeric_limits<double>::min());
}

// Worst relative error of `ours` against `reference` on n points spread over [lo, hi].
double worst_error(double (*ours)(double), double (*reference)(double), double lo, double hi, int n = 4001) {
  double worst = 0;
  for (int i = 0; i < n; ++i) {
    const double x = lo + (hi - lo) * i / (n - 1);
    worst = std::max(worst, relative_error(ours(x), reference(x)));
  }
  return worst;
}

}  // namespace

// They are usable in constant expressions on every supported compiler.
static_assert(m::exp(0.0) == 1.0);
static_assert(m::log(1.0) == 0.0);
static_assert(m::sqrt(4.0) == 2.0);
static_assert(m::sin(0.0) == 0.0 && m::cos(0.0) == 1.0);
static_assert(m::erf(0.5) > 0.5204998778130465 - 1e-15 && m::erf(0.5) < 0.5204998778130465 + 1e-15);
static_assert(m::exp(1.0) > 2.718281828459045 - 1e-15 && m::exp(1.0) < 2.718281828459045 + 1e-15);
static_assert(kobai::math::exp(1.0) == m::exp(1.0));  // the dispatcher picks the constexpr path

TEST_CASE("exp, log, expm1 and log1p match libm to 1e-14 relative") {
  CHECK(worst_error(
            m::exp, [](double x) { return std::exp(x); }, -700, 700) < 1e-14);
  CHECK(worst_error(
            m::exp, [](double x) { return std::exp(x); }, -2, 2) < 1e-15);
  CHECK(worst_error(
            m::log, [](double x) { return std::log(x); }, 1e-6, 10) < 1e-14);
  CHECK(worst_error(
            m::log, [](double x) { return std::log(x); }, 1, 1e300) < 1e-14);
  CHECK(worst_error(
            m::expm1, [](double x) { return std::expm1(x); }, -1e-3, 1e-3) < 1e-14);
  CHECK(worst_error(
            m::expm1, [](double x) { return std::expm1(x); }, -5, 5) < 1e-14);
  CHECK(worst_error(
            m::log1p, [](double x) { return std::log1p(x); }, -1e-3, 1e-3) < 1e-14);
  CHECK(worst_error(
            m::log1p, [](double x) { return std::log1p(x); }, -0.99, 100) < 1e-14);
}

TEST_CASE("sin, cos, tan and tanh match libm to 1e-14 relative away from their zeros") {
  // Relative error is taken against max(|f|, 1e-3) so points that land near a zero don't dominate.
  auto check = [](double (*ours)(double), double (*reference)(double), double lo, double hi) {
    double worst = 0;
    for (int i = 0; i < 4001; ++i) {
      const double x = lo + (hi - lo) * i / 4000;
      worst = std::max(worst, std::abs(ours(x) - reference(x)) / std::max(std::abs(reference(x)), 1e-3));
    }
    return worst;
  };
  CHECK(check(
            m::sin, [](double x) { return std::sin(x); }, -50, 50) < 1e-14);
  CHECK(check(
            m::cos, [](double x) { return std::cos(x); }, -50, 50) < 1e-14);
  CHECK(check(
            m::tan, [](double x) { return std::tan(x); }, -1.5, 1.5) < 1e-14);
  CHECK(check(
            m::tanh, [](double x) { return std::tanh(x); }, -25, 25) < 1e-14);
  CHECK(worst_error(
            m::sin, [](double x) { return std::sin(x); }, -0.5, 0.5) < 1e-14);
}

TEST_CASE("sqrt and pow match libm") {
  CHECK(worst_error(
            m::sqrt, [](double x) { return std::sqrt(x); }, 0, 1e6) < 1e-15);
  CHECK(worst_error(
            m::sqrt, [](double x) { return std::sqrt(x); }, 1e-300, 1e-290) < 1e-15);
  for (double a : {0.1, 0.5, 2.0, 3.7, 10.0})
    for (double b : {-3.0, -0.5, 0.3, 2.0, 2.5, 7.0, 100.5, -150.25, 300.0})
      CHECK(relative_error(m::pow(a, b), std::pow(a, b)) < 1e-14);
  for (double a : {-1.0, -2.0, -0.5})  // negative bases with integer exponents, large ones too
    for (double b : {3.0, 64.0, 65.0, 100.0, -7.0}) CHECK(relative_error(m::pow(a, b), std::pow(a, b)) < 1e-14);
  CHECK(std::isnan(m::pow(-2.0, 0.5)));
}

TEST_CASE("erf matches libm to 1e-14 relative, and is odd and saturates") {
  CHECK(worst_error(
            m::erf, [](double x) { return std::erf(x); }, -7, 7) < 1e-14);
  CHECK(worst_error(
            m::erf, [](double x) { return std::erf(x); }, -1e-3, 1e-3) < 1e-15);
  CHECK(m::erf(0.0) == 0.0);
  CHECK(m::erf(30.0) == 1.0);
  CHECK(m::erf(-30.0) == -1.0);
  CHECK(std::isnan(m::erf(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("special values follow IEEE conventions") {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(m::exp(1000.0) == inf);
  CHECK(m::exp(-1000.0) == 0.0);
  CHECK(m::log(0.0) == -inf);
  CHECK(std::isnan(m::log(-1.0)));
  CHECK(std::isnan(m::sqrt(-1.0)));
  CHECK(m::tanh(100.0) == 1.0);
  CHECK(m::tanh(-100.0) == -1.0);
  CHECK(relative_error(m::exp(-740.0), std::exp(-740.0)) < 1e-12);  // subnormal result
}
