// What the device-step tests share: a small classifier with a scalar gain, separable data,
// parameters set from a seed, the backend under test (the host emulator, or the GPU with
// KOBAI_TEST_DEVICE=cuda: scripts/gpu-test), and a run of a device step beside a host step.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>
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

// One value the device step gave and the host step's: they agree when |got - expected| <= bound.
struct comparison {
  std::string what;
  double got = 0, expected = 0, bound = 0;
  [[nodiscard]] bool agrees() const { return std::abs(got - expected) <= bound; }
  [[nodiscard]] std::string text() const {
    return what + ": device " + std::to_string(got) + ", host " + std::to_string(expected);
  }
};

// The device step against the host step over the same minibatches, with one optimizer, for one
// seed: the 50 losses (relative `tolerance`, as doctest::Approx), then the parameters W1, b1, W2, g
// and the gradient of W1 (each element within `tolerance` · max(1, |host|)), and what a test
// asserts of the run besides: that it ran on the device, gave every comparison (as many as
// against_host_count, so an empty list cannot pass), trained, and kept its state on the device. Adam only: each
// optimizer's update is one expression on every backend, tests/train/fused_update.cpp checks each against its host
// form, and a device program per optimizer costs minutes to compile. The test cases are in device_step_double.cpp and
// device_step_float.cpp, so that each file compiles in under 30 s.
struct against_host {
  bool on_device = false;  // the device step runs where it was asked to
  std::vector<comparison> values;
  bool moved = false;           // the host step's gain left its initial 0.9
  bool kept_on_device = false;  // the step's parameters and gradients are in the device's memory
};

// 50 losses, then 20 + 5 + 15 + 1 parameter elements and 20 gradient elements.
constexpr std::size_t against_host_count = 50 + 20 + 5 + 15 + 1 + 20;

template <class T, class Optimizer>
against_host compare_with_host(Optimizer optimizer, double tolerance, unsigned seed) {
  against_host run;
  const auto data = classes<T>(seed == 1 ? 41 : 23, seed);  // the second seed: new data, new extents
  auto host = train::compile_step<T>(loss, train::parameters(W1, b1, W2, g), optimizer);
  auto device = train::compile_step<T>(under_test(), loss, train::parameters(W1, b1, W2, g), optimizer);
  run.on_device = device.where() == under_test();
  if (!run.on_device) return run;
  initialise(host, 10 * seed);
  initialise(device, 10 * seed);
  train::minibatches<T> batches(data, seed == 1 ? 8 : 5, seed);
  for (int step = 0; step < 50; ++step) {  // (as many as the issue asks of the fused update)
    const std::size_t k = static_cast<std::size_t>(step) % batches.count();
    if (step > 0 && k == 0) batches.next_epoch();
    const auto batch = batches[k];
    const double expected = host(X = batch.features, Y = batch.targets);
    const double got = device(X = batch.features, Y = batch.targets);
    run.values.push_back({"the loss at step " + std::to_string(step), got, expected,
                          tolerance * (1 + std::max(std::abs(got), std::abs(expected)))});
  }
  const auto compare = [&](const std::string& name, const auto& got, const auto& expected) {
    if (got.shape() != expected.shape()) {
      run.values.push_back(
          {name + "'s size", static_cast<double>(got.size()), static_cast<double>(expected.size()), 0});
      return;
    }
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double e = expected.data()[i];
      run.values.push_back({name + "[" + std::to_string(i) + "]", static_cast<double>(got.data()[i]), e,
                            tolerance * std::max<double>(1, std::abs(e))});
    }
  };
  compare("W1", device.get(W1), host.parameter(W1));
  compare("b1", device.get(b1), host.parameter(b1));
  compare("W2", device.get(W2), host.parameter(W2));
  const double gain = host.parameter(g);
  run.values.push_back(
      {"g", static_cast<double>(device.get(g)), gain, tolerance * std::max<double>(1, std::abs(gain))});
  compare("dL/dW1", to_host(device.gradient(W1)), host.gradient(W1));
  run.moved = std::abs(gain - 0.9) > 1e-4;
  run.kept_on_device =
      device.parameter(W1).backend() == device.backend() && device.gradient(W2).backend() == device.backend();
  return run;
}

}  // namespace device_step_test
