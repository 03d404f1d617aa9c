// SGD against torch.optim.SGD's update rule written out by hand, for numbers and tensors.
#include <doctest/doctest.h>

#include <tuple>
#include <xtensor/xtensor.hpp>

#include "kobai/train/sgd.hpp"

using kobai::train::sgd;
using kobai::train::sgd_options;

namespace {

// PyTorch's documented algorithm for one parameter element, kept independent of the class.
struct reference_sgd {
  sgd_options o;
  double buffer = 0;
  bool first = true;
  void step(double& p, double grad) {
    double g = grad + o.weight_decay * p;
    if (o.momentum != 0) {
      buffer = first ? g : o.momentum * buffer + (1 - o.dampening) * g;
      g = o.nesterov ? g + o.momentum * buffer : buffer;
    }
    first = false;
    p -= o.learning_rate * g;
  }
};

}  // namespace

TEST_CASE("plain, momentum, dampening, Nesterov and weight decay match the reference rule") {
  const sgd_options settings[] = {{0.1}, {0.1, 0.9}, {0.05, 0.9, 0.3}, {0.1, 0.8, 0, 0.01, true}, {0.2, 0, 0, 0.1}};
  for (const auto& options : settings) {
    sgd optimizer(options);
    reference_sgd ref_w{options}, ref_v{options};
    double w = 1.5, expected_w = 1.5;
    xt::xtensor<float, 1> V = {1.0f, -2.0f, 0.5f};
    double expected_v0 = 1.0;
    for (int step = 0; step < 6; ++step) {
      const double gw = 2 * w - 1;  // gradients of some loss, changing every step
      xt::xtensor<float, 1> gV = V * 3.0f;
      optimizer.step(std::tie(w, V), std::tie(gw, gV));
      ref_w.step(expected_w, 2 * expected_w - 1);
      ref_v.step(expected_v0, 3 * expected_v0);
    }
    CHECK(w == doctest::Approx(expected_w).epsilon(1e-12));
    CHECK(V(0) == doctest::Approx(expected_v0).epsilon(1e-6));
  }
}

TEST_CASE("misuse is an error, not a silent wrong step") {
  CHECK_THROWS_AS(sgd(sgd_options{-0.1}), kobai::error);
  CHECK_THROWS_AS(sgd(sgd_options{0.1, 0, 0, 0, true}), kobai::error);  // Nesterov without momentum
  sgd optimizer(sgd_options{0.1});
  xt::xtensor<double, 1> p = {1, 2, 3};
  const xt::xtensor<double, 1> wrong = {1, 2};
  CHECK_THROWS_AS(optimizer.step(std::tie(p), std::tie(wrong)), kobai::shape_error);
}
