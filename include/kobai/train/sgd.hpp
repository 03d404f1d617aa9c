// Stochastic gradient descent with PyTorch's semantics (torch.optim.SGD): momentum, dampening,
// Nesterov and weight decay, for scalar and tensor parameters held by the caller.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <vector>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"

namespace kobai::train {

/// The settings of torch.optim.SGD, with the same names and defaults.
struct sgd_options {
  double learning_rate = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

/// Updates parameters in place from their gradients, one step per call:
///   g ← ∇ + weight_decay·p;  b ← g (first step) or momentum·b + (1 − dampening)·g;
///   g ← g + momentum·b (Nesterov) or b;  p ← p − learning_rate·g.
/// Parameters are numbers or containers (xt::xtensor, …); each gradient has its parameter's shape.
/// Momentum buffers are allocated on the first step only.
class sgd {
 public:
  explicit sgd(sgd_options options) : options_(options) {
    if (options_.learning_rate < 0 || options_.momentum < 0 || options_.weight_decay < 0)
      throw error("kobai::train::sgd: learning_rate, momentum and weight_decay must not be negative");
    if (options_.nesterov && (options_.momentum <= 0 || options_.dampening != 0))
      throw error("kobai::train::sgd: Nesterov momentum needs momentum > 0 and dampening = 0");
  }

  /// One step: `optimizer.step(std::tie(w, b), std::tie(dw, db));`
  template <class... Parameters, class... Gradients>
  void step(std::tuple<Parameters&...> parameters, const std::tuple<Gradients...>& gradients) {
    static_assert(sizeof...(Parameters) == sizeof...(Gradients), "kobai::train::sgd: one gradient per parameter");
    if (buffers_.empty()) buffers_.resize(sizeof...(Parameters));
    if (buffers_.size() != sizeof...(Parameters))
      throw error("kobai::train::sgd: call step with the same parameters every time");
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (update(std::get<K>(parameters), std::get<K>(gradients), buffers_[K], K), ...);
    }
    (std::index_sequence_for<Parameters...>{});
    first_step_ = false;
  }

  [[nodiscard]] const sgd_options& options() const { return options_; }

 private:
  template <class Parameter, class Gradient>
  void update(Parameter& parameter, const Gradient& gradient, std::vector<double>& buffer, std::size_t index) {
    if constexpr (std::is_arithmetic_v<Parameter>) {
      static_assert(std::is_arithmetic_v<std::remove_cvref_t<Gradient>>,
                    "kobai::train::sgd: a number's gradient is a number");
      double value = static_cast<double>(parameter);
      if (buffer.empty()) buffer.resize(1);
      update_element(value, static_cast<double>(gradient), buffer[0]);
      parameter = static_cast<Parameter>(value);
    } else {
      if (gradient.size() != parameter.size())
        throw shape_error(detail::join("kobai::train::sgd: parameter ", std::to_string(index), " has ",
                                       std::to_string(parameter.size()), " elements but its gradient has ",
                                       std::to_string(gradient.size())));
      if (buffer.empty()) buffer.resize(parameter.size());
      auto* values = parameter.data();
      const auto* grads = gradient.data();
      for (std::size_t i = 0; i < parameter.size(); ++i) {
        double value = static_cast<double>(values[i]);
        update_element(value, static_cast<double>(grads[i]), buffer[i]);
        values[i] = static_cast<std::remove_reference_t<decltype(values[i])>>(value);
      }
    }
  }

  void update_element(double& value, double gradient, double& momentum_buffer) const {
    double g = gradient + options_.weight_decay * value;
    if (options_.momentum != 0) {
      momentum_buffer = first_step_ ? g : options_.momentum * momentum_buffer + (1 - options_.dampening) * g;
      g = options_.nesterov ? g + options_.momentum * momentum_buffer : momentum_buffer;
    }
    value -= options_.learning_rate * g;
  }

  sgd_options options_;
  std::vector<std::vector<double>> buffers_;
  bool first_step_ = true;
};

}  // namespace kobai::train
