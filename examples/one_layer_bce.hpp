// One linear layer with a binary cross-entropy loss: z = x·W + b, loss = mean BCE-with-logits,
// and its gradients for W and b, in one compiled program. Shared by the example and its test.
#pragma once

#include <vector>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

namespace example::one_layer_bce {

struct results {
  double bce_loss;
  std::vector<double> bce_grad_w;  // 5×3, row-major
  std::vector<double> bce_grad_b;
};

/// The inputs: x = ones(5), target = zeros(3), W[i][j] = 0.1·(3i + j) − 0.7, b = [0.1, −0.2, 0.3].
inline results compute() {
  using namespace kobai;
  constexpr auto x = input<"x", 1>;       // (5)
  constexpr auto target = input<"y", 1>;  // (3)
  constexpr auto W = var<"W", 2>;         // (5, 3)
  constexpr auto b = var<"b", 1>;         // (3)
  constexpr auto z = matmul(x, W) + b;
  constexpr auto loss = bce_with_logits(z, target);
  const auto [dW, db] = grad(loss, W, b);
  const auto step = compile(loss, dW, db);

  auto weights = xt::xtensor<double, 2>::from_shape({5, 3});
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < 3; ++j) weights(i, j) = 0.1 * static_cast<double>(3 * i + j) - 0.7;
  const auto [L, gW, gb] =
      step(x = xt::xtensor<double, 1>(xt::ones<double>({5})), target = xt::xtensor<double, 1>(xt::zeros<double>({3})),
           W = weights, b = xt::xtensor<double, 1>{0.1, -0.2, 0.3});
  return {L, std::vector<double>(gW.begin(), gW.end()), std::vector<double>(gb.begin(), gb.end())};
}

}  // namespace example::one_layer_bce
