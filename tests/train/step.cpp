// compile_step (train/step.hpp): the update fused into a compiled step gives the parameters the
// host optimizer gives after 50 steps on minibatches; its gradients match central differences of
// its loss; checkpoints restore parameters and optimizer state exactly, and NumPy reads them.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <tuple>
#include <xtensor/xtensor.hpp>

#include "kobai/kobai.hpp"
#include "kobai/train.hpp"
#include "python.hpp"

using namespace kobai;
namespace train = kobai::train;

namespace {

constexpr auto X = input<"X", 2>;  // (N, 3)
constexpr auto Y = input<"Y", 2>;  // (N, 2)
constexpr auto W = var<"W", 2>;    // (3, 2)
constexpr auto b = var<"b", 1>;    // (2)
constexpr auto s = var<"s">;       // a scalar gain
constexpr auto loss = mse(s * tanh(matmul(X, W) + b), Y);

xt::xtensor<double, 2> random_matrix(std::size_t rows, std::size_t columns, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  auto m = xt::xtensor<double, 2>::from_shape({rows, columns});
  for (auto& v : m) v = normal(rng);
  return m;
}

struct problem {
  train::dataset<double> data;
  xt::xtensor<double, 2> W0;
  xt::xtensor<double, 1> b0;
  double s0 = 0.8;
};
problem make_problem(unsigned seed) {
  std::mt19937 rng(seed);
  problem p{{random_matrix(30, 3, rng), random_matrix(30, 2, rng)}, random_matrix(3, 2, rng), {0.1, -0.2}};
  return p;
}

template <class Step>
void initialise(Step& step, const problem& p) {
  step.parameter(W) = p.W0;
  step.parameter(b) = p.b0;
  step.parameter(s) = p.s0;
}

// 50 steps on batches of 7 rows (the last of each epoch 2 rows) with the fused step and with a
// compiled loss-and-gradients program plus the host optimizer; the parameters must agree.
template <class Optimizer>
void check_against_host(Optimizer optimizer) {
  const problem p = make_problem(3);
  auto fused = train::compile_step(loss, train::parameters(W, b, s), optimizer);
  initialise(fused, p);
  auto host_program = compile(loss, grad(loss, W), grad(loss, b), grad(loss, s));
  Optimizer host = optimizer;
  xt::xtensor<double, 2> Wh = p.W0;
  xt::xtensor<double, 1> bh = p.b0;
  double sh = p.s0;
  train::minibatches<double> batches(p.data, 7, 11);
  for (int step = 0; step < 50; ++step) {
    const std::size_t k = static_cast<std::size_t>(step) % batches.count();
    if (step > 0 && k == 0) batches.next_epoch();
    const auto batch = batches[k];
    const double L = fused(X = batch.features, Y = batch.targets);
    auto [Lh, gW, gb, gs] = host_program(X = batch.features, Y = batch.targets, W = Wh, b = bh, s = sh);
    CHECK(L == doctest::Approx(Lh).epsilon(1e-12));
    host.step(std::tie(Wh, bh, sh), std::tie(gW, gb, gs));
  }
  CHECK(fused.steps() == 50);
  for (std::size_t i = 0; i < Wh.size(); ++i)
    CHECK(fused.parameter(W).data()[i] == doctest::Approx(Wh.data()[i]).epsilon(1e-12));
  for (std::size_t i = 0; i < bh.size(); ++i) CHECK(fused.parameter(b)(i) == doctest::Approx(bh(i)).epsilon(1e-12));
  CHECK(fused.parameter(s) == doctest::Approx(sh).epsilon(1e-12));
  // the parameters moved: a step that did not update would fail the comparison only by accident
  CHECK(std::abs(fused.parameter(s) - p.s0) > 1e-6);
}

}  // namespace

TEST_CASE("the fused update gives the host optimizer's parameters after 50 steps") {
  check_against_host(train::adam({.learning_rate = 1e-2, .amsgrad = true}));
  check_against_host(train::adamw({.learning_rate = 1e-2, .weight_decay = 0.05}));
  check_against_host(train::sgd({.learning_rate = 0.05, .momentum = 0.9, .nesterov = true}));
  check_against_host(train::rmsprop({.learning_rate = 1e-2, .momentum = 0.5, .centered = true}));
}

