// The fourth layer of cpu::program (see cpu/nest_info.hpp): folds into double.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "kobai/core/simd.hpp"

#include "kobai/cpu/addressing.hpp"

namespace kobai::cpu {

/// Accumulators moved into double: local reductions' shadows rounded into their buffers, a task's
/// T accumulators folded into its double partials, and the tasks' partials folded in task order
/// (the same bits whichever thread ran a task).
template <class Key>
struct folds : addressing<Key> {
  using base = addressing<Key>;
  KOBAI_CPU_NEST_INFO_TYPES(base)
  KOBAI_CPU_LAYOUT_TYPES(base)
  KOBAI_CPU_ADDRESSING_TYPES(base)

  // The local reductions the loop entered at I completes, rounded from their shadows.
  template <class T, int I>
  static constexpr auto rounded_by = base::stored_if([](int r) {
    return base::template shadowed<T>(r) && base::plan.done[r] == I;
  });
  template <class T, int I>
  static void round_shadows(const call_state<T>& call, task_state<T>& task) {
    base::template for_each<rounded_by<T, I>>([&]<int R>() {
      const double* shadow = task.partial + call.partial_offset[R];
      T* rounded = base::buffer(call, task, R);
      for (std::size_t e = 0; e < call.size[R]; ++e) rounded[e] = static_cast<T>(shadow[e]);
    });
  }

  /// The global reductions the loop entered at I completes.
  template <int I>
  static constexpr auto completed_by = base::stored_if([](int r) { return base::template completes<I>(r); });

  // Moves a task's T accumulators of the reductions completed by loop I into its double partials:
  // during the loop those that every iteration adds to, at the end of the task all (a reduction
  // indexed by the loop's own class gets each element from one iteration only).
  template <int I, bool All>
  static constexpr auto flushed_by = base::stored_if([](int r) {
    return base::template completes<I>(r) && !base::accumulates_in_double(r) &&
           (All || ((base::plan.buffer_dims[static_cast<std::size_t>(r)] >> base::code(I).cls) & 1U) == 0);
  });
  template <class T, int I, bool All>
  static void flush(const call_state<T>& call, task_state<T>& task) {
    base::template for_each<flushed_by<I, All>>([&]<int R>() {
      using op = reducer<R>;
      T* fast = task.scratch + call.fast_offset[R];
      double* part = task.partial + call.partial_offset[R];
      for (std::size_t e = 0; e < call.size[R]; ++e) {
        part[e] = op::combine(part[e], static_cast<double>(fast[e]));
        fast[e] = static_cast<T>(op::identity);
      }
    });
  }

  // The partials of the reductions completed by loop I, folded over the tasks in order into the
  // call's results (double, and T for later loops).
  template <class T, int I>
  static void fold_tasks(call_state<T>& call, const double* base_d, std::size_t tasks) {
    base::template for_each<completed_by<I>>([&]<int R>() {
      using op = reducer<R>;
      double* total = call.final_d + call.final_offset[R];
      std::fill_n(total, call.size[R], op::identity);
      for (std::size_t k = 0; k < tasks; ++k) {
        const double* part = base_d + k * call.task_doubles + call.partial_offset[R];
        for (std::size_t e = 0; e < call.size[R]; ++e) total[e] = op::combine(total[e], part[e]);
      }
      T* copy = call.final_t + call.final_offset[R];
      for (std::size_t e = 0; e < call.size[R]; ++e) copy[e] = static_cast<T>(total[e]);
    });
  }
};

}  // namespace kobai::cpu
