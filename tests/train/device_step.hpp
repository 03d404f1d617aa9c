// What the device-step tests share: a small classifier with a scalar gain, separable data,
// parameters set from a seed, the backend under test (the host emulator, or the GPU with
// KOBAI_TEST_DEVICE=cuda: scripts/gpu-test), and the test case comparing a device step with a host step.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <random>
#include <string_view>
#include <type_traits>
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

// The device step and the host step over the same minibatches: the losses and, at the end, the
// parameters agree to `tolerance` (relative); the parameters moved. Adam only: each optimizer's
// update is one expression on every backend, tests/train/fused_update.cpp checks each against its
// host form, and a device program per optimizer costs minutes to compile. Instantiated in
// device_step_double.cpp and device_step_float.cpp, so that each file compiles in under 30 s.
TEST_CASE_TEMPLATE_DEFINE("a device step gives the host step's losses and parameters", T, device_against_host) {
  using namespace device_step_test;
  const auto check_against_host = [](auto optimizer, double tolerance) {
    for (const unsigned seed : {1u, 2u}) {  // the second run: new data, new extents, in new steps
      const auto data = classes<T>(seed == 1 ? 41 : 23, seed);
      auto host = train::compile_step<T>(loss, train::parameters(W1, b1, W2, g), optimizer);
      auto device = train::compile_step<T>(under_test(), loss, train::parameters(W1, b1, W2, g), optimizer);
      REQUIRE(device.where() == under_test());
      initialise(host, 10 * seed);
      initialise(device, 10 * seed);
      train::minibatches<T> batches(data, seed == 1 ? 8 : 5, seed);
      for (int step = 0; step < 50; ++step) {  // (as many as the issue asks of the fused update)
        const std::size_t k = static_cast<std::size_t>(step) % batches.count();
        if (step > 0 && k == 0) batches.next_epoch();
        const auto batch = batches[k];
        const T expected = host(X = batch.features, Y = batch.targets);
        CHECK(device(X = batch.features, Y = batch.targets) == doctest::Approx(expected).epsilon(tolerance));
      }
      const auto close = [&](const auto& a, const auto& b) {
        REQUIRE(a.shape() == b.shape());
        bool same = true;
        for (std::size_t i = 0; i < a.size(); ++i)
          same = same && std::abs(a.data()[i] - b.data()[i]) <= tolerance * std::max<double>(1, std::abs(b.data()[i]));
        return same;
      };
      CHECK(close(device.get(W1), host.parameter(W1)));
      CHECK(close(device.get(b1), host.parameter(b1)));
      CHECK(close(device.get(W2), host.parameter(W2)));
      CHECK(device.get(g) == doctest::Approx(host.parameter(g)).epsilon(tolerance));
      CHECK(close(to_host(device.gradient(W1)), host.gradient(W1)));
      CHECK(std::abs(host.parameter(g) - T(0.9)) > 1e-4);  // the parameters moved
      // everything the step keeps is in the device's memory
      CHECK(device.parameter(W1).backend() == device.backend());
      CHECK(device.gradient(W2).backend() == device.backend());
    }
  };
  if constexpr (std::is_same_v<T, double>) {
    check_against_host(train::adam({.learning_rate = 2e-2, .weight_decay = 1e-3, .amsgrad = true}), 1e-12);
    check_against_host(train::adamw({.learning_rate = 2e-2}), 1e-12);  // (the same program as adam's)
  } else {
    check_against_host(train::adam({.learning_rate = 2e-2}), 1e-4);
  }
}
