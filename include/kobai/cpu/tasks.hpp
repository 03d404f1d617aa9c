// The sixth layer of cpu::program (see cpu/nest_info.hpp): top-level loops as tasks.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "kobai/core/simd.hpp"

#include "kobai/cpu/interpreter.hpp"
#include "kobai/cpu/thread_pool.hpp"

namespace kobai::cpu {

/// The top level: values outside every loop, and each top-level loop split into chunks run as
/// tasks on the thread pool, with `threads` and `grain` set by the program.
template <class Key>
struct tasks : interpreter<Key> {
  using base = interpreter<Key>;
  KOBAI_CPU_NEST_INFO_TYPES(base)
  KOBAI_CPU_LAYOUT_TYPES(base)
  KOBAI_CPU_ADDRESSING_TYPES(base)
  KOBAI_CPU_INTERPRETER_TYPES(base)

  /// Most tasks a loop is split into.
  static constexpr std::size_t max_tasks = 64;
  /// Fewest element visits worth a task of their own, by default.
  static constexpr std::size_t min_elements_per_task = 1 << 17;
  /// Longest innermost loop with which a top-level loop still runs its rows in blocks, by default.
  static constexpr std::size_t block_extent = 1024;
  unsigned threads_ = 0;
  std::size_t grain_ = min_elements_per_task;
  std::size_t block_extent_ = block_extent;

  // take and slice fill their memory with the table's slices at the indices; put_add and unslice
  // zero theirs and add the slices at the indices, in order (the same bits for any number of
  // threads). Memory as ir::slicing_of lays it out.
  template <class T, int V>
  static void fill_indirect(const call_state<T>& call) {
    constexpr ir::node_info info = base::info(V);
    const ir::slicing s =
        ir::slicing_of(plan_type::nodes, V, [&](int n, int p) { return base::extent_of(call, n, p); });
    const T* index = info.first == -1 ? call.leaf[static_cast<std::size_t>(info.args[1])] : nullptr;
    const T* from = call.source_data[V];
    T* to = call.view_data[V];
    if constexpr (info.scatters) std::fill_n(to, s.outer * s.length * s.inner, T(0));
    for (std::size_t o = 0; o < s.outer; ++o)
      for (std::size_t k = 0; k < s.count; ++k) {
        const std::size_t at = index ? static_cast<std::size_t>(index[k]) : s.offset + k;
        if constexpr (info.scatters) {
          const T* slice = from + (o * s.count + k) * s.inner;
          T* target = to + (o * s.length + at) * s.inner;
          for (std::size_t i = 0; i < s.inner; ++i) target[i] += slice[i];
        } else {
          std::copy_n(from + (o * s.length + at) * s.inner, s.inner, to + (o * s.count + k) * s.inner);
        }
      }
  }

  // The instructions outside every loop in order: values in root mode, and each top-level loop.
  template <class T, int I>
  void run_top(call_state<T>& call) const {
    if constexpr (I < static_cast<int>(base::code_size)) {
      constexpr ir::instruction ins = base::code(I);
      const access<T> root{call, nullptr};
      if constexpr (ins.op == ir::instr::compute) {
        call.root[I] = base::template compute<mode::root, I, -1>(root);
        run_top<T, I + 1>(call);
      } else if constexpr (ins.op == ir::instr::enter) {
        run_top_loop<T, I>(call);
        run_top<T, ins.match + 1>(call);
      } else if constexpr (ins.op == ir::instr::materialize) {  // a source without axes: one element
        call.source_data[ins.node][0] = base::template operand<mode::root, ins.operands[0], -1>(root);
        run_top<T, I + 1>(call);
      } else if constexpr (ins.op == ir::instr::indirect) {  // take, put_add: between loops, in order
        fill_indirect<T, ins.node>(call);
        run_top<T, I + 1>(call);
      } else {
        run_top<T, I + 1>(call);  // resets of global reductions happen in each task
      }
    }
  }

  // Whether the top-level loop entered at I runs its rows in blocks: it has inner loops, none of
  // its innermost loops is longer than `block_extent_` (long inner loops run row by row, with SIMD
  // along them), and either it folds reductions of its rows or its inner loops are short (a map
  // over long contiguous rows gains nothing from blocks and pays for reading its leaves across rows).
  template <class T, int I>
  bool blocked(const call_state<T>& call) const {
    if constexpr (!base::block_capable(I)) {
      return false;
    } else {
      // (the row-reduction question answered once, at compile time, not on every call)
      constexpr std::size_t short_map =
          base::reduces_rows(I) ? std::numeric_limits<std::size_t>::max() : 4 * detail::batch<T>::size;
      const std::size_t longest = std::min(block_extent_, short_map);
      for (int i = I + 1; i < base::code(I).match; ++i)
        if (base::code(i).op == ir::instr::enter && base::innermost(i) &&
            call.extent[static_cast<std::size_t>(base::code(i).cls)] > longest)
          return false;
      return true;
    }
  }

