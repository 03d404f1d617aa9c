// The README's logistic regression training step, one dtype: the loss and the gradients of W and b,
// compiled as one program and run. A compile-cost budget program (bench/compile/run): ≤ 5 s at -O2.
#include <cstdio>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

int main() {
  using namespace kobai;
  constexpr auto X = input<"X", 2>;  // (N, D)
  constexpr auto y = input<"y", 1>;  // (N)
  constexpr auto W = var<"W", 1>;    // (D)
  constexpr auto b = var<"b">;
  constexpr auto loss = bce_with_logits(matmul(X, W) + b, y);
  const auto [dW, db] = grad(loss, W, b);
  const auto step = compile(loss, dW, db);
  const std::size_t n = 64, d = 8;
  xt::xtensor<double, 2> features = xt::empty<double>({n, d});
  xt::xtensor<double, 1> labels = xt::empty<double>({n});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < d; ++j) features(i, j) = static_cast<double>((i * 7 + j * 3) % 11) / 11 - 0.5;
    labels(i) = static_cast<double>(i % 2);
  }
  xt::xtensor<double, 1> weights = xt::zeros<double>({d});
  double bias = 0;
  double L = 0;
  for (int epoch = 0; epoch < 10; ++epoch) {
    const auto [loss_value, gW, gb] = step(X = features, y = labels, W = weights, b = bias);
    weights -= 0.5 * gW;
    bias -= 0.5 * gb;
    L = loss_value;
  }
  std::printf("logistic regression: loss %.6f after 10 steps\n", L);
}
