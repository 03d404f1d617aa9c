// The autograd_basics example's values against hand-derived formulas, within 1e-6 relative.
#include <doctest/doctest.h>

#include "../../examples/autograd_basics.hpp"

TEST_CASE("autograd_basics matches hand-derived values") {
  const auto r = example::autograd_basics::compute();
  CHECK(r.pow4_grad_at_5 == doctest::Approx(4 * 5 * 5 * 5).epsilon(1e-6));  // 4x³
  CHECK(r.affine_y == doctest::Approx(2 * 5 + 1).epsilon(1e-6));
  CHECK(r.affine_grads[0] == doctest::Approx(5).epsilon(1e-6));  // dy/dw = x
  CHECK(r.affine_grads[1] == doctest::Approx(1).epsilon(1e-6));  // dy/db = 1
  // out = mean(3(x + 2)²) at x = 1 is 27; ∂out/∂xᵢ = 6(xᵢ + 2)/4 = 4.5.
  CHECK(r.tutorial_out == doctest::Approx(27).epsilon(1e-6));
  REQUIRE(r.tutorial_grad.size() == 4);
  for (double g : r.tutorial_grad) CHECK(g == doctest::Approx(4.5).epsilon(1e-6));
  const double seed[] = {0.1, 1.0, 0.0001};
  REQUIRE(r.vjp_grad.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(r.vjp_grad[i] == doctest::Approx(seed[i] * 1024).epsilon(1e-6));  // v·2¹⁰
}
