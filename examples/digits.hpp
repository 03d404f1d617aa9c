// The main demo: an MLP classifier 64 → 32 (tanh) → 10 trained with Adam on scikit-learn's
// handwritten digits (data/digits.csv), through kobai's training layer: load_csv, a held-out
// split, standardised features, one-hot targets, a compiled training step (loss, every gradient
// and the update in one call) and fit. The computation, shared by the example and its test.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "kobai/core/simd.hpp"  // (xsimd, with the intrinsics headers between kobai's diagnostic pragmas)
#include "kobai/cpu/program.hpp"
#include "kobai/cpu/thread_pool.hpp"
#include "kobai/kobai.hpp"
#include "kobai/train.hpp"

namespace example::digits {

inline constexpr auto X = kobai::input<"X", 2>;  // (N, 64) standardised pixels
inline constexpr auto Y = kobai::input<"Y", 2>;  // (N, 10) one-hot digits
inline constexpr auto W1 = kobai::var<"W1", 2>;  // (64, 32)
inline constexpr auto b1 = kobai::var<"b1", 1>;
inline constexpr auto W2 = kobai::var<"W2", 2>;  // (32, 10)
inline constexpr auto b2 = kobai::var<"b2", 1>;
inline constexpr auto logits = kobai::matmul(kobai::tanh(kobai::matmul(X, W1) + b1), W2) + b2;
inline constexpr auto loss = kobai::cross_entropy(logits, Y);

struct settings {
  std::string csv;  // data/digits.csv
  std::size_t epochs = 20;
  std::size_t batch_size = 64;
  double learning_rate = 1e-2;
  std::uint64_t seed = 0;
  kobai::train::progress_display progress = kobai::train::progress_display::never;
  bool print_epochs = false;  // a line per epoch on stdout
};

struct results {
  std::size_t train_rows = 0, test_rows = 0;
  std::vector<double> loss, test_loss, test_accuracy;  // per epoch
  double train_accuracy = 0, final_test_accuracy = 0;
  double rows_per_second = 0;  // the median epoch's
  std::string where;
};

/// The digits split into rows trained on and held out (20%), features standardised on the
/// training rows, targets one-hot: also W9's data (bench/training.cpp).
struct prepared {
  kobai::train::dataset<float> training, held_out;           // targets: the digit, one column
  xt::xtensor<float, 2> training_targets, held_out_targets;  // one-hot
};
inline prepared prepare(const std::string& csv, std::uint64_t seed) {
  namespace train = kobai::train;
  auto [training, held_out] = train::split(train::load_csv<float>(csv, {64}, 0), 0.2, seed);
  const auto scaler = train::standard_scaler<float>::fit(training.features);
  scaler.apply(training.features);
  scaler.apply(held_out.features);
  auto Ytrain = train::one_hot(training.targets, 10), Ytest = train::one_hot(held_out.targets, 10);
  return {std::move(training), std::move(held_out), std::move(Ytrain), std::move(Ytest)};
}

/// nn.Linear's initialisation of the step's parameters: Kaiming-uniform weights, biases
/// U(−1/√fan_in, 1/√fan_in), from `seed`.
template <class Step>
void initialise(Step& step, std::uint64_t seed) {
  namespace train = kobai::train;
  step.parameter(W1) = xt::xtensor<float, 2>::from_shape({64, 32});
  step.parameter(W2) = xt::xtensor<float, 2>::from_shape({32, 10});
  step.parameter(b1) = xt::xtensor<float, 1>::from_shape({32});
  step.parameter(b2) = xt::xtensor<float, 1>::from_shape({10});
  train::kaiming_uniform(step.parameter(W1), seed + 1);
  train::kaiming_uniform(step.parameter(W2), seed + 2);
  train::uniform(step.parameter(b1), seed + 3, -1 / 8.0, 1 / 8.0);
  train::uniform(step.parameter(b2), seed + 4, -1 / std::sqrt(32.0), 1 / std::sqrt(32.0));
}

inline results compute(const settings& s) {
  namespace train = kobai::train;
  results r;
  const prepared data = prepare(s.csv, s.seed);
  const auto& training = data.training;
  const auto& held_out = data.held_out;
  const auto& Ytrain = data.training_targets;
  const auto& Ytest = data.held_out_targets;
  r.train_rows = training.size();
  r.test_rows = held_out.size();

  auto step = train::compile_step<float>(loss, train::parameters(W1, b1, W2, b2),
                                         train::adam({.learning_rate = s.learning_rate}));
  initialise(step, s.seed);

  const auto scores = kobai::compile(logits);
  const auto accuracy_on = [&](const xt::xtensor<float, 2>& features, const xt::xtensor<float, 2>& targets) {
    return train::accuracy(scores(X = features, W1 = step.parameter(W1), b1 = step.parameter(b1),
                                  W2 = step.parameter(W2), b2 = step.parameter(b2)),
                           targets);
  };
  std::vector<double> rates;
  const auto history = train::fit(
      step, train::data(X = training.features, Y = Ytrain),
      {.epochs = s.epochs,
       .batch_size = s.batch_size,
       .seed = s.seed,
       .progress = s.progress,
       .epoch_lines = false,
       .on_epoch =
           [&](const train::epoch_report& e) {
             r.test_accuracy.push_back(accuracy_on(held_out.features, Ytest));
             rates.push_back(e.rows_per_second);
             if (s.print_epochs)
               std::printf("epoch %2zu/%zu  loss %.4f  held-out loss %.4f  held-out accuracy %5.1f%%  (%.0f rows/s)\n",
                           e.epoch, e.epochs, e.loss, e.validation_loss, 100 * r.test_accuracy.back(),
                           e.rows_per_second);
           }},
      train::data(X = held_out.features, Y = Ytest));
  r.loss = history.loss;
  r.test_loss = history.validation_loss;
  r.final_test_accuracy = s.epochs > 0 ? r.test_accuracy.back() : accuracy_on(held_out.features, Ytest);
  r.train_accuracy = accuracy_on(training.features, Ytrain);
  if (!rates.empty()) {
    std::nth_element(rates.begin(), rates.begin() + static_cast<std::ptrdiff_t>(rates.size() / 2), rates.end());
    r.rows_per_second = rates[rates.size() / 2];
  }
  r.where = "the CPU: " + std::to_string(kobai::cpu::thread_pool::instance().size()) + " threads, " +
            xsimd::default_arch::name() + " SIMD, float32";
  return r;
}

}  // namespace example::digits