TEST_CASE("a step's gradients are the central differences of its loss, on new data too") {
  auto step = train::compile_step(loss, train::parameters(W, b, s), train::sgd({.learning_rate = 0}));
  for (const unsigned seed : {5u, 6u}) {  // the second run: new data and parameters in the same step object
    const problem p = make_problem(seed);
    initialise(step, p);
    step(X = p.data.features, Y = p.data.targets);        // a learning rate of 0: the parameters stay
    const auto central_difference = [&](double& value) {  // of the loss in one parameter element
      const double h = 1e-6, kept = value;
      value = kept + h;
      const double up = step.loss(X = p.data.features, Y = p.data.targets);
      value = kept - h;
      const double down = step.loss(X = p.data.features, Y = p.data.targets);
      value = kept;
      return (up - down) / (2 * h);
    };
    for (std::size_t i = 0; i < 6; ++i)
      CHECK(step.gradient(W).data()[i] ==
            doctest::Approx(central_difference(step.parameter(W).data()[i])).epsilon(1e-6));
    for (std::size_t i = 0; i < 2; ++i)
      CHECK(step.gradient(b)(i) == doctest::Approx(central_difference(step.parameter(b)(i))).epsilon(1e-6));
    CHECK(step.gradient(s) == doctest::Approx(central_difference(step.parameter(s))).epsilon(1e-6));
  }
}

TEST_CASE("a checkpoint restores the parameters and the optimizer state exactly") {
  const problem p = make_problem(8);
  const std::string path = std::string(P_tmpdir) + "/kobai_test_step_checkpoint.npz";
  auto run = [&](auto& step, std::size_t first_batch, std::size_t count) {
    train::minibatches<double> batches(p.data, 8, 2, false);
    for (std::size_t k = first_batch; k < first_batch + count; ++k) {
      const auto batch = batches[k % batches.count()];
      step(X = batch.features, Y = batch.targets);
    }
  };
  const train::adam_options options{.learning_rate = 2e-2, .amsgrad = true};
  auto original = train::compile_step(loss, train::parameters(W, b, s), train::adam(options));
  initialise(original, p);
  run(original, 0, 5);
  original.save(path);
  const xt::xtensor<double, 2> restored_at_5 = original.parameter(W);
  run(original, 5, 5);

  auto restored = train::compile_step(loss, train::parameters(W, b, s), train::adam(options));
  restored.load(path);  // parameters never set take the checkpoint's shapes
  CHECK(restored.steps() == 5);
  run(restored, 5, 5);
  CHECK(restored.parameter(W) == original.parameter(W));  // bit for bit: Adam's moments and step count came back
  CHECK(restored.parameter(b) == original.parameter(b));
  CHECK(restored.parameter(s) == original.parameter(s));

  // without the optimizer state the continuation differs: the comparison above can fail
  auto fresh_state = train::compile_step(loss, train::parameters(W, b, s), train::adam(options));
  train::npz_archive parameters_only;
  parameters_only.put("W", train::npz_archive::load(path).get<double, 2>("W"));
  parameters_only.put("b", train::npz_archive::load(path).get<double, 1>("b"));
  parameters_only.put("s", train::npz_archive::load(path).get<double, 0>("s"));
  fresh_state.load(parameters_only);  // parameters alone: the optimizer starts afresh
  CHECK(fresh_state.steps() == 0);
  run(fresh_state, 5, 5);
  CHECK(fresh_state.parameter(W) != original.parameter(W));

  // another shape is an error naming the parameter and both shapes, and nothing changes
  auto wider = train::compile_step(loss, train::parameters(W, b, s), train::adam(options));
  wider.parameter(W) = xt::zeros<double>({4, 2});
  CHECK_THROWS_WITH_AS(wider.load(path), "kobai::train::npz_archive: 'W' is (3, 2) in the archive but (4, 2) here",
                       kobai::shape_error);
  CHECK(wider.parameter(W).shape(0) == 4);
  CHECK(wider.steps() == 0);

  // another optimizer's checkpoint is refused; a float step reads the double checkpoint
  auto other = train::compile_step(loss, train::parameters(W, b, s), train::sgd({.learning_rate = 0.1}));
  CHECK_THROWS_WITH_AS(other.load(path), "kobai::train: the checkpoint holds the state of adam, not of this step's sgd",
                       kobai::error);
  auto in_float = train::compile_step<float>(loss, train::parameters(W, b, s), train::adam(options));
  in_float.load(path);
  CHECK(in_float.parameter(W)(2, 1) == static_cast<float>(restored_at_5(2, 1)));
  CHECK(in_float.steps() == 5);

  const std::string python = python_with_numpy();
  if (python.empty()) {
    MESSAGE("NumPy is not installed for python3: reading the checkpoint with NumPy is skipped");
  } else {
    const std::string check = python + " -c \"import numpy as np; d = np.load('" + path +
                              "'); assert d['W'].shape == (3, 2) and d['W.exp_avg'].shape == (3, 2); "
                              "assert d['b.max_exp_avg_sq'].shape == (2,) and d['s'].shape == (); "
                              "assert (d['W.exp_avg'] < 0).any() and (d['W.exp_avg_sq'] > 0).all(); "
                              "assert (d['W.max_exp_avg_sq'] >= d['W.exp_avg_sq']).all(); "
                              "assert 'optimizer.kind.adam' in d.files; "
                              "assert d['optimizer.step'][0] == 5 and d['optimizer.learning_rate'][0] == 0.02\"";
    CHECK(std::system(check.c_str()) == 0);
  }
  std::remove(path.c_str());
}

