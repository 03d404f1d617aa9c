// Each optimizer's update as expressions (fused_update, what a device step compiles into its
// program) against the same optimizer's host step (checked against torch's formulas written out in
// tests/train/optimizers.cpp): 20 steps on a vector parameter with new gradients at every step,
// the parameters and every slot of the state compared, for the settings each branch of the
// expressions serves (AMSGrad or not, coupled or decoupled decay, the first momentum step,
// Nesterov, dampening, centred RMSprop, with and without momentum).
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <tuple>
#include <utility>
#include <xtensor/xtensor.hpp>

#include "kobai/kobai.hpp"
#include "kobai/train.hpp"

using namespace kobai;
namespace train = kobai::train;

namespace {

constexpr auto p = input<"p", 1>;
constexpr auto g = input<"g", 1>;
constexpr auto slots = std::tuple{input<"s0", 1>, input<"s1", 1>, input<"s2", 1>};  // the state
template <std::size_t S>
constexpr auto slot = std::get<S>(slots);

template <class Optimizer, std::size_t... S>
double largest_difference(Optimizer host, std::index_sequence<S...>) {
  constexpr std::size_t count = sizeof...(S);
  const auto program = compile(Optimizer::fused_update(p, g, slot<S>...));
  const Optimizer settings = host;
  const std::size_t n = 37;
  std::mt19937 rng(7);
  std::normal_distribution<double> normal;
  xt::xtensor<double, 1> host_p = xt::xtensor<double, 1>::from_shape({n});
  for (auto& v : host_p) v = normal(rng);
  xt::xtensor<double, 1> fused_p = host_p;
  const xt::xtensor<double, 1> initial = host_p;
  std::array<xt::xtensor<double, 1>, count> state;
  for (auto& s : state) s = xt::zeros<double>({n});
  double largest = 0;
  for (std::size_t t = 1; t <= 20; ++t) {
    xt::xtensor<double, 1> gradient = xt::xtensor<double, 1>::from_shape({n});
    for (auto& v : gradient) v = normal(rng) * (t % 3 == 0 ? 10 : 1);  // (AMSGrad's max changes hands)
    host.step(std::tie(host_p), std::tie(gradient));
    const auto values = settings.fused_values(t);
    const auto results = [&]<std::size_t... K>(std::index_sequence<K...>) {
      return program(p = fused_p, g = gradient, (slot<S> = state[S])...,
                     (std::get<K>(Optimizer::fused_scalars) = values[K])...);
    }
    (std::make_index_sequence<values.size()>{});
    fused_p = std::get<0>(results);
    ((state[S] = std::get<S + 1>(results)), ...);
    const std::vector<double>& host_state = host.state().of(0);
    for (std::size_t i = 0; i < n; ++i) {
      largest = std::max(largest, std::abs(fused_p(i) - host_p(i)) / std::max(1.0, std::abs(host_p(i))));
      for (std::size_t s = 0; s < count; ++s)
        largest = std::max(
            largest, std::abs(state[s](i) - host_state[s * n + i]) / std::max(1.0, std::abs(host_state[s * n + i])));
    }
  }
  CHECK(xt::amax(xt::abs(host_p - initial))() > 1e-3);  // the steps moved the parameters
  return largest;
}

template <class Optimizer>
double largest_difference(Optimizer host) {
  return largest_difference(host, std::make_index_sequence<Optimizer::state_names.size()>{});
}

}  // namespace

TEST_CASE("Adam and AdamW as expressions take the host optimizer's steps") {
  CHECK(largest_difference(train::adam({.learning_rate = 0.1})) <= 1e-13);
  CHECK(largest_difference(train::adam({.learning_rate = 0.1, .weight_decay = 0.05, .amsgrad = true})) <= 1e-13);
  CHECK(largest_difference(train::adamw({.learning_rate = 0.1, .betas = {0.8, 0.9}, .weight_decay = 0.1})) <= 1e-13);
  CHECK(largest_difference(train::adamw({.learning_rate = 0.1, .amsgrad = true})) <= 1e-13);
}

TEST_CASE("SGD as expressions takes the host optimizer's steps") {
  CHECK(largest_difference(train::sgd({.learning_rate = 0.1})) <= 1e-13);
  CHECK(largest_difference(train::sgd({.learning_rate = 0.1, .momentum = 0.9, .dampening = 0.3})) <= 1e-13);
  CHECK(largest_difference(
            train::sgd({.learning_rate = 0.1, .momentum = 0.5, .weight_decay = 0.01, .nesterov = true})) <= 1e-13);
}

TEST_CASE("RMSprop as expressions takes the host optimizer's steps") {
  CHECK(largest_difference(train::rmsprop({.learning_rate = 0.01})) <= 1e-13);
  CHECK(largest_difference(train::rmsprop({.learning_rate = 0.01, .weight_decay = 0.1, .momentum = 0.9})) <= 1e-13);
  CHECK(largest_difference(train::rmsprop({.learning_rate = 0.01, .alpha = 0.9, .momentum = 0.5, .centered = true})) <=
        1e-13);
  CHECK(largest_difference(train::rmsprop({.learning_rate = 0.01, .centered = true})) <= 1e-13);
}
