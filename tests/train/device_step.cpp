// compile_step on a device (the host emulator, or the GPU with KOBAI_TEST_DEVICE=cuda): the step keeps the
// parameters, their gradients and the optimizer state in device memory, and gives the host step's
// losses and parameters on the same minibatches; a later step allocates nothing; checkpoints move
// between the two; fit trains it, restoring the best parameters. (Against the host step:
// device_step_double.cpp and device_step_float.cpp.)
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <xtensor/xtensor.hpp>

#include "device_step.hpp"

using namespace device_step_test;

TEST_CASE("a device step allocates nothing after its first call, and refuses a non-finite loss") {
  const auto data = classes<double>(32, 5);
  auto step = train::compile_step(under_test(), loss, train::parameters(W1, b1, W2, g), train::adam());
  initialise(step, 5);
  step(X = data.features, Y = data.targets);
  step(X = data.features, Y = data.targets);
  const std::size_t allocations = step.backend()->allocations();
  for (int k = 0; k < 5; ++k) step(X = data.features, Y = data.targets);
  CHECK(step.backend()->allocations() == allocations);
  CHECK(step.steps() == 7);

  auto broken = data.features;
  broken(3, 2) = std::nan("");
  const auto before = step.get(W1);
  train::npz_archive state_before, state_after;
  step.save(state_before);
  CHECK_THROWS_WITH_AS(step(X = broken, Y = data.targets),
                       "kobai::train: the loss is NaN at step 8; the parameters were not updated", kobai::error);
  CHECK(step.get(W1) == before);
  CHECK(step.steps() == 7);
  step.save(state_after);  // Adam's moments were not touched either
  CHECK(state_after.get_as<double, 2>("W1.exp_avg") == state_before.get_as<double, 2>("W1.exp_avg"));
  CHECK(state_after.get_as<double, 2>("W2.exp_avg_sq") == state_before.get_as<double, 2>("W2.exp_avg_sq"));
  CHECK(state_after.get_as<double, 1>("b1.exp_avg") == state_before.get_as<double, 1>("b1.exp_avg"));
  CHECK(state_after.get_as<double, 0>("g.exp_avg_sq") == state_before.get_as<double, 0>("g.exp_avg_sq"));
  step(X = data.features, Y = data.targets);
  CHECK(step.get(W1) != before);
}

TEST_CASE("checkpoints move between a device step and a host step") {
  const auto data = classes<double>(30, 6);
  const std::string path = std::string(P_tmpdir) + "/kobai_test_device_step.npz";
  const train::adam_options options{.learning_rate = 3e-2, .amsgrad = true};
  auto device = train::compile_step(under_test(), loss, train::parameters(W1, b1, W2, g), train::adam(options));
  initialise(device, 6);
  for (int k = 0; k < 4; ++k) device(X = data.features, Y = data.targets);
  device.save(path);
  auto host = train::compile_step(loss, train::parameters(W1, b1, W2, g), train::adam(options));
  host.load(path);
  CHECK(host.steps() == 4);
  CHECK(host.parameter(W2) == device.get(W2));
  for (int k = 0; k < 3; ++k) {
    const double expected = host(X = data.features, Y = data.targets);
    CHECK(device(X = data.features, Y = data.targets) == doctest::Approx(expected).epsilon(1e-12));
  }
  // and back: a device step restored from the host step continues as the host step does
  host.save(path);
  auto restored = train::compile_step(under_test(), loss, train::parameters(W1, b1, W2, g), train::adam(options));
  restored.load(path);
  CHECK(restored.get(b1) == host.parameter(b1));
  const double expected = host(X = data.features, Y = data.targets);
  CHECK(restored(X = data.features, Y = data.targets) == doctest::Approx(expected).epsilon(1e-12));
  const auto W1_host = host.parameter(W1);
  const auto W1_device = restored.get(W1);
  for (std::size_t i = 0; i < W1_host.size(); ++i)
    CHECK(W1_device.data()[i] == doctest::Approx(W1_host.data()[i]).epsilon(1e-12));
  std::remove(path.c_str());
}

TEST_CASE("fit trains a device step and restores its best parameters") {
  const auto [training, validation] = train::split(classes<double>(120, 7), 0.25, 7);
  auto step =
      train::compile_step(under_test(), loss, train::parameters(W1, b1, W2, g), train::adam({.learning_rate = 0.2}));
  initialise(step, 7);
  const double first = step.loss(X = validation.features, Y = validation.targets);
  xt::xtensor<double, 2> W1_best;
  double best_seen = first;
  const auto history = train::fit(step, train::data(X = training.features, Y = training.targets),
                                  {.epochs = 12,
                                   .batch_size = 16,
                                   .seed = 3,
                                   .progress = train::progress_display::never,
                                   .restore_best = true,
                                   .on_epoch =
                                       [&](const train::epoch_report& e) {
                                         if (e.validation_loss < best_seen) {
                                           best_seen = e.validation_loss;
                                           W1_best = step.get(W1);
                                         }
                                         if (e.epoch == 4)
                                           step.set(W2, 40.0 * step.get(W2));  // the later epochs start far off: worse
                                       }},
                                  train::data(X = validation.features, Y = validation.targets));
  REQUIRE(history.validation_loss.size() == 12);
  REQUIRE(history.best_epoch >= 1);
  REQUIRE(history.best_epoch <= 4);  // (so that the last step's parameters are not the best ones)
  const double best = history.validation_loss[history.best_epoch - 1];
  CHECK(best < first);
  // the parameters are the best epoch's: with handles instead of copies they would be the last step's
  CHECK(step.loss(X = validation.features, Y = validation.targets) == doctest::Approx(best).epsilon(1e-12));
  CHECK(step.get(W1) == W1_best);
}
