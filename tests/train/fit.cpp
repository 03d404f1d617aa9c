// fit (train/fit.hpp): the same updates as a hand-written loop over minibatches, the loss history,
// validation and early stopping, the progress line, and errors that name the epoch and batch.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "kobai/kobai.hpp"
#include "kobai/train.hpp"

using namespace kobai;
namespace train = kobai::train;

namespace {

constexpr auto X = input<"X", 2>;  // (N, 2)
constexpr auto y = input<"y", 1>;  // (N)
constexpr auto w = var<"w", 1>;    // (2)
constexpr auto c = var<"c">;
constexpr auto loss = mse(matmul(X, w) + c, y);

// y = 2·x₀ − x₁ + 0.5 + noise, or with `sign` = −1 the opposite relation (a validation set that
// training makes worse).
train::dataset<double> make_data(std::size_t n, unsigned seed, double sign = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  train::dataset<double> d{xt::xtensor<double, 2>::from_shape({n, 2}), xt::xtensor<double, 2>::from_shape({n, 1})};
  for (std::size_t i = 0; i < n; ++i) {
    d.features(i, 0) = normal(rng);
    d.features(i, 1) = normal(rng);
    d.targets(i, 0) = sign * (2 * d.features(i, 0) - d.features(i, 1) + 0.5) + 0.1 * normal(rng);
  }
  return d;
}
xt::xtensor<double, 1> column(const train::dataset<double>& d) {
  xt::xtensor<double, 1> t = xt::xtensor<double, 1>::from_shape({d.size()});
  for (std::size_t i = 0; i < d.size(); ++i) t(i) = d.targets(i, 0);
  return t;
}

auto make_step(double rate = 0.05) {
  auto step = train::compile_step(loss, train::parameters(w, c), train::sgd({.learning_rate = rate, .momentum = 0.5}));
  step.parameter(w) = xt::xtensor<double, 1>{0.0, 0.0};
  step.parameter(c) = 0.0;
  return step;
}

}  // namespace

TEST_CASE("fit makes the updates of a loop over minibatches, and its history is their losses") {
  const auto d = make_data(103, 1);  // batches of 10: the last of each epoch holds 3 rows
  const auto targets = column(d);
  auto fitted = make_step();
  const auto history =
      train::fit(fitted, train::data(X = d.features, y = targets),
                 {.epochs = 3, .batch_size = 10, .seed = 42, .progress = train::progress_display::never});

  auto by_hand = make_step();
  train::minibatches<double> batches(d, 10, 42);
  std::vector<double> expected;
  for (std::size_t epoch = 0; epoch < 3; ++epoch) {
    if (epoch > 0) batches.next_epoch();
    double sum = 0;
    for (std::size_t k = 0; k < batches.count(); ++k) {
      auto batch = batches[k];
      const auto t = xt::xtensor<double, 1>(xt::view(batch.targets, xt::all(), 0));
      sum += by_hand(X = batch.features, y = t) * static_cast<double>(batch.rows);
    }
    expected.push_back(sum / 103);
  }
  REQUIRE(history.loss.size() == 3);
  for (std::size_t e = 0; e < 3; ++e) CHECK(history.loss[e] == doctest::Approx(expected[e]).epsilon(1e-12));
  CHECK(fitted.parameter(w) == by_hand.parameter(w));
  CHECK(fitted.parameter(c) == by_hand.parameter(c));
  CHECK(fitted.steps() == 33);
  CHECK(history.loss[2] < history.loss[0]);
  CHECK(history.validation_loss.empty());
  CHECK(!history.stopped_early);
  // after three epochs the fit is close to the generating relation
  CHECK(fitted.parameter(w)(0) == doctest::Approx(2).epsilon(0.1));
  CHECK(fitted.parameter(w)(1) == doctest::Approx(-1).epsilon(0.1));
}

