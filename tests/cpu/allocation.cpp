// After the first call, a training step with scalar outputs does not touch the heap.
#include <doctest/doctest.h>

#include <cmath>
#include <xtensor/xtensor.hpp>

#include "../heap_count.hpp"
#include "kobai/cpu/program.hpp"
#include "kobai/kobai.hpp"

using namespace kobai;
using namespace kobai::literals;

TEST_CASE("a fused step allocates nothing after the first call, single- and multi-threaded") {
  constexpr auto x = input<"x", 1>;
  constexpr auto t = input<"t", 1>;
  constexpr auto w = var<"w">;
  constexpr auto b = var<"b">;
  constexpr auto loss = mse(w * x + b, t);
  const auto [dw, db] = grad(loss, w, b);
  xt::xtensor<float, 1> X = xt::xtensor<float, 1>::from_shape({400000}), T = X;
  for (std::size_t i = 0; i < X.size(); ++i) X[i] = 0.001f * static_cast<float>(i % 1000), T[i] = 2 * X[i];
  for (unsigned threads : {1u, 4u}) {
    const auto step = compile(loss, dw, db).threads(threads);
    double w_value = 0, b_value = 0;
    const float first_loss = std::get<0>(step(x = X, t = T, w = w_value, b = b_value));  // starts the pool
    const long before = heap_allocations();
    float last_loss = first_loss;
    for (int i = 0; i < 20; ++i) {
      const auto [L, gw, gb] = step(x = X, t = T, w = w_value, b = b_value);
      w_value -= 0.5 * gw;
      b_value -= 0.5 * gb;
      last_loss = L;
    }
    CHECK(heap_allocations() - before == 0);
    CHECK(last_loss < first_loss / 4);  // and it trains
  }
}

TEST_CASE("a logistic step over (N, D) features allocates nothing after the first call") {
  constexpr auto X = input<"X", 2>;
  constexpr auto y = input<"y", 1>;
  constexpr auto w = var<"w", 1>;
  constexpr auto b = var<"b">;
  constexpr auto loss = bce_with_logits(matmul(X, w) + b, y);
  xt::xtensor<float, 2> features = xt::xtensor<float, 2>::from_shape({100000, 16});
  xt::xtensor<float, 1> labels = xt::xtensor<float, 1>::from_shape({100000});
  for (std::size_t i = 0; i < features.size(); ++i) features.data()[i] = std::cos(0.01f * static_cast<float>(i));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 2);
  xt::xtensor<float, 1> weights = xt::zeros<float>({16});
  for (unsigned threads : {1u, 4u}) {
    const auto step = compile(loss, grad(loss, w), grad(loss, b)).threads(threads);
    auto result = step(X = features, y = labels, w = weights, b = 0.0f);
    const long before = heap_allocations();
    for (int i = 0; i < 5; ++i) step.into(result, X = features, y = labels, w = weights, b = 0.0f);
    CHECK(heap_allocations() - before == 0);
    CHECK(std::get<1>(result).size() == 16);
  }
}

TEST_CASE("into() reuses the buffers of tensor outputs") {
  constexpr auto x = var<"x", 1>;
  constexpr auto w = var<"w">;
  constexpr auto y = tanh(w * x);
  const auto program = compile(y, vjp(y, x, 1_c), sum(y));
  xt::xtensor<double, 1> X = xt::xtensor<double, 1>::from_shape({1000});
  for (std::size_t i = 0; i < X.size(); ++i) X[i] = 0.01 * static_cast<double>(i);
  auto results = program(x = X, w = 0.5);
  const double* buffer = std::get<0>(results).data();
  const long before = heap_allocations();
  for (int i = 0; i < 10; ++i) program.into(results, x = X, w = 0.1 * i);
  CHECK(heap_allocations() - before == 0);
  CHECK(std::get<0>(results).data() == buffer);
  CHECK(std::get<0>(results)(500) == doctest::Approx(std::tanh(0.9 * 5.0)));
  CHECK(std::get<1>(results)(500) == doctest::Approx(0.9 * (1 - std::tanh(4.5) * std::tanh(4.5))));
  double total = 0;
  for (double v : X) total += std::tanh(0.9 * v);
  CHECK(std::get<2>(results) == doctest::Approx(total).epsilon(1e-12));
}
