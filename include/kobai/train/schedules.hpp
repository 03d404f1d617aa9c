// Learning-rate schedules with PyTorch's closed-form formulas (torch.optim.lr_scheduler): StepLR,
// ExponentialLR, CosineAnnealingLR and LinearLR (the linear warm-up). Each holds an optimizer
// (train::sgd, adam, adamw, rmsprop, or anything with learning_rate() and set_learning_rate),
// takes its learning rate at construction as the base, sets the rate of epoch 0 at once and the
// rate of each next epoch on step(), as torch's schedulers do:
//   kobai::train::cosine_annealing_lr schedule(optimizer, {.t_max = 100});
//   for (epoch …) { …optimizer.step(…)…; schedule.step(); }
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <numbers>
#include <utility>

#include "kobai/train/elementwise.hpp"

namespace kobai::train {

template <class Optimizer>
concept schedulable = requires(Optimizer& o, double rate) {
  { o.learning_rate() } -> std::convertible_to<double>;
  o.set_learning_rate(rate);
};

namespace detail {

/// A schedule: the rate of each epoch, from the base rate by Rule's formula (Rule: the options
/// struct, with `rate(epoch, base)` and `check()`), set on the optimizer.
template <schedulable Optimizer, class Rule>
class schedule {
 public:
  schedule(Optimizer& optimizer, Rule rule)
      : optimizer_(&optimizer), rule_((rule.check(), rule)), base_(optimizer.learning_rate()) {
    optimizer_->set_learning_rate(rule_.rate(0, base_));
  }
  /// Moves to the next epoch and sets its rate.
  void step() { optimizer_->set_learning_rate(rule_.rate(++epoch_, base_)); }
  /// The epoch whose rate is set (0 before the first step()).
  [[nodiscard]] std::size_t last_epoch() const { return epoch_; }
  /// The rate set now.
  [[nodiscard]] double last_lr() const { return optimizer_->learning_rate(); }
  /// The rate the optimizer had when the schedule was made.
  [[nodiscard]] double base_lr() const { return base_; }

 private:
  Optimizer* optimizer_;
  Rule rule_;
  double base_;
  std::size_t epoch_ = 0;
};

}  // namespace detail

/// torch.optim.lr_scheduler.StepLR: base·gamma^⌊epoch / step_size⌋.
struct step_lr_options {
  std::size_t step_size = 1;
  double gamma = 0.1;
  void check() const { detail::require(step_size > 0, "step_lr", "step_size must be at least 1"); }
  [[nodiscard]] double rate(std::size_t epoch, double base) const {
    return base * std::pow(gamma, static_cast<double>(epoch / step_size));
  }
};

/// torch.optim.lr_scheduler.ExponentialLR: base·gamma^epoch.
struct exponential_lr_options {
  double gamma = 0.9;
  void check() const {}
  [[nodiscard]] double rate(std::size_t epoch, double base) const {
    return base * std::pow(gamma, static_cast<double>(epoch));
  }
};

/// torch.optim.lr_scheduler.CosineAnnealingLR (its closed form, SGDR without restarts):
/// eta_min + (base − eta_min)·(1 + cos(π·epoch / t_max)) / 2.
struct cosine_annealing_lr_options {
  std::size_t t_max = 1;
  double eta_min = 0;
  void check() const { detail::require(t_max > 0, "cosine_annealing_lr", "t_max must be at least 1"); }
  [[nodiscard]] double rate(std::size_t epoch, double base) const {
    const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max);
    return eta_min + (base - eta_min) * (1 + std::cos(phase)) / 2;
  }
};

/// torch.optim.lr_scheduler.LinearLR, the linear warm-up: base times a factor going linearly from
/// start_factor to end_factor over total_iters epochs, then staying at end_factor.
struct linear_lr_options {
  double start_factor = 1.0 / 3;
  double end_factor = 1.0;
  std::size_t total_iters = 5;
  void check() const {
    detail::require(start_factor > 0 && start_factor <= 1 && end_factor >= 0 && end_factor <= 1, "linear_lr",
                    "start_factor must lie in (0, 1] and end_factor in [0, 1]");
  }
  [[nodiscard]] double rate(std::size_t epoch, double base) const {
    const double done =
        total_iters == 0 ? 1.0 : static_cast<double>(std::min(epoch, total_iters)) / static_cast<double>(total_iters);
    return base * (start_factor + (end_factor - start_factor) * done);
  }
};

/// torch.optim.lr_scheduler.SequentialLR of two schedules: `first` up to epoch `milestone`, then
/// `second` counted from 0 (a linear warm-up, then cosine annealing). Made by train::sequence.
template <class First, class Second>
struct sequential_lr_options {
  First first;
  std::size_t milestone;
  Second second;
  void check() const {
    first.check();
    second.check();
    detail::require(milestone > 0, "sequential_lr", "the milestone must be at least 1");
  }
  [[nodiscard]] double rate(std::size_t epoch, double base) const {
    return epoch < milestone ? first.rate(epoch, base) : second.rate(epoch - milestone, base);
  }
};
/// `first` for epochs [0, milestone), then `second`: sequence(linear_lr_options{…}, 5, cosine_annealing_lr_options{…}).
template <class First, class Second>
sequential_lr_options<First, Second> sequence(First first, std::size_t milestone, Second second) {
  return {first, milestone, second};
}

// The schedules by torch's names: `kobai::train::step_lr schedule(optimizer, {.step_size = 30});`
template <schedulable Optimizer>
struct step_lr : detail::schedule<Optimizer, step_lr_options> {
  using detail::schedule<Optimizer, step_lr_options>::schedule;
};
template <class Optimizer>
step_lr(Optimizer&, step_lr_options) -> step_lr<Optimizer>;
template <schedulable Optimizer>
struct exponential_lr : detail::schedule<Optimizer, exponential_lr_options> {
  using detail::schedule<Optimizer, exponential_lr_options>::schedule;
};
template <class Optimizer>
exponential_lr(Optimizer&, exponential_lr_options) -> exponential_lr<Optimizer>;
template <schedulable Optimizer>
struct cosine_annealing_lr : detail::schedule<Optimizer, cosine_annealing_lr_options> {
  using detail::schedule<Optimizer, cosine_annealing_lr_options>::schedule;
};
template <class Optimizer>
cosine_annealing_lr(Optimizer&, cosine_annealing_lr_options) -> cosine_annealing_lr<Optimizer>;
template <schedulable Optimizer>
struct linear_lr : detail::schedule<Optimizer, linear_lr_options> {
  using detail::schedule<Optimizer, linear_lr_options>::schedule;
};
template <class Optimizer>
linear_lr(Optimizer&, linear_lr_options) -> linear_lr<Optimizer>;

template <schedulable Optimizer, class First, class Second>
struct sequential_lr : detail::schedule<Optimizer, sequential_lr_options<First, Second>> {
  using detail::schedule<Optimizer, sequential_lr_options<First, Second>>::schedule;
};
template <class Optimizer, class First, class Second>
sequential_lr(Optimizer&, sequential_lr_options<First, Second>) -> sequential_lr<Optimizer, First, Second>;

}  // namespace kobai::train
