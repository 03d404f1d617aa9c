// Linear regression trained with fused steps: each step computes the MSE loss, dL/dw and dL/db in
// one pass over the data. The computation, shared by the example and its test.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "kobai/cpu/program.hpp"
#include "kobai/device_program.hpp"
#include "kobai/kobai.hpp"
#include "kobai/train/sgd.hpp"

namespace example::linear_regression {

inline constexpr auto x = kobai::input<"x", 1>;
inline constexpr auto t = kobai::input<"t", 1>;
inline constexpr auto w = kobai::var<"w">;
inline constexpr auto b = kobai::var<"b">;
inline constexpr auto prediction = w * x + b;
inline constexpr auto loss = kobai::mse(prediction, t);

/// loss, dL/dw, dL/db: one fused loop.
inline auto make_step() {
  const auto [dw, db] = kobai::grad(loss, w, b);
  return kobai::compile(loss, dw, db);
}

struct results {
  std::vector<double> sgd5_w_b, sgd5_pred;
  double fit_w, fit_b;
  std::vector<double> fit_loss_history;
  std::string fit_backend;  // where the fit ran, and why
};

/// Plain SGD on the mean squared error for `steps` steps; returns [w, b].
template <class T>
std::vector<double> sgd(const xt::xtensor<T, 1>& X, const xt::xtensor<T, 1>& targets, double w0, double b0,
                        double learning_rate, int steps, std::vector<double>* losses = nullptr) {
  const auto step = make_step();
  kobai::train::sgd optimizer({.learning_rate = learning_rate});
  double wv = w0, bv = b0;
  for (int i = 0; i < steps; ++i) {
    const auto [L, gw, gb] = step(x = X, t = targets, w = wv, b = bv);
    if (losses) losses->push_back(L);
    optimizer.step(std::tie(wv, bv), std::tie(gw, gb));
  }
  return {wv, bv};
}

inline results compute() {
  results r{};
  // Five SGD steps from w = 0.5, b = 0 on x = [1, 2, 3], t = [2, 4, 6], lr = 0.01.
  const xt::xtensor<double, 1> X = {1, 2, 3}, T = {2, 4, 6};
  r.sgd5_w_b = sgd(X, T, 0.5, 0.0, 0.01, 5);
  const auto predict = kobai::compile(prediction);
  const auto predictions = predict(x = X, w = r.sgd5_w_b[0], b = r.sgd5_w_b[1]);
  r.sgd5_pred.assign(predictions.begin(), predictions.end());

  // t = 2x + 0.1·noise, N = 100 000, float32, full-batch steps (one per epoch) until the loss
  // stops improving.
  const std::size_t n = 100'000;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  xt::xtensor<float, 1> data = xt::xtensor<float, 1>::from_shape({n}), targets = data;
  for (std::size_t i = 0; i < n; ++i) {
    data[i] = normal(rng);
    targets[i] = 2 * data[i] + 0.1f * normal(rng);
  }
  // On a GPU when there is one (data copied there once), else on the CPU.
  const auto [dw, db] = kobai::grad(loss, w, b);
  const auto step = kobai::compile(kobai::device::automatic, loss, dw, db);
  r.fit_backend = step.why();
  const auto data_there = kobai::to_device(data, step.backend());
  const auto targets_there = kobai::to_device(targets, step.backend());
  kobai::train::sgd optimizer({.learning_rate = 0.25});
  double wv = 0, bv = 0;
  for (int epoch = 0; epoch < 200; ++epoch) {
    const auto [L, gw, gb] = step(x = data_there, t = targets_there, w = wv, b = bv);
    r.fit_loss_history.push_back(L);
    optimizer.step(std::tie(wv, bv), std::tie(gw, gb));
    const auto size = r.fit_loss_history.size();
    if (size > 1 && r.fit_loss_history[size - 2] - L <= 1e-7 * L) break;  // converged
  }
  r.fit_w = wv;
  r.fit_b = bv;
  return r;
}

}  // namespace example::linear_regression
