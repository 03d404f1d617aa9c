// What the device-step tests share: a small classifier with a scalar gain, separable data,
// parameters set from a seed, and the backend under test: the host emulator, or the GPU with
// KOBAI_TEST_DEVICE=cuda (scripts/gpu-test).
#pragma once

#include <array>
#include <cstddef>
#include <cstdlib>
#include <random>
#include <string_view>
#include <xtensor/xtensor.hpp>

#include "kobai/kobai.hpp"
#include "kobai/train.hpp"

namespace device_step_test {
using namespace kobai;
namespace train = kobai::train;

inline device::choice under_test() {
  const char* chosen = std::getenv("KOBAI_TEST_DEVICE");
  return chosen && std::string_view(chosen) == "cuda" ? device::cuda : device::emulated;
}

constexpr auto X = input<"X", 2>;  // (N, 4)
constexpr auto Y = input<"Y", 2>;  // (N, 3), one-hot
constexpr auto W1 = var<"W1", 2>;  // (4, 5)
constexpr auto b1 = var<"b1", 1>;  // (5)
constexpr auto W2 = var<"W2", 2>;  // (5, 3)
constexpr auto g = var<"g">;       // a scalar gain
constexpr auto loss = cross_entropy(g * matmul(tanh(matmul(X, W1) + b1), W2), Y);

template <class T, std::size_t R>
xt::xtensor<T, R> random_tensor(const std::array<std::size_t, R>& shape, unsigned seed, double scale = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0, scale);
  auto t = xt::xtensor<T, R>::from_shape(shape);
  for (auto& v : t) v = static_cast<T>(normal(rng));
  return t;
}

template <class T>
train::dataset<T> classes(std::size_t rows, unsigned seed) {
  auto features = random_tensor<T, 2>({rows, 4}, seed);
  xt::xtensor<T, 2> targets = xt::zeros<T>({rows, std::size_t{3}});
  for (std::size_t i = 0; i < rows; ++i)  // a class the features decide, so that training can learn it
    targets(i, features(i, 0) + features(i, 1) > 0 ? 0 : (features(i, 2) > 0 ? 1 : 2)) = 1;
  return {features, targets};
}

template <class Step>
void initialise(Step& step, unsigned seed) {
  using T = typename Step::element_type;
  step.set(W1, random_tensor<T, 2>({4, 5}, seed, 0.5));
  step.set(b1, random_tensor<T, 1>({5}, seed + 1, 0.1));
  step.set(W2, random_tensor<T, 2>({5, 3}, seed + 2, 0.5));
  step.set(g, 0.9);
}

}  // namespace device_step_test
