// Initialisers with PyTorch's formulas (torch.nn.init), seeded and the same on every platform, and
// accuracy. kobai's weights are (inputs, outputs), as in matmul(X, W): fan_in is the extent of
// axis 0 and fan_out that of axis 1 (PyTorch's nn.Linear stores the transpose).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <xtensor/xtensor.hpp>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"
#include "kobai/train/random.hpp"

namespace kobai::train {

namespace detail {

template <class T, std::size_t N>
void check_fans(const xt::xtensor<T, N>& weight, const char* name) {
  static_assert(N == 2, "kobai::train: the fan-based initialisers take a weight matrix (inputs, outputs)");
  if (weight.size() == 0) throw error(kobai::detail::join("kobai::train::", name, ": the weight matrix is empty"));
}
}  // namespace detail

/// Every element drawn from U(low, high) (torch.nn.init.uniform_).
template <class Container>
void uniform(Container& values, std::uint64_t seed, double low, double high) {
  detail::random_stream random(seed);
  for (auto& v : values) v = static_cast<std::remove_reference_t<decltype(v)>>(low + (high - low) * random.uniform());
}

/// Every element drawn from N(mean, std²) (torch.nn.init.normal_).
template <class Container>
void normal(Container& values, std::uint64_t seed, double mean, double std) {
  detail::random_stream random(seed);
  for (auto& v : values) v = static_cast<std::remove_reference_t<decltype(v)>>(mean + std * random.normal());
}

/// torch.nn.init.kaiming_uniform_ (mode fan_in, leaky ReLU slope a): U(−b, b) with
/// b = √(2 / (1 + a²)) · √(3 / fan_in). The default a = √5 is nn.Linear's: b = 1 / √fan_in.
template <class T>
void kaiming_uniform(xt::xtensor<T, 2>& weight, std::uint64_t seed, double a = std::sqrt(5.0)) {
  detail::check_fans(weight, "kaiming_uniform");
  const double bound = std::sqrt(2.0 / (1.0 + a * a)) * std::sqrt(3.0 / static_cast<double>(weight.shape(0)));
  uniform(weight, seed, -bound, bound);
}

/// torch.nn.init.kaiming_normal_ (mode fan_in, leaky ReLU slope a): N(0, σ²), σ = √(2 / (1 + a²)) / √fan_in.
template <class T>
void kaiming_normal(xt::xtensor<T, 2>& weight, std::uint64_t seed, double a = 0) {
  detail::check_fans(weight, "kaiming_normal");
  normal(weight, seed, 0.0, std::sqrt(2.0 / (1.0 + a * a)) / std::sqrt(static_cast<double>(weight.shape(0))));
}

/// torch.nn.init.xavier_uniform_: U(−b, b), b = gain · √(6 / (fan_in + fan_out)).
template <class T>
void xavier_uniform(xt::xtensor<T, 2>& weight, std::uint64_t seed, double gain = 1) {
  detail::check_fans(weight, "xavier_uniform");
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(weight.shape(0) + weight.shape(1)));
  uniform(weight, seed, -bound, bound);
}

/// torch.nn.init.xavier_normal_: N(0, σ²), σ = gain · √(2 / (fan_in + fan_out)).
template <class T>
void xavier_normal(xt::xtensor<T, 2>& weight, std::uint64_t seed, double gain = 1) {
  detail::check_fans(weight, "xavier_normal");
  normal(weight, seed, 0.0, gain * std::sqrt(2.0 / static_cast<double>(weight.shape(0) + weight.shape(1))));
}

/// The fraction of rows whose largest score is in the target's class: targets one-hot (or
/// probabilities, their largest entry taken) of the scores' shape, or class indices, one per row.
/// Ties go to the first class, as torch.argmax.
template <class Scores, class Targets>
double accuracy(const Scores& scores, const Targets& targets) {
  if (scores.dimension() != 2) throw shape_error("kobai::train::accuracy: scores are (rows, classes)");
  const std::size_t rows = scores.shape(0), classes = scores.shape(1);
  const bool indices = targets.dimension() == 1;
  if (targets.shape(0) != rows || (!indices && (targets.dimension() != 2 || targets.shape(1) != classes)))
    throw shape_error(kobai::detail::join("kobai::train::accuracy: ", std::to_string(rows), "×",
                                          std::to_string(classes), " scores against targets of another shape"));
  if (rows == 0) throw error("kobai::train::accuracy: no rows");
  const auto first_max = [classes](const auto* row) {
    std::size_t best = 0;
    for (std::size_t c = 1; c < classes; ++c)
      if (row[c] > row[best]) best = c;
    return best;
  };
  std::size_t right = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t predicted = first_max(scores.data() + r * classes);
    const std::size_t wanted =
        indices ? static_cast<std::size_t>(targets.data()[r]) : first_max(targets.data() + r * classes);
    if (wanted >= classes)
      throw error(kobai::detail::join("kobai::train::accuracy: row ", std::to_string(r),
                                      "'s class index is not in [0, ", std::to_string(classes), ")"));
    right += predicted == wanted ? 1 : 0;
  }
  return static_cast<double>(right) / static_cast<double>(rows);
}

}  // namespace kobai::train
