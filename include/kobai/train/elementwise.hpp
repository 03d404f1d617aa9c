// What every host optimizer shares: the parameters (numbers or contiguous containers such as
// xt::xtensor) and their gradients walked element by element in double, with the per-element
// state (momentum, moment estimates) the optimizer owns, zero before the first step.
#pragma once

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kobai/core/error.hpp"
#include "kobai/core/text.hpp"

namespace kobai::train::detail {

template <std::size_t Slots>  // doubles of state per element
class elementwise_state {
 public:
  /// Starts a step and calls update(value, gradient, state) for every element of every parameter:
  /// value is the element in double (written back after), state its Slots doubles.
  template <class Update, class... Parameters, class... Gradients>
  void for_each(const char* optimizer, std::tuple<Parameters&...> parameters, const std::tuple<Gradients...>& gradients,
                Update&& update) {
    static_assert(sizeof...(Parameters) == sizeof...(Gradients),
                  "kobai::train: an optimizer's step takes one gradient per parameter, in the same order");
    if (state_.empty()) state_.resize(sizeof...(Parameters));
    if (state_.size() != sizeof...(Parameters))
      throw error(kobai::detail::join("kobai::train::", optimizer, ": step was called with ",
                                      std::to_string(state_.size()), " parameters before and ",
                                      std::to_string(sizeof...(Parameters)),
                                      " now; call it with the same parameters every time"));
    ++steps_;
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (visit(optimizer, std::get<K>(parameters), std::get<K>(gradients), state_[K], K, update), ...);
    }
    (std::index_sequence_for<Parameters...>{});
  }

  /// Steps started so far (the current one included, inside for_each).
  [[nodiscard]] std::size_t steps() const { return steps_; }

  /// The state of parameter k, Slots doubles per element interleaved (empty before its first step),
  /// for checkpoints: read after steps, written with restore() before the next.
  [[nodiscard]] const std::vector<double>& of(std::size_t k) const {
    static const std::vector<double> none;
    return k < state_.size() ? state_[k] : none;
  }
  /// Sets the step count and every parameter's state (each Slots doubles per element, or empty).
  void restore(std::size_t steps, std::vector<std::vector<double>> state) {
    steps_ = steps;
    state_ = std::move(state);
  }

 private:
  template <class Parameter, class Gradient, class Update>
  static void visit(const char* optimizer, Parameter& parameter, const Gradient& gradient, std::vector<double>& state,
                    std::size_t index, Update& update) {
    if constexpr (std::is_arithmetic_v<Parameter>) {
      static_assert(std::is_arithmetic_v<std::remove_cvref_t<Gradient>>,
                    "kobai::train: a number parameter's gradient is a number");
      if (state.empty()) state.resize(Slots);
      double value = static_cast<double>(parameter);
      update(value, static_cast<double>(gradient), state.data());
      parameter = static_cast<Parameter>(value);
    } else {
      const std::size_t size = parameter.size();
      if (gradient.size() != size)
        throw shape_error(kobai::detail::join("kobai::train::", optimizer, ": parameter ", std::to_string(index),
                                              " has ", std::to_string(size), " elements but its gradient has ",
                                              std::to_string(gradient.size())));
      if (state.empty()) state.resize(Slots * size);
      if (state.size() != Slots * size)
        throw shape_error(kobai::detail::join("kobai::train::", optimizer, ": parameter ", std::to_string(index),
                                              " had ", std::to_string(state.size() / (Slots == 0 ? 1 : Slots)),
                                              " elements at the first step and has ", std::to_string(size), " now"));
      auto* values = parameter.data();
      const auto* grads = gradient.data();
      for (std::size_t i = 0; i < size; ++i) {
        double value = static_cast<double>(values[i]);
        update(value, static_cast<double>(grads[i]), state.data() + Slots * i);
        values[i] = static_cast<std::remove_reference_t<decltype(values[i])>>(value);
      }
    }
  }

  std::vector<std::vector<double>> state_;
  std::size_t steps_ = 0;
};

/// Throws kobai::error naming the optimizer and the setting unless `valid`.
inline void require(bool valid, const char* optimizer, const char* what) {
  if (!valid) throw error(kobai::detail::join("kobai::train::", optimizer, ": ", what));
}

}  // namespace kobai::train::detail
