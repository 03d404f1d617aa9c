// Evaluation: scalars at a point, in constant expressions too; each distinct subexpression once.
#include <doctest/doctest.h>

#include <cmath>

#include "kobai/expr/environment.hpp"
#include "kobai/expr/literals.hpp"
#include "kobai/expr/operators.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
constexpr auto k = input<"k">;
}  // namespace

static_assert(eval(x * y + 1_c, at(x = 2.0, y = 3.0)) == 7.0);
static_assert(eval(pow<4>(x), at(x = 5.0)) == 625.0);
static_assert(eval(where(x > y, x, y), at(x = 2.0, y = 3.0)) == 3.0);
static_assert(eval(1_c / 3_c, at()) == 1.0 / 3.0);
static_assert(eval(clamp(x, -1_c, 1_c), at(x = 7.0)) == 1.0);

TEST_CASE("eval matches the same formula written with <cmath>") {
  const double xv = 0.7, yv = -1.3, kv = 4;
  const auto e = sin(x) * exp(y) / (x + 2_c) + tanh(x * y) - log1p(pow<2>(x)) + sqrt(abs(y)) * k;
  const double want =
      std::sin(xv) * std::exp(yv) / (xv + 2) + std::tanh(xv * yv) - std::log1p(xv * xv) + std::sqrt(std::abs(yv)) * kv;
  CHECK(eval(e, at(x = xv, y = yv, k = kv)) == doctest::Approx(want).epsilon(1e-15));
}

TEST_CASE("eval in float when every binding is float") {
  const auto value = eval(x * y, at(x = 1.5f, y = 2.0f));
  static_assert(std::is_same_v<decltype(value), const float>);
  CHECK(value == 3.0f);
}

// A number type that counts calls to exp, to observe how often a subexpression is computed.
namespace counting {
struct number {
  double value{};
  constexpr number() = default;
  constexpr number(double v) : value(v) {}  // NOLINT(google-explicit-constructor)
  friend number operator+(number a, number b) { return a.value + b.value; }
  friend number operator*(number a, number b) { return a.value * b.value; }
};
inline int exp_calls = 0;
inline number exp(number a) {
  ++exp_calls;
  return std::exp(a.value);
}
inline number sin(number a) { return std::sin(a.value); }
}  // namespace counting

TEST_CASE("each distinct subexpression is computed once per evaluation") {
  const auto e = exp(x) * sin(exp(x)) + exp(x);
  using order = topological_order<decltype(e)>;
  std::array<counting::number, order::size> values{};
  counting::exp_calls = 0;
  detail::evaluate_in_order(values, order{}, [](auto) { return counting::number{0.5}; });
  CHECK(counting::exp_calls == 1);
  const double ex = std::exp(0.5);
  CHECK(values.back().value == doctest::Approx(ex * std::sin(ex) + ex));
}
