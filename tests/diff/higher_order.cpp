// Higher derivatives: grad of grad, exact for polynomials, and bounded in size.
#include <doctest/doctest.h>

#include <cmath>

#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
}  // namespace

// Third and fourth derivatives of x⁴ are exact: 24x and 24.
static_assert(same(grad(grad(grad(pow<4>(x), x), x), x), 24_c * x));
static_assert(same(grad(grad(grad(grad(pow<4>(x), x), x), x), x), 24_c));
static_assert(same(grad(grad(grad(grad(grad(pow<4>(x), x), x), x), x), x), 0_c));
static_assert(same(grad(grad(pow<3>(x) + 2_c * pow<2>(x) + 3_c * x + 1_c, x), x), 6_c * x + 4_c));

TEST_CASE("second derivatives match finite differences of the first") {
  const auto f = exp(sin(x) * x) + log(x);
  const auto d1 = grad(f, x);
  const auto d2 = grad(d1, x);
  for (double p : {0.2, 0.7, 1.3, 2.2, 3.5}) {
    const double h = 1e-5;
    const double numeric = (eval(d1, at(x = p + h)) - eval(d1, at(x = p - h))) / (2 * h);
    CHECK(eval(d2, at(x = p)) == doctest::Approx(numeric).epsilon(1e-7));
  }
}

TEST_CASE("mixed partials agree in either order (Schwarz)") {
  const auto f = sin(x * y) * exp(y) + pow<3>(x) * log1p(pow<2>(y));
  const auto dxy = grad(grad(f, x), y);
  const auto dyx = grad(grad(f, y), x);
  for (auto [px, py] : {std::pair{0.3, 0.5}, {-1.0, 2.0}, {2.0, -0.7}, {0.1, 0.1}, {1.5, 1.2}}) {
    CHECK(eval(dxy, at(x = px, y = py)) == doctest::Approx(eval(dyx, at(x = px, y = py))).epsilon(1e-12));
  }
}

TEST_CASE("repeated derivatives of a 5-op expression stay small") {
  // f = exp(sin(x)·x) + log(x): five ops. Symbolic differentiation that walks the expression as a
  // tree grows exponentially with the order; summing adjoints over the shared DAG keeps it
  // it small. Measured when written: 6, 11, 23, 41, 77 distinct nodes (each order at most about
  // twice the last, which the guard below holds to).
  const auto f = exp(sin(x) * x) + log(x);
  const auto d1 = grad(f, x);
  const auto d2 = grad(d1, x);
  const auto d3 = grad(d2, x);
  const auto d4 = grad(d3, x);
  const std::size_t sizes[] = {node_count(f), node_count(d1), node_count(d2), node_count(d3), node_count(d4)};
  MESSAGE("node counts f, f', f'', f''', f'''': " << sizes[0] << ", " << sizes[1] << ", " << sizes[2] << ", "
                                                  << sizes[3] << ", " << sizes[4]);
  CHECK(sizes[0] == 6);  // x, sin x, x·sin x, exp(x·sin x), log x, and the sum
  for (int k = 1; k < 5; ++k) CHECK(sizes[k] <= 2 * sizes[k - 1] + 2);
  CHECK(sizes[4] <= 100);
  // And the fourth derivative is right: against finite differences of the third.
  for (double p : {0.4, 1.1, 2.3, 3.0, 4.2}) {
    const double h = 1e-4;
    const double numeric = (eval(d3, at(x = p + h)) - eval(d3, at(x = p - h))) / (2 * h);
    CHECK(eval(d4, at(x = p)) == doctest::Approx(numeric).epsilon(1e-6));
  }
}
