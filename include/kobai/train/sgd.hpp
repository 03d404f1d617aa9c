// Stochastic gradient descent with PyTorch's semantics (torch.optim.SGD): momentum, dampening,
// Nesterov and weight decay, for scalar and tensor parameters held by the caller.
#pragma once

#include <array>
#include <tuple>

#include "kobai/expr/operators.hpp"
#include "kobai/train/elementwise.hpp"

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
    detail::require(options_.learning_rate >= 0 && options_.momentum >= 0 && options_.weight_decay >= 0, "sgd",
                    "learning_rate, momentum and weight_decay must not be negative");
    detail::require(!options_.nesterov || (options_.momentum > 0 && options_.dampening == 0), "sgd",
                    "Nesterov momentum needs momentum > 0 and dampening = 0");
  }

  /// One step: `optimizer.step(std::tie(w, b), std::tie(dw, db));`
  template <class... Parameters, class... Gradients>
  void step(std::tuple<Parameters&...> parameters, const std::tuple<Gradients...>& gradients) {
    const bool first = state_.steps() == 0;
    const sgd_options o = options_;
    state_.for_each("sgd", parameters, gradients, [o, first](auto& value, auto gradient, auto& state) {
      auto g = gradient + o.weight_decay * value;
      if (o.momentum != 0) {
        auto& momentum_buffer = state[0];
        momentum_buffer = first ? g : o.momentum * momentum_buffer + (1 - o.dampening) * g;
        g = o.nesterov ? g + o.momentum * momentum_buffer : momentum_buffer;
      }
      value -= o.learning_rate * g;
    });
  }

  /// The same update as expressions of a parameter p, its gradient g and its momentum buffer b,
  /// for compile_step's fused program: returns (p, b) after the step, with the settings bound as
  /// the scalar leaves fused_scalars to fused_values(t) at step t (see adam::fused_update).
  static constexpr auto fused_scalars =
      std::tuple{input<"kobai.sgd.learning_rate">, input<"kobai.sgd.weight_decay">, input<"kobai.sgd.momentum">,
                 input<"kobai.sgd.kept">,          input<"kobai.sgd.added">,        input<"kobai.sgd.nesterov">,
                 input<"kobai.sgd.has_momentum">};
  template <class P, class G, class B>
  static constexpr auto fused_update(P p, G g, B b) {
    const auto [rate, weight_decay, momentum, kept, added, nesterov, has_momentum] = fused_scalars;
    const auto decayed = g + weight_decay * p;
    // (kept, added) = (0, 1) at the first step, when the buffer becomes the gradient
    const auto b_next = where(has_momentum, kept * b + added * decayed, b);
    const auto direction = where(has_momentum, where(nesterov, decayed + momentum * b_next, b_next), decayed);
    return std::tuple{p - rate * direction, b_next};
  }
  /// The values of fused_scalars at step t (1 for the first).
  [[nodiscard]] std::array<double, 7> fused_values(std::size_t t) const {
    const bool first = t == 1;
    return {options_.learning_rate,
            options_.weight_decay,
            options_.momentum,
            first ? 0 : options_.momentum,
            first ? 1 : 1 - options_.dampening,
            options_.nesterov ? 1.0 : 0.0,
            options_.momentum != 0 ? 1.0 : 0.0};
  }

  [[nodiscard]] const sgd_options& options() const { return options_; }
  [[nodiscard]] double learning_rate() const { return options_.learning_rate; }
  /// What a learning-rate schedule sets (train/schedules.hpp).
  void set_learning_rate(double rate) { options_.learning_rate = rate; }
  /// "sgd" (checkpoints record it).
  [[nodiscard]] const char* name() const { return "sgd"; }

  /// The per-element state, named as in torch's state_dict (for checkpoints).
  static constexpr std::array<const char*, 1> state_names{"momentum_buffer"};
  [[nodiscard]] detail::elementwise_state<1>& state() { return state_; }
  [[nodiscard]] const detail::elementwise_state<1>& state() const { return state_; }

 private:
  sgd_options options_;
  detail::elementwise_state<1> state_;
};

}  // namespace kobai::train
