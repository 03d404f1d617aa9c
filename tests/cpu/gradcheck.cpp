// gradcheck on tensors: every element of every var<> against float64 central differences.
#include <doctest/doctest.h>

#include <xtensor/xtensor.hpp>

#include "kobai/cpu/gradcheck.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

namespace {
constexpr auto x = input<"x", 1>;
constexpr auto t = input<"t", 1>;
constexpr auto w = var<"w">;
constexpr auto b = var<"b">;
constexpr auto W = var<"W", 1>;
const xt::xtensor<double, 1> X = {0.3, -1.2, 2.0, 0.7, 1.1, -0.4};
const xt::xtensor<double, 1> Y = {1, 0, 1, 1, 0, 0};
const xt::xtensor<double, 1> Wv = {0.1, 0.2, -0.3, 0.4, 0.5, -0.6};
}  // namespace

TEST_CASE("losses, broadcast scalars and tensor variables pass") {
  auto mse_check = gradcheck(mse(w * x + b, t), x = X, t = Y, w = 0.5, b = -0.1);
  CHECK(mse_check.passed());
  CHECK(mse_check.variables_checked == 2);
  auto bce_check = gradcheck(bce_with_logits(w * x + b + W, t), x = X, t = Y, w = 0.5, b = 0.0, W = Wv);
  CHECK(bce_check.passed());
  CHECK(bce_check.variables_checked == 3);
  CHECK(gradcheck(mean(pow<2>(W - mean(W))) + sum(tanh(W) * x), x = X, W = Wv).passed());
  CHECK(gradcheck(sum(W * W) * mean(exp(-W)) + log(sum(pow<2>(W))), W = Wv).passed());
  CHECK(gradcheck(logsumexp(W * x) - max(W) + min(W * W), x = X, W = Wv).passed());
  CHECK(gradcheck(dot(W, x) * dot(W, W), x = X, W = Wv).passed());
}

TEST_CASE("scalars broadcast linearly over a tensor: their gradient counts every element") {
  // d/db Σ(xᵢ + b) = n and d/dw Σ w·xᵢ = Σ xᵢ: the gradient w.r.t. w does not use w at all.
  CHECK(gradcheck(sum(x + b), x = X, b = 0.5).passed());
  CHECK(gradcheck(sum(w * x), x = X, w = 0.5).passed());
  CHECK(gradcheck(mean(w * x + b) + sum(where(x > 0_c, b, w)), x = X, w = 0.5, b = -1.0).passed());
  const auto [dw, db] = grad(mean(w * x + b), w, b);
  const auto [gw, gb] = compile(dw, db)(x = X);
  double mean_x = 0;
  for (double v : X) mean_x += v / static_cast<double>(X.size());
  CHECK(gw == doctest::Approx(mean_x));  // hand-derived: ∂/∂w = mean(x), ∂/∂b = 1
  CHECK(gb == 1.0);
  CHECK(compile(grad(sum(x + b), b))(x = X) == 6.0);
}

TEST_CASE("a wrong gradient fails: relu at a kink, where central differences average the slopes") {
  const xt::xtensor<double, 1> at_kink = {0.0, 1.0, -1.0};
  const auto result = gradcheck(sum(relu(W)), W = at_kink);
  CHECK(!result.passed());
  CHECK(result.max_abs_error == doctest::Approx(0.5));  // symbolic 0 (PyTorch's choice), FD ½
}
