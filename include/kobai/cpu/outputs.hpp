// The seventh layer of cpu::program (see cpu/nest_info.hpp): outputs.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <tuple>
#include <type_traits>
#include <vector>

#include "kobai/core/simd.hpp"

#include "kobai/cpu/tasks.hpp"

namespace kobai::cpu {

/// A call from bound outputs to written results: the outputs' memory, the run, and the outputs no
/// loop stores (scalars, leaves, constants, global reductions in the output's axis order).
template <class Key>
struct outputs : tasks<Key> {
  using base = tasks<Key>;
  KOBAI_CPU_NEST_INFO_TYPES(base)
  KOBAI_CPU_LAYOUT_TYPES(base)
  KOBAI_CPU_ADDRESSING_TYPES(base)
  KOBAI_CPU_INTERPRETER_TYPES(base)

  template <class T, class Point, class Results>
  void run(call_state<T>& call, const Point& point, Results& results) const {
    [&]<std::size_t... K>(std::index_sequence<K...>) {
      (
          [&] {
            using output = typename base::outputs_list::template at<K>;
            if constexpr (output::rank > 0) {
              auto& target = std::get<K>(results);
              call.out[K] = target.data();
              std::ptrdiff_t stride = 1;
              for (int p = output::rank - 1; p >= 0; --p) {
                call.out_stride[K][static_cast<std::size_t>(p)] = stride;
                stride *= static_cast<std::ptrdiff_t>(target.shape()[static_cast<std::size_t>(p)]);
              }
            }
          }(),
          ...);
    }
    (std::make_index_sequence<base::output_count>{});
    auto& final_t = base::template scratch<T, 2>();  // folded results of the global reductions
    auto& final_d = base::template scratch<double, 3>();
    if (final_t.size() < call.final_size) final_t.resize(call.final_size);
    if (final_d.size() < call.final_size) final_d.resize(call.final_size);
    call.final_t = final_t.data();
    T* views = base::line_aligned(base::template scratch<T, 5>(), call.view_size);
    for (std::size_t n = 0; n < base::nodes; ++n) {
      if (base::info(static_cast<int>(n)).k != ir::kind::view) continue;
      if (call.view_data[n] == nullptr)
        call.view_data[n] = base::in_output(static_cast<int>(n)) ? call.out[base::output_slot(static_cast<int>(n))]
                                                                 : views + call.view_scratch[n];
      if (call.source_data[n] == nullptr)
        call.source_data[n] =
            base::info(static_cast<int>(n)).indirect ? views + call.source_scratch[n] : call.view_data[n];
    }
    call.final_d = final_d.data();
    base::template run_top<T, 0>(call);
    [&]<std::size_t... K>(std::index_sequence<K...>) { (write_output<K>(call, point, std::get<K>(results)), ...); }
    (std::make_index_sequence<base::output_count>{});
  }

  // Outputs not stored by a loop: scalars, leaves, constants and global reductions.
  template <std::size_t K, class T, class Point, class Target>
  static void write_output(const call_state<T>& call, const Point& point, Target& target) {
    using output = typename base::outputs_list::template at<K>;
    constexpr int n = base::output_node[K];
    constexpr ir::kind k = base::info(n).k;
    if constexpr (ir::written(base::plan, n)) {
      if constexpr (output::rank == 0)  // a view of one element (select of a vector): its memory
        target = call.view_data[n][0];
      else if constexpr (base::output_slot(n) != K)  // the same expression asked for twice: copy the first
        std::copy_n(call.out[base::output_slot(n)], target.size(), target.data());
    } else if constexpr (output::rank == 0 || base::classes_of(n) == 0) {
      const double value = ir::scalar_output<output, k>(
          point, [&] { return call.final_d[call.final_offset[n]]; },
          [&] { return call.root[static_cast<std::size_t>(ir::root_instruction(base::plan, n))]; });
      if constexpr (output::rank == 0)
        target = static_cast<T>(value);
      else
        std::fill(target.begin(), target.end(), static_cast<T>(value));
    } else if constexpr (k == ir::kind::tensor_leaf) {
      std::copy_n(call.leaf[n], target.size(), target.data());
    } else {  // a global reduction: its folded buffer, in the output's axis order
      ir::to_axis_order(base::plan, n, call.stride[n], call.final_t + call.final_offset[n], target.data(),
                        base::template output_shape<output>(call));
    }
  }
};

}  // namespace kobai::cpu
