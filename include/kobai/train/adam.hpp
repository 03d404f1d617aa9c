// Adam and AdamW with PyTorch's semantics (torch.optim.Adam, torch.optim.AdamW): bias-corrected
// moment estimates, AMSGrad, L2 weight decay (Adam) or decoupled weight decay (AdamW), for scalar
// and tensor parameters held by the caller.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <tuple>

#include "kobai/expr/math.hpp"
#include "kobai/expr/operators.hpp"
#include "kobai/train/elementwise.hpp"

namespace kobai::train {

/// The settings of torch.optim.Adam, with the same names (learning_rate for lr) and defaults.
struct adam_options {
  double learning_rate = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
};

/// The settings of torch.optim.AdamW: Adam's, with decoupled weight decay 0.01 by default.
struct adamw_options {
  double learning_rate = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

namespace detail {

/// Adam's update, per element at step t (PyTorch's algorithm):
///   p ← p·(1 − lr·λ) (AdamW) or g ← g + λ·p (Adam);
///   m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  v̂ ← max(v̂, v) (AMSGrad) or v;
///   p ← p − lr/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε).
class adam_update {
 public:
  template <class... Parameters, class... Gradients>
  void step(std::tuple<Parameters&...> parameters, const std::tuple<Gradients...>& gradients) {
    const auto t = static_cast<double>(state_.steps() + 1);
    const double beta1 = options_.betas[0],
                 beta2 = options_.betas[1];  // (no structured bindings: Clang 14 cannot capture them)
    const double step_size = options_.learning_rate / (1 - std::pow(beta1, t));
    const double correction2 = std::sqrt(1 - std::pow(beta2, t));
    const double decay = options_.weight_decay, rate = options_.learning_rate, eps = options_.eps;
    const bool decoupled = decoupled_, amsgrad = options_.amsgrad;
    state_.for_each(name_, parameters, gradients, [=](auto& value, auto g, auto& moments) {
      using std::max, std::sqrt;  // (xsimd's for batches)
      if (decoupled)
        value *= 1 - rate * decay;
      else
        g += decay * value;
      auto& m = moments[0];
      auto& v = moments[1];
      m = beta1 * m + (1 - beta1) * g;
      v = beta2 * v + (1 - beta2) * g * g;
      if (amsgrad) moments[2] = max(moments[2], v);
      value -= step_size * m / (sqrt(amsgrad ? moments[2] : v) / correction2 + eps);
    });
  }

  /// The same update as expressions of a parameter p, its gradient g and its state (m, v, v̂),
  /// for compile_step, which fuses it into the step's program: returns (p, m, v, v̂) after the step.
  /// The settings are the scalar leaves fused_scalars, bound at step t to fused_values(t), so that
  /// one compiled program serves Adam and AdamW, with and without AMSGrad, at every learning rate.
  static constexpr auto fused_scalars =
      std::tuple{input<"kobai.adam.l2">,      input<"kobai.adam.keep">,      input<"kobai.adam.beta1">,
                 input<"kobai.adam.rest1">,   input<"kobai.adam.beta2">,     input<"kobai.adam.rest2">,
                 input<"kobai.adam.amsgrad">, input<"kobai.adam.step_size">, input<"kobai.adam.correction2">,
                 input<"kobai.adam.eps">};
  template <class P, class G, class M, class V, class Vmax>
  static constexpr auto fused_update(P p, G g, M m, V v, Vmax v_max) {
    const auto [l2, keep, beta1, rest1, beta2, rest2, amsgrad, step_size, correction2, eps] = fused_scalars;
    const auto decayed = g + l2 * p;
    const auto m_next = beta1 * m + rest1 * decayed;
    const auto v_next = beta2 * v + rest2 * decayed * decayed;
    const auto v_max_next = where(amsgrad, max(v_max, v_next), v_max);
    const auto p_next = p * keep - step_size * m_next / (sqrt(where(amsgrad, v_max_next, v_next)) / correction2 + eps);
    return std::tuple{p_next, m_next, v_next, v_max_next};
  }
  /// The values of fused_scalars at step t (1 for the first), computed in double as step() does.
  [[nodiscard]] std::array<double, 10> fused_values(std::size_t t) const {
    const double beta1 = options_.betas[0], beta2 = options_.betas[1], rate = options_.learning_rate;
    const auto step = static_cast<double>(t);
    return {decoupled_ ? 0 : options_.weight_decay,
            decoupled_ ? 1 - rate * options_.weight_decay : 1,
            beta1,
            1 - beta1,
            beta2,
            1 - beta2,
            options_.amsgrad ? 1.0 : 0.0,
            rate / (1 - std::pow(beta1, step)),
            std::sqrt(1 - std::pow(beta2, step)),
            options_.eps};
  }

  [[nodiscard]] double learning_rate() const { return options_.learning_rate; }
  /// What a learning-rate schedule sets (train/schedules.hpp).
  void set_learning_rate(double rate) { options_.learning_rate = rate; }
  /// "adam" or "adamw" (checkpoints record it).
  [[nodiscard]] const char* name() const { return name_; }

  /// The per-element state, named as in torch's state_dict (for checkpoints).
  static constexpr std::array<const char*, 3> state_names{"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  [[nodiscard]] elementwise_state<3>& state() { return state_; }
  [[nodiscard]] const elementwise_state<3>& state() const { return state_; }

 protected:
  adam_update(adam_options options, bool decoupled, const char* name)
      : options_(options), decoupled_(decoupled), name_(name) {
    require(options.learning_rate >= 0, name, "learning_rate must not be negative");
    require(options.eps >= 0, name, "eps must not be negative");
    require(options.betas[0] >= 0 && options.betas[0] < 1 && options.betas[1] >= 0 && options.betas[1] < 1, name,
            "betas must lie in [0, 1)");
    require(options.weight_decay >= 0, name, "weight_decay must not be negative");
  }
  adam_options options_;

 private:
  bool decoupled_;
  const char* name_;
  elementwise_state<3> state_;  // m, v and AMSGrad's max of v
};

}  // namespace detail

/// torch.optim.Adam: `kobai::train::adam opt({.learning_rate = 1e-3}); opt.step(std::tie(W, b), std::tie(dW, db));`
class adam : public detail::adam_update {
 public:
  explicit adam(adam_options options = {}) : adam_update(options, false, "adam") {}
  [[nodiscard]] const adam_options& options() const { return options_; }
};

/// torch.optim.AdamW: Adam with the weight decay applied to the parameters, not added to the gradient.
class adamw : public detail::adam_update {
 public:
  explicit adamw(adamw_options options = {})
      : adam_update({options.learning_rate, options.betas, options.eps, options.weight_decay, options.amsgrad}, true,
                    "adamw") {}
  [[nodiscard]] adamw_options options() const {
    return {options_.learning_rate, options_.betas, options_.eps, options_.weight_decay, options_.amsgrad};
  }
};

}  // namespace kobai::train
