// The digits MLP's training step, one dtype: 64 → 32 (tanh) → 10 classes, softmax cross-entropy,
// the loss and the gradients of W1, b1, W2 and b2, compiled as one program and run. A compile-cost
// budget program (bench/compile/run): ≤ 5 s at -O2.
#include <cstdio>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

int main() {
  using namespace kobai;
  constexpr auto X = input<"X", 2>;  // (N, 64)
  constexpr auto Y = input<"Y", 2>;  // (N, 10), one-hot
  constexpr auto W1 = var<"W1", 2>;  // (64, 32)
  constexpr auto b1 = var<"b1", 1>;  // (32)
  constexpr auto W2 = var<"W2", 2>;  // (32, 10)
  constexpr auto b2 = var<"b2", 1>;  // (10)
  constexpr auto hidden = tanh(matmul(X, W1) + b1);
  constexpr auto loss = cross_entropy(matmul(hidden, W2) + b2, Y);
  const auto [dW1, db1, dW2, db2] = grad(loss, W1, b1, W2, b2);
  const auto step = compile(loss, dW1, db1, dW2, db2);
  const std::size_t n = 128, d = 64, h = 32, k = 10;
  xt::xtensor<double, 2> features = xt::empty<double>({n, d});
  xt::xtensor<double, 2> labels = xt::zeros<double>({n, k});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < d; ++j) features(i, j) = static_cast<double>((i * 7 + j * 3) % 17) / 17 - 0.5;
    labels(i, i % k) = 1;
  }
  xt::xtensor<double, 2> w1 = xt::empty<double>({d, h});
  xt::xtensor<double, 2> w2 = xt::empty<double>({h, k});
  for (std::size_t i = 0; i < w1.size(); ++i) w1.flat(i) = static_cast<double>(i % 13) / 65 - 0.1;
  for (std::size_t i = 0; i < w2.size(); ++i) w2.flat(i) = static_cast<double>(i % 7) / 35 - 0.1;
  xt::xtensor<double, 1> c1 = xt::zeros<double>({h});
  xt::xtensor<double, 1> c2 = xt::zeros<double>({k});
  double L = 0;
  for (int epoch = 0; epoch < 10; ++epoch) {
    const auto [loss_value, gW1, gb1, gW2, gb2] = step(X = features, Y = labels, W1 = w1, b1 = c1, W2 = w2, b2 = c2);
    w1 -= 0.5 * gW1;
    c1 -= 0.5 * gb1;
    w2 -= 0.5 * gW2;
    c2 -= 0.5 * gb2;
    L = loss_value;
  }
  std::printf("digits MLP: loss %.6f after 10 steps\n", L);
}
