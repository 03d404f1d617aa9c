// What every host optimizer shares: the parameters (numbers or contiguous containers such as
// xt::xtensor) and their gradients walked element by element in double, with the per-element
// state (momentum, moment estimates) the optimizer owns, zero before the first step. The state is
// slot-major (all of a parameter's first moments, then all its second ones, …), so that the walk
// over a parameter is unit-stride in every array and the compiler vectorises it.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kobai/core/error.hpp"
#include "kobai/core/simd.hpp"
#include "kobai/core/text.hpp"

namespace kobai::train::detail {

template <std::size_t Slots>  // doubles of state per element
class elementwise_state {
 public:
  /// Starts a step and calls update(value, gradient, state) for every element of every parameter:
  /// value and gradient are the element in double, state a std::array of its Slots doubles (value
  /// and state are written back after). Runs of elements come as SIMD batches of doubles instead
  /// (xsimd::batch<double>, the same arithmetic lane by lane), so an update is written once for
  /// both: `using std::sqrt; sqrt(v)`, not std::sqrt(v).
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

  /// The state of parameter k, slot-major: slot s of element i at s·size + i (empty before its first
  /// step), for checkpoints: read after steps, written with restore() before the next.
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
      walk(&parameter, &gradient, 1, state.data(), update);  // (a number is a parameter of one element)
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
      walk(parameter.data(), gradient.data(), size, state.data(), update);
    }
  }

  // The update of `size` elements and their slot-major state (slot k of element i at first[k·size + i]).
  template <class Value, class Grad, class Update>
  static void walk(Value* values, const Grad* grads, std::size_t size, double* first, Update& update) {
    using batch = xsimd::batch<double>;
    // (in chunks converted to double first: a converting SIMD load costs more than the update)
    constexpr std::size_t chunk = 256;
    alignas(64) std::array<double, chunk> value_in, gradient_in;
    for (std::size_t begin = 0; begin < size; begin += chunk) {
      const std::size_t n = std::min(chunk, size - begin);
      for (std::size_t i = 0; i < n; ++i) {
        value_in[i] = static_cast<double>(values[begin + i]);
        gradient_in[i] = static_cast<double>(grads[begin + i]);
      }
      double* const at = first + begin;
      std::size_t i = 0;
      for (; i + batch::size <= n; i += batch::size) {
        auto value = batch::load_aligned(value_in.data() + i);
        std::array<batch, Slots> slots;
        for (std::size_t k = 0; k < Slots; ++k) slots[k] = batch::load_unaligned(at + k * size + i);
        update(value, batch::load_aligned(gradient_in.data() + i), slots);
        for (std::size_t k = 0; k < Slots; ++k) slots[k].store_unaligned(at + k * size + i);
        value.store_aligned(value_in.data() + i);
      }
      for (; i < n; ++i) {
        std::array<double, Slots> slots;
        for (std::size_t k = 0; k < Slots; ++k) slots[k] = at[k * size + i];
        update(value_in[i], gradient_in[i], slots);
        for (std::size_t k = 0; k < Slots; ++k) at[k * size + i] = slots[k];
      }
      for (std::size_t j = 0; j < n; ++j) values[begin + j] = static_cast<Value>(value_in[j]);
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