  template <class T, int I>
  void run_top_loop(call_state<T>& call) const {
    constexpr ir::instruction ins = base::code(I);
    const auto extent = static_cast<std::ptrdiff_t>(call.extent[ins.cls]);
    const bool blocks = blocked<T, I>(call);
    // Element visits per iteration: every instruction of the body, once per iteration of the inner
    // loops around it, so that the work of a whole row (not the row count alone) decides whether a
    // task of its own pays.
    std::size_t work = 0, visits = 1;
    std::array<std::size_t, ir::max_classes + 1> outer{};
    for (int i = I + 1; i < ins.match; ++i) {
      const ir::instruction& step = base::code(i);
      if (step.op == ir::instr::enter) {
        outer[static_cast<std::size_t>(step.depth)] = visits;
        visits *= std::max<std::size_t>(call.extent[static_cast<std::size_t>(step.cls)], 1);
      } else if (step.op == ir::instr::exit) {
        visits = outer[static_cast<std::size_t>(step.depth)];
      } else {
        work += visits;
      }
    }
    // (tasks start at multiples of `width` rows: no more tasks than runs of `width` rows, for a
    // task would get no rows, or a partial block costing as much as a whole one)
    const auto width = static_cast<std::ptrdiff_t>(base::innermost(I) ? detail::batch<T>::size
                                                   : blocks           ? base::template block_rows<T>
                                                                      : 1);
    const std::size_t wanted = threads_ == 0 ? cpu::thread_pool::instance().size() : threads_;
    const std::size_t task_count = std::clamp<std::size_t>(
        std::min({wanted, static_cast<std::size_t>(extent) * std::max<std::size_t>(work, 1) / grain_,
                  static_cast<std::size_t>((extent + width - 1) / width)}),
        1, max_tasks);
    const std::ptrdiff_t chunk = (extent / static_cast<std::ptrdiff_t>(task_count) + width - 1) / width * width;
    T* base_t = base::line_aligned(base::template scratch<T, 0>(), task_count * call.task_elements);
    double* base_d = base::line_aligned(base::template scratch<double, 1>(), task_count * call.task_doubles);
    // block mode: local buffers, the values of a block and a nest's packed values, per task
    const std::size_t block_values = base::max_value_slots * base::template block_rows<T>;
    const std::size_t transposed = blocks ? base::template transposed_size<T, I>(call) : 0;
    const std::size_t block_t = call.task_block_t + block_values + call.task_pack + transposed;
    T* base_block_t = base::line_aligned(base::template scratch<T, 6>(), blocks ? task_count * block_t : 0);
    double* base_block_d =
        base::line_aligned(base::template scratch<double, 7>(), blocks ? task_count * call.task_block_d : 0);
    auto run_task = [&](std::size_t k) {
      task_state<T> task;
      task.scratch = base_t + k * call.task_elements;
      task.partial = base_d + k * call.task_doubles;
      task.block_t = base_block_t + k * block_t;
      task.pack = task.block_t + call.task_block_t + block_values;
      if (blocks) base::template assign_transposed<T, I>(call, task, task.pack + call.task_pack);
      task.block_d = base_block_d + k * call.task_block_d;
      base::template for_each<base::template completed_by<I>>([&]<int R>() {
        using op = reducer<R>;
        std::fill_n(base::buffer(call, task, R), call.size[R], static_cast<T>(op::identity));
        std::fill_n(task.partial + call.partial_offset[R], call.size[R], op::identity);
      });
      const std::ptrdiff_t begin = std::min(extent, static_cast<std::ptrdiff_t>(k) * chunk);
      const std::ptrdiff_t end = k + 1 == task_count ? extent : std::min(extent, begin + chunk);
      // (rows between the moves of T accumulators into double: 16 blocks of rows in block mode)
      const std::ptrdiff_t block = base::innermost(I) ? std::numeric_limits<std::ptrdiff_t>::max() / 2
                                   : blocks           ? 16 * width
                                                      : 512;
      for (std::ptrdiff_t i = begin; i < end; i += block) {
        if constexpr (base::block_capable(I)) {
          if (blocks) {
            base::template run_blocks<T, I>(call, task, i, std::min(end, i + block),
                                            reinterpret_cast<detail::batch<T>*>(task.block_t + call.task_block_t));
          } else {
            base::template run_loop<T, I>(call, task, i, std::min(end, i + block));
          }
        } else {
          base::template run_loop<T, I>(call, task, i, std::min(end, i + block));
        }
        base::template flush<T, I, false>(call, task);
      }
      base::template flush<T, I, true>(call, task);
    };
    if (task_count == 1)
      run_task(0);
    else
      cpu::thread_pool::instance().run(task_count, run_task);
    base::template fold_tasks<T, I>(call, base_d, task_count);
  }
};

}  // namespace kobai::cpu