TEST_CASE("validation loss per epoch, early stopping, and the best parameters put back") {
  const auto d = make_data(200, 2);
  const auto worse = make_data(50, 3, -1);  // training moves the parameters away from this relation
  const auto targets = column(d), worse_targets = column(worse);
  auto step = make_step(0.02);
  std::vector<train::epoch_report> reports;
  const auto first_w = step.parameter(w);
  const auto history = train::fit(step, train::data(X = d.features, y = targets),
                                  {.epochs = 20,
                                   .batch_size = 16,
                                   .seed = 1,
                                   .progress = train::progress_display::never,
                                   .patience = 3,
                                   .restore_best = true,
                                   .on_epoch = [&](const train::epoch_report& r) { reports.push_back(r); }},
                                  train::data(X = worse.features, y = worse_targets));
  CHECK(history.stopped_early);
  CHECK(history.loss.size() == 4);  // the best was the first epoch, then 3 epochs without improvement
  CHECK(history.best_epoch == 1);
  REQUIRE(reports.size() == 4);
  for (std::size_t e = 0; e < 4; ++e) {
    CHECK(reports[e].epoch == e + 1);
    CHECK(reports[e].loss == history.loss[e]);
    CHECK(reports[e].validation_loss == history.validation_loss[e]);
    CHECK(reports[e].learning_rate == 0.02);
    CHECK(reports[e].rows_per_second > 0);
  }
  for (std::size_t e = 1; e < 4; ++e) CHECK(history.validation_loss[e] > history.validation_loss[0]);
  // the validation loss of epoch 1 is the loss of the parameters put back
  CHECK(step.loss(X = worse.features, y = worse_targets) == doctest::Approx(history.validation_loss[0]).epsilon(1e-12));
  CHECK(step.parameter(w) != first_w);

  // without early stopping, the best epoch's parameters come back when the epochs run out
  auto full = make_step(0.02);
  const auto all_epochs = train::fit(
      full, train::data(X = d.features, y = targets),
      {.epochs = 3, .batch_size = 16, .seed = 1, .progress = train::progress_display::never, .restore_best = true},
      train::data(X = worse.features, y = worse_targets));
  CHECK(!all_epochs.stopped_early);
  CHECK(all_epochs.loss.size() == 3);
  CHECK(all_epochs.best_epoch == 1);
  CHECK(full.loss(X = worse.features, y = worse_targets) ==
        doctest::Approx(all_epochs.validation_loss[0]).epsilon(1e-12));
}

TEST_CASE("the progress line goes to a terminal, or where asked, and nowhere else") {
  const auto d = make_data(40, 4);
  const auto targets = column(d);
  auto shown = [&](train::progress_display mode) {
    std::FILE* file = std::tmpfile();
    auto step = make_step();
    train::fit(step, train::data(X = d.features, y = targets),
               {.epochs = 2, .batch_size = 8, .progress = mode, .stream = file});
    std::rewind(file);
    std::string text;
    for (int ch = std::fgetc(file); ch != EOF; ch = std::fgetc(file)) text += static_cast<char>(ch);
    std::fclose(file);
    return text;
  };
  const std::string always = shown(train::progress_display::always);
  CHECK(always.find("epoch 1/2  batch 5/5") != std::string::npos);
  CHECK(always.find("epoch 2/2  loss ") != std::string::npos);
  CHECK(always.find("rows/s") != std::string::npos);
  CHECK(shown(train::progress_display::automatic).empty());  // a file is not a terminal
  CHECK(shown(train::progress_display::never).empty());
}

TEST_CASE("bad data and a non-finite loss stop fit with a message naming them") {
  auto d = make_data(30, 5);
  const auto targets = column(d);
  auto step = make_step();
  const xt::xtensor<double, 1> short_targets = xt::zeros<double>({29});
  CHECK_THROWS_WITH_AS(train::data(X = d.features, y = short_targets),
                       "kobai::train::data: 'X' has 30 rows but 'y' has 29", kobai::shape_error);
  CHECK_THROWS_WITH_AS(train::fit(step, train::data(X = d.features, y = targets), {.batch_size = 0}),
                       "kobai::train::fit: batch_size must be at least 1", kobai::error);
  CHECK_THROWS_AS(train::fit(step, train::data(X = d.features, y = targets), {.patience = 2}), kobai::error);
  CHECK_THROWS_AS(train::fit(step, train::data(X = d.features, y = targets), {.restore_best = true}), kobai::error);
  // an error of the step keeps its type, with the epoch and batch added
  const xt::xtensor<double, 2> wide = xt::zeros<double>({30, 3});
  CHECK_THROWS_AS(train::fit(step, train::data(X = wide, y = targets), {.progress = train::progress_display::never}),
                  kobai::shape_error);
  d.features(17, 1) = std::nan("");  // row 17: batch 3 of 5 in file order (batches of 6 rows)
  CHECK_THROWS_WITH_AS(
      train::fit(step, train::data(X = d.features, y = targets),
                 {.epochs = 2, .batch_size = 6, .shuffle = false, .progress = train::progress_display::never}),
      "kobai::train::fit: epoch 1 of 2, batch 3 of 5 (6 rows): kobai::train: the loss is NaN at step "
      "3; the parameters were not updated",
      kobai::error);
  CHECK(step.steps() == 2);
}
