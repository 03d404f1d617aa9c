// The one_layer_bce example's values against the hand-derived formulas, within 1e-6 relative:
// with x = ones(5) and target 0, zⱼ = Σᵢ Wᵢⱼ + bⱼ, loss = (1/3)Σⱼ log(1 + e^zⱼ),
// ∂L/∂Wᵢⱼ = xᵢ·σ(zⱼ)/3 and ∂L/∂bⱼ = σ(zⱼ)/3.
#include <doctest/doctest.h>

#include <cmath>

#include "../../examples/one_layer_bce.hpp"

TEST_CASE("one_layer_bce matches hand-derived values") {
  const auto r = example::one_layer_bce::compute();
  const double bias[] = {0.1, -0.2, 0.3};
  double loss = 0, sigma[3];
  for (int j = 0; j < 3; ++j) {
    double z = bias[j];
    for (int i = 0; i < 5; ++i) z += 0.1 * (3 * i + j) - 0.7;
    loss += std::log(1 + std::exp(z)) / 3;
    sigma[j] = 1 / (1 + std::exp(-z));
  }
  CHECK(r.bce_loss == doctest::Approx(loss).epsilon(1e-6));
  REQUIRE(r.bce_grad_w.size() == 15);
  REQUIRE(r.bce_grad_b.size() == 3);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 3; ++j) CHECK(r.bce_grad_w[3 * i + j] == doctest::Approx(sigma[j] / 3).epsilon(1e-6));
  for (int j = 0; j < 3; ++j) CHECK(r.bce_grad_b[j] == doctest::Approx(sigma[j] / 3).epsilon(1e-6));
}