TEST_CASE("a step refuses unset parameters and a non-finite loss, naming them") {
  const problem p = make_problem(9);
  auto step = train::compile_step(loss, train::parameters(W, b, s), train::sgd({.learning_rate = 0.1}));
  CHECK_THROWS_WITH_AS(step(X = p.data.features, Y = p.data.targets),
                       "kobai::train: parameter 'W' has no elements; set step.parameter(W) before the first step",
                       kobai::binding_error);
  initialise(step, p);
  auto features = p.data.features;
  features(4, 1) = std::nan("");
  const auto before = step.parameter(W);
  CHECK_THROWS_WITH_AS(step(X = features, Y = p.data.targets),
                       "kobai::train: the loss is NaN at step 1; the parameters were not updated", kobai::error);
  CHECK(step.parameter(W) == before);
  CHECK(step.steps() == 0);
  CHECK(step(X = p.data.features, Y = p.data.targets) > 0);
  CHECK(step.parameter(W) != before);

  // a parameter that changes shape after a step is refused before anything is updated
  const auto b_before = step.parameter(b);
  step.parameter(W) = xt::zeros<double>({3, 3});
  const xt::xtensor<double, 2> three_targets = xt::zeros<double>({30, 3});
  CHECK_THROWS_WITH_AS(step(X = p.data.features, Y = three_targets),
                       "kobai::train: parameter 'W' has 9 elements but its optimizer state is for 6; keep a "
                       "parameter's shape between steps",
                       kobai::shape_error);
  CHECK(step.parameter(b) == b_before);
  CHECK(step.steps() == 1);
}

TEST_CASE("a learning-rate schedule drives a step, in float too") {
  const problem p = make_problem(10);
  auto step = train::compile_step<float>(loss, train::parameters(W, b, s), train::adam({.learning_rate = 0.1}));
  step.parameter(W) = xt::cast<float>(p.W0);
  step.parameter(b) = xt::cast<float>(p.b0);
  step.parameter(s) = 0.8f;
  const xt::xtensor<float, 2> features = xt::cast<float>(p.data.features), targets = xt::cast<float>(p.data.targets);
  train::step_lr schedule(step, {.step_size = 2, .gamma = 0.5});
  const float first = step(X = features, Y = targets);
  float last = first;
  for (int epoch = 0; epoch < 6; ++epoch) {
    last = step(X = features, Y = targets);
    schedule.step();
  }
  CHECK(step.learning_rate() == doctest::Approx(0.1 * 0.125));
  CHECK(last < first);
}
