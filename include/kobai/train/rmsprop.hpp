// RMSprop with PyTorch's semantics (torch.optim.RMSprop): a running mean of squared gradients,
// optionally centred, with momentum and L2 weight decay, for scalar and tensor parameters.
#pragma once

#include <array>
#include <cmath>
#include <tuple>

#include "kobai/expr/math.hpp"
#include "kobai/expr/operators.hpp"
#include "kobai/train/elementwise.hpp"

namespace kobai::train {

/// The settings of torch.optim.RMSprop, with the same names (learning_rate for lr) and defaults.
struct rmsprop_options {
  double learning_rate = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
};

/// Per element (PyTorch's algorithm): g ← g + λp;  s ← αs + (1 − α)g²;
///   ḡ ← αḡ + (1 − α)g and d ← √(s − ḡ²) + ε (centred), or d ← √s + ε;
///   b ← μb + g/d and p ← p − lr·b (momentum μ > 0), or p ← p − lr·g/d.
class rmsprop {
 public:
  explicit rmsprop(rmsprop_options options = {}) : options_(options) {
    detail::require(options.learning_rate >= 0 && options.eps >= 0 && options.weight_decay >= 0 &&
                        options.momentum >= 0 && options.alpha >= 0,
                    "rmsprop", "learning_rate, alpha, eps, weight_decay and momentum must not be negative");
  }

  template <class... Parameters, class... Gradients>
  void step(std::tuple<Parameters&...> parameters, const std::tuple<Gradients...>& gradients) {
    const rmsprop_options o = options_;
    state_.for_each("rmsprop", parameters, gradients, [o](auto& value, auto g, auto& state) {
      using std::sqrt;  // (xsimd's for batches)
      auto& square_avg = state[0];
      auto& momentum_buffer = state[1];
      auto& grad_avg = state[2];
      g += o.weight_decay * value;
      square_avg = o.alpha * square_avg + (1 - o.alpha) * g * g;
      if (o.centered) grad_avg = o.alpha * grad_avg + (1 - o.alpha) * g;
      const auto denominator = sqrt(o.centered ? square_avg - grad_avg * grad_avg : square_avg) + o.eps;
      if (o.momentum > 0) {
        momentum_buffer = o.momentum * momentum_buffer + g / denominator;
        value -= o.learning_rate * momentum_buffer;
      } else {
        value -= o.learning_rate * g / denominator;
      }
    });
  }

  /// The same update as expressions of a parameter p, its gradient g and its state (the mean
  /// square s, the momentum buffer b, the mean gradient ḡ), for compile_step's fused program:
  /// returns (p, s, b, ḡ) after the step, with the settings bound as the scalar leaves
  /// fused_scalars to fused_values(t) (see adam::fused_update).
  static constexpr auto fused_scalars = std::tuple{
      input<"kobai.rmsprop.learning_rate">, input<"kobai.rmsprop.alpha">,        input<"kobai.rmsprop.rest">,
      input<"kobai.rmsprop.eps">,           input<"kobai.rmsprop.weight_decay">, input<"kobai.rmsprop.momentum">,
      input<"kobai.rmsprop.has_momentum">,  input<"kobai.rmsprop.centered">};
  template <class P, class G, class S, class B, class A>
  static constexpr auto fused_update(P p, G g, S square_avg, B momentum_buffer, A grad_avg) {
    const auto [rate, alpha, rest, eps, weight_decay, momentum, has_momentum, centered] = fused_scalars;
    const auto decayed = g + weight_decay * p;
    const auto s_next = alpha * square_avg + rest * decayed * decayed;
    const auto mean_next = where(centered, alpha * grad_avg + rest * decayed, grad_avg);
    const auto denominator = sqrt(where(centered, s_next - mean_next * mean_next, s_next)) + eps;
    const auto b_next = where(has_momentum, momentum * momentum_buffer + decayed / denominator, momentum_buffer);
    const auto p_next = where(has_momentum, p - rate * b_next, p - rate * decayed / denominator);
    return std::tuple{p_next, s_next, b_next, mean_next};
  }
  /// The values of fused_scalars at step t.
  [[nodiscard]] std::array<double, 8> fused_values(std::size_t /*t*/) const {
    return {options_.learning_rate,
            options_.alpha,
            1 - options_.alpha,
            options_.eps,
            options_.weight_decay,
            options_.momentum,
            options_.momentum > 0 ? 1.0 : 0.0,
            options_.centered ? 1.0 : 0.0};
  }

  [[nodiscard]] const rmsprop_options& options() const { return options_; }
  [[nodiscard]] double learning_rate() const { return options_.learning_rate; }
  /// What a learning-rate schedule sets (train/schedules.hpp).
  void set_learning_rate(double rate) { options_.learning_rate = rate; }
  /// "rmsprop" (checkpoints record it).
  [[nodiscard]] const char* name() const { return "rmsprop"; }

  /// The per-element state, named as in torch's state_dict (for checkpoints).
  static constexpr std::array<const char*, 3> state_names{"square_avg", "momentum_buffer", "grad_avg"};
  [[nodiscard]] detail::elementwise_state<3>& state() { return state_; }
  [[nodiscard]] const detail::elementwise_state<3>& state() const { return state_; }

 private:
  rmsprop_options options_;
  detail::elementwise_state<3> state_;  // the mean square, the momentum buffer, the mean gradient
};

}  // namespace kobai::train
