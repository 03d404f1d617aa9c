// Jacobians, Hessians and Hessian-vector products against hand-derived matrices.
#include <doctest/doctest.h>

#include <cmath>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/functional.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = var<"x", 1>;
constexpr auto k = input<"k">;
const xt::xtensor<double, 1> X = {0.5, 1.5, 2.0, 4.0};
}  // namespace

TEST_CASE("Jacobian of an elementwise function is diagonal") {
  const auto J = jacobian(sin(x) * k, x, x = X, k = 3.0);
  REQUIRE(J.shape()[0] == 4);
  REQUIRE(J.shape()[1] == 4);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 4; ++j) CHECK(J(i, j) == doctest::Approx(i == j ? 3 * std::cos(X(i)) : 0.0));
}

TEST_CASE("Jacobian with bindings the function does not use: ignored, whatever they hold") {
  const xt::xtensor<float, 1> labels = {1.f, 0.f};  // another element type, and no leaf of the function
  const auto J = jacobian(sin(x) * k, x, input<"labels", 1> = labels, x = X, k = 3.0);
  static_assert(std::is_same_v<decltype(J), const xt::xtensor<double, 2>>);
  for (std::size_t i = 0; i < 4; ++i) CHECK(J(i, i) == doctest::Approx(3 * std::cos(X(i))));
}

TEST_CASE("Jacobian of a normalisation couples every element: J = I/s − x·1ᵀ/s²") {
  const auto J = jacobian(x / sum(x), x, x = X);
  const double s = 8.0;
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 4; ++j)
      CHECK(J(i, j) == doctest::Approx((i == j ? 1 / s : 0.0) - X(i) / (s * s)).epsilon(1e-12));
}

TEST_CASE("Jacobian of a scalar is its gradient as one row, of a constant all zeros") {
  const auto J = jacobian(sum(pow<2>(x)), x, x = X);
  REQUIRE(J.shape()[0] == 1);
  for (std::size_t j = 0; j < 4; ++j) CHECK(J(0, j) == doctest::Approx(2 * X(j)));
  const auto Z = jacobian(k * 2_c, var<"w">, k = 1.0, var<"w"> = 3.0);
  CHECK(Z(0, 0) == 0.0);
}

TEST_CASE("Hessian of sum(x³)/3 + (sum x)² is diag(2x) + 2, and hvp is H·v") {
  constexpr auto f = sum(pow<3>(x)) / 3_c + pow<2>(sum(x));
  const auto H = hessian(f, x, x = X);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 4; ++j) CHECK(H(i, j) == doctest::Approx((i == j ? 2 * X(i) : 0.0) + 2));
  constexpr auto v = input<"v", 1>;
  const xt::xtensor<double, 1> V = {1, -1, 0.5, 2};
  const auto Hv = compile(hvp(f, x, v))(x = X, v = V);
  for (std::size_t i = 0; i < 4; ++i) {
    double want = 0;
    for (std::size_t j = 0; j < 4; ++j) want += H(i, j) * V(j);
    CHECK(Hv(i) == doctest::Approx(want).epsilon(1e-12));
  }
}

TEST_CASE("symbolic Hessian in scalar variables") {
  constexpr auto a = var<"a">;
  constexpr auto b = var<"b">;
  constexpr auto H = hessian(pow<2>(a) * b + pow<3>(b), a, b);  // [[2b, 2a], [2a, 6b]]
  static_assert(same(std::get<0>(std::get<0>(H)), 2_c * b));
  static_assert(same(std::get<1>(std::get<0>(H)), 2_c * a));
  static_assert(same(std::get<0>(std::get<1>(H)), 2_c * a));
  static_assert(same(std::get<1>(std::get<1>(H)), 6_c * b));
  CHECK(eval(hvp(pow<4>(a), a, 2_c), at(a = 3.0)) == 216.0);  // 12a²·2
}
