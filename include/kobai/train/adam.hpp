// Adam and AdamW with PyTorch's semantics (torch.optim.Adam, torch.optim.AdamW): bias-corrected
// moment estimates, AMSGrad, L2 weight decay (Adam) or decoupled weight decay (AdamW), for scalar
// and tensor parameters held by the caller.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <tuple>

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
