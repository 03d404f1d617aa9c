// Initialisers (train/init.hpp) against torch.nn.init's formulas, and accuracy by hand.
#include <doctest/doctest.h>

#include <cmath>
#include <xtensor/xtensor.hpp>

#include "kobai/train.hpp"

using namespace kobai;

namespace {
struct moments {
  double mean = 0, variance = 0, largest = 0;
};
template <class Container>
moments moments_of(const Container& values) {
  moments m;
  for (double v : values) m.mean += v / static_cast<double>(values.size());
  for (double v : values) {
    m.variance += (v - m.mean) * (v - m.mean) / static_cast<double>(values.size());
    m.largest = std::max(m.largest, std::abs(v));
  }
  return m;
}
}  // namespace

TEST_CASE("Kaiming and Xavier draw from torch.nn.init's distributions, over (inputs, outputs) fans") {
  xt::xtensor<double, 2> W = xt::zeros<double>({200, 300});  // fan_in 200, fan_out 300
  // nn.Linear's default, kaiming_uniform with a = √5: U(−1/√fan_in, 1/√fan_in), variance b²/3
  train::kaiming_uniform(W, 1);
  double bound = 1 / std::sqrt(200.0);
  moments m = moments_of(W);
  CHECK(m.largest <= bound);
  CHECK(m.largest > 0.99 * bound);
  CHECK(std::abs(m.mean) < 0.01 * bound);
  CHECK(m.variance == doctest::Approx(bound * bound / 3).epsilon(0.02));
  // kaiming_normal, a = 0 (ReLU): σ² = 2 / fan_in
  train::kaiming_normal(W, 2);
  CHECK(moments_of(W).variance == doctest::Approx(2.0 / 200).epsilon(0.02));
  // xavier_uniform with gain 2: b = 2·√(6 / 500)
  train::xavier_uniform(W, 3, 2.0);
  bound = 2 * std::sqrt(6.0 / 500);
  m = moments_of(W);
  CHECK(m.largest <= bound);
  CHECK(m.variance == doctest::Approx(bound * bound / 3).epsilon(0.02));
  // xavier_normal: σ² = 2 / 500
  train::xavier_normal(W, 4);
  m = moments_of(W);
  CHECK(m.variance == doctest::Approx(2.0 / 500).epsilon(0.02));
  CHECK(std::abs(m.mean) < 0.01 * std::sqrt(2.0 / 500));
}

TEST_CASE("the same seed gives the same weights, another seed others; float weights too") {
  xt::xtensor<float, 2> a = xt::zeros<float>({8, 4}), b = a, c = a;
  train::xavier_uniform(a, 7);
  train::xavier_uniform(b, 7);
  train::xavier_uniform(c, 8);
  CHECK(a == b);
  CHECK(a != c);
  xt::xtensor<float, 1> bias = xt::zeros<float>({4});
  train::uniform(bias, 9, -0.5, 0.5);
  for (float v : bias) CHECK((v >= -0.5f && v < 0.5f));
  xt::xtensor<double, 2> empty = xt::zeros<double>({0, 3});
  CHECK_THROWS_AS(train::kaiming_uniform(empty, 1), kobai::error);
}

TEST_CASE("accuracy counts the rows whose largest score is the target's class") {
  const xt::xtensor<double, 2> scores = {{0.1, 2.0, -1.0}, {3.0, 3.0, 0.0}, {-1.0, -2.0, -0.5}, {0.0, 1.0, 0.5}};
  // predicted classes: 1, 0 (a tie goes to the first), 2, 1
  const xt::xtensor<double, 2> one_hot = {{0, 1, 0}, {0, 1, 0}, {0, 0, 1}, {1, 0, 0}};
  CHECK(train::accuracy(scores, one_hot) == 0.5);
  const xt::xtensor<std::int64_t, 1> labels = {1, 0, 2, 1};
  CHECK(train::accuracy(scores, labels) == 1.0);
  const xt::xtensor<std::int64_t, 1> out_of_range = {1, 0, 3, 1};
  CHECK_THROWS_AS(train::accuracy(scores, out_of_range), kobai::error);
  const xt::xtensor<double, 2> wrong = {{0, 1}, {1, 0}, {0, 1}, {1, 0}};
  CHECK_THROWS_AS(train::accuracy(scores, wrong), kobai::shape_error);
}
