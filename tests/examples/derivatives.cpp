// The derivatives example against the hand-derived derivatives, within 1e-6 relative.
#include <doctest/doctest.h>

#include "../../examples/derivatives.hpp"

TEST_CASE("polynomial: first and second derivatives on linspace(0, 1, 100)") {
  const auto r = example::derivatives::compute();
  REQUIRE(r.poly_d1.size() == 100);
  REQUIRE(r.poly_d2.size() == 100);
  for (int i = 0; i < 100; ++i) {
    const double x = i / 99.0;
    CHECK(r.poly_d1[i] == doctest::Approx(3 * x * x + 4 * x + 3).epsilon(1e-6));
    CHECK(r.poly_d2[i] == doctest::Approx(6 * x + 4).epsilon(1e-6));
  }
}

TEST_CASE("meshgrid partials of z = X²Y + 2XY³") {
  const auto r = example::derivatives::compute();
  double zx_sum = 0, zy_sum = 0;  // ∂z/∂X = 2XY + 2Y³, ∂z/∂Y = X² + 6XY²
  for (int i = 0; i < 100; ++i) {
    for (int j = 0; j < 100; ++j) {
      const double X = j / 99.0, Y = 2 - i / 99.0;  // 'xy': X varies along a row
      zx_sum += 2 * X * Y + 2 * Y * Y * Y;
      zy_sum += X * X + 6 * X * Y * Y;
    }
  }
  CHECK(r.mesh_zx_sum == doctest::Approx(zx_sum).epsilon(1e-6));
  CHECK(r.mesh_zy_sum == doctest::Approx(zy_sum).epsilon(1e-6));
  // First element: X = 0, Y = 2; last: X = 1, Y = 1.
  CHECK(r.mesh_zx_first_last[0] == doctest::Approx(16).epsilon(1e-6));
  CHECK(r.mesh_zx_first_last[1] == doctest::Approx(4).epsilon(1e-6));
  CHECK(r.mesh_zy_first_last[0] == doctest::Approx(0).epsilon(1e-6));
  CHECK(r.mesh_zy_first_last[1] == doctest::Approx(7).epsilon(1e-6));
  CHECK(r.dot.find("digraph kobai") == 0);
}
